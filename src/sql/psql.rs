//! SQL text as psql reads it: what psql would act on itself instead of
//! sending it to the server, so that an offline script run through psql
//! sends exactly the SQL an online run sends.
//!
//! psql's lexer (psqlscan.l, and the psql manual: "Meta-Commands", "SQL
//! Interpolation") follows the server's quoting: inside single-quoted
//! strings (`'…'`, `E'…'` with backslash escapes, `U&'…'`, `B'…'`,
//! `X'…'`), quoted identifiers (`"…"`), dollar quotes (`$tag$…$tag$`) and
//! comments (`-- …`, nested `/* … */`) nothing is special. Outside them:
//!
//! - a backslash, anywhere on a line, starts a meta-command (`\! cmd` runs a
//!   shell command; `\\` separates SQL from a meta-command; `\;` and `\:`
//!   put a literal `;` or `:` into the query). psql has no way to pass a
//!   backslash outside quotes on to the server, and the server would reject
//!   it as a syntax error anyway, so such SQL is refused ([`PsqlCommand`]);
//! - `:name`, `:'name'`, `:"name"` and `:{?name}` are replaced by psql
//!   variables when set (psql sets `USER`, `DBNAME`, `HOST`, … itself), but
//!   `\:` is a literal colon, so [`for_psql`] writes exactly those colons as
//!   `\:` and psql sends the text unchanged. `::` (a cast) is left alone.
//!
//! Strings follow `standard_conforming_strings = on` (PostgreSQL's default
//! since 9.1): a backslash escapes only inside `E'…'`.

use std::borrow::Cow;

/// A backslash outside quotes and comments: psql would run it as a
/// meta-command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsqlCommand {
    /// 1-based line of the backslash in the SQL text.
    pub line: usize,
    /// The rest of that line from the backslash (e.g. `\! touch x`).
    pub text: String,
}

/// `sql` as psql must read it to send exactly `sql` to the server: every
/// colon that could start a psql variable reference is escaped (`\:`).
/// Borrowed when nothing needed escaping. Fails on a backslash outside
/// quotes and comments.
pub fn for_psql(sql: &str) -> Result<Cow<'_, str>, PsqlCommand> {
    let b = sql.as_bytes();
    let mut escape_at = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            b'\'' => {
                let escapes =
                    i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !is_ident_byte(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(b, i, b'"', false),
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => i = skip_dollar(sql, i),
            b'\\' => return Err(command_at(sql, i)),
            b':' if b.get(i + 1) == Some(&b':') => i += 2,
            b':' => {
                if b.get(i + 1).is_some_and(|&c| is_variable_start(c)) {
                    escape_at.push(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if escape_at.is_empty() {
        return Ok(Cow::Borrowed(sql));
    }
    let mut out = String::with_capacity(sql.len() + escape_at.len());
    let mut from = 0;
    for at in escape_at {
        out.push_str(&sql[from..at]);
        out.push('\\');
        from = at;
    }
    out.push_str(&sql[from..]);
    Ok(Cow::Owned(out))
}

/// What may follow `:` in a psql variable reference: a name (letters,
/// digits, `_`, any non-ASCII byte), `'name'`, `"name"` or `{?name}`.
fn is_variable_start(c: u8) -> bool {
    is_ident_byte(c) || matches!(c, b'\'' | b'"' | b'{')
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn command_at(sql: &str, at: usize) -> PsqlCommand {
    let line = sql[..at].matches('\n').count() + 1;
    let end = sql[at..].find('\n').map_or(sql.len(), |n| at + n);
    PsqlCommand {
        line,
        text: sql[at..end].trim_end().to_string(),
    }
}

/// Past the comment starting at `b[i..]` (`/*`); comments nest.
fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// Past the quoted text starting at `b[i]` (`quote`, doubled to include
/// it; with `escapes`, a backslash escapes the next byte).
fn skip_quoted(b: &[u8], mut i: usize, quote: u8, escapes: bool) -> usize {
    i += 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Past the dollar quote starting at `sql[i]` (`$tag$ … $tag$`, the tag
/// empty or an identifier not starting with a digit); just past the `$`
/// when it starts none (`$1`).
fn skip_dollar(sql: &str, i: usize) -> usize {
    let b = sql.as_bytes();
    let mut j = i + 1;
    while j < b.len() && is_ident_byte(b[j]) {
        j += 1;
    }
    let is_tag = j < b.len() && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit());
    if !is_tag {
        return i + 1;
    }
    let tag = &sql[i..=j];
    match sql[j + 1..].find(tag) {
        Some(end) => j + 1 + end + tag.len(),
        None => b.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_commented_text_is_left_alone() {
        for sql in [
            "select 1; -- \\! touch x :'USER'\nselect 2",
            "/* \\! x /* nested :USER */ \\q */ select 1",
            "select $$ \\! x :'USER' $$, $body$ :x $body$",
            "select 'a \\! :USER', \"b\\ :c\", E'd\\' \\! :e', U&'\\0041'",
            "select 'a\\', x::text, y ::int, arr[1 : 2]",
            "select $1, $2::int",
        ] {
            assert_eq!(for_psql(sql), Ok(Cow::Borrowed(sql)), "{sql}");
        }
    }

    #[test]
    fn colons_psql_could_interpolate_are_escaped() {
        assert_eq!(
            for_psql("select :'USER', :\"DBNAME\", :HOST, :{?x}, arr[1:n]").unwrap(),
            "select \\:'USER', \\:\"DBNAME\", \\:HOST, \\:{?x}, arr[1\\:n]"
        );
        assert_eq!(for_psql("select a:::b").unwrap(), "select a::\\:b");
    }

    #[test]
    fn backslashes_outside_quotes_are_refused_with_their_line() {
        assert_eq!(
            for_psql("select 1;\nselect 2; \\! touch /tmp/x  \nselect 3"),
            Err(PsqlCommand {
                line: 2,
                text: "\\! touch /tmp/x".to_string()
            })
        );
        assert_eq!(for_psql("select 'a\\'; \\q").unwrap_err().text, "\\q");
        assert_eq!(for_psql("select 1 \\\\ select 2").unwrap_err().line, 1);
        assert!(for_psql("select E'a\\'' \\; select 1").is_err());
    }
}
