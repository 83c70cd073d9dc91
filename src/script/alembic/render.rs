//! Writing Alembic revision files: Python `repr()`s of the header values,
//! the docstring, and Alembic's default `script.py.mako` layout; and the
//! file-name slug of a message.

/// Python's `repr()` of a str.
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let v = c as u32;
                if v <= 0xff {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v <= 0xffff {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Alembic's `tuple_rev_as_scalar` then `repr`: None, 'a', or ('a', 'b').
fn repr_scalar_or_tuple(items: &[String]) -> String {
    match items {
        [] => "None".to_string(),
        [one] => py_repr(one),
        many => repr_tuple(many),
    }
}

fn repr_tuple(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    if inner.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

/// Escapes a message for the inside of a `"""` docstring so that Python's
/// `__doc__` gives the message back.
fn docstring_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    // The message is followed by a blank line in the template, so only a
    // `"""` inside it can end the docstring early.
    let needs_quote_escape = message.contains("\"\"\"");
    for c in message.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '"' if needs_quote_escape => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Python's `str(datetime)` of an aware UTC datetime, as Alembic writes
/// `Create Date` with `timezone = UTC`.
fn create_date(d: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    if d.nanosecond() / 1000 == 0 {
        d.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        format!(
            "{}.{:06}+00:00",
            d.format("%Y-%m-%d %H:%M:%S"),
            (d.nanosecond() % 1_000_000_000) / 1000
        )
    }
}

pub(crate) fn body_statement(sql: &str) -> String {
    if sql.trim().is_empty() {
        "pass".to_string()
    } else {
        format!("op.execute({})", py_repr(sql))
    }
}

/// Renders a new revision exactly as Alembic's default `script.py.mako`
/// does. Non-empty SQL becomes an `op.execute(...)` call.
pub fn render_alembic(rev: &crate::script::NewRevision) -> String {
    format!(
        r#""""{message}

Revision ID: {id}
Revises: {revises}
Create Date: {date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {id_repr}
down_revision: Union[str, Sequence[str], None] = {down}
branch_labels: Union[str, Sequence[str], None] = {labels}
depends_on: Union[str, Sequence[str], None] = {deps}


def upgrade() -> None:
    """Upgrade schema."""
    {upgrade}


def downgrade() -> None:
    """Downgrade schema."""
    {downgrade}
"#,
        message = docstring_text(&rev.message),
        id = rev.id,
        revises = rev.parents.join(", "),
        date = create_date(&rev.created),
        id_repr = py_repr(&rev.id),
        down = repr_scalar_or_tuple(&rev.parents),
        labels = if rev.branch_labels.is_empty() {
            "None".to_string()
        } else {
            repr_tuple(&rev.branch_labels)
        },
        deps = repr_scalar_or_tuple(&rev.depends_on),
        upgrade = body_statement(&rev.upgrade),
        downgrade = body_statement(&rev.downgrade),
    )
}

/// Alembic's file-name slug: `\w+` runs of the message joined by `_`,
/// lower-cased, cut to 40 characters at a word boundary.
pub(crate) fn slug(message: &str) -> String {
    slug_with(message, 40)
}

/// [`slug`] with Alembic's `truncate_slug_length` (0 means the default 40,
/// as Alembic's `truncate_slug_length or 40`).
pub(crate) fn slug_with(message: &str, max: usize) -> String {
    let max = if max == 0 { 40 } else { max };
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in message.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else if !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let slug = words.join("_").to_lowercase();
    if slug.chars().count() > max {
        let cut: String = slug.chars().take(max).collect();
        let head = match cut.rfind('_') {
            Some(i) => &cut[..i],
            None => &cut[..],
        };
        format!("{head}_")
    } else {
        slug
    }
}
