//! Alembic `versions/*.py` files, read statically (no Python is run), and
//! written in Alembic's default `script.py.mako` layout.
//!
//! The reader tokenizes the whole module the way Python does (strings of
//! every kind, comments, brackets, continuation lines), splits it into
//! logical statements, and evaluates only module-level assignments to
//! `revision`, `down_revision`, `branch_labels` and `depends_on` whose value
//! is a literal: `None`, a string (adjacent literals concatenate), or a
//! tuple or list of strings. The last assignment wins, as when Python runs
//! the module. The message is Alembic's `Script.longdoc`: the whole module
//! docstring, stripped (one-line output shows its first line, which is
//! that of Alembic's `Script.doc`, the docstring up to its first blank line;
//! `show` and `--verbose` print it all, as Alembic does).

mod file_name;
mod lex;
mod literal;
mod render;

use std::path::Path;

use super::LoadError;
use crate::graph::Revision;
use lex::{Lexer, Spanned, StrKind, Tok};
use literal::{literal, PyVal};

pub(crate) use file_name::file_name;
pub(crate) use render::body_statement as alembic_body;
pub use render::render_alembic;

/// Alembic's `Script.doc` of a revision read from a `.py` file (whose
/// message is the whole docstring, `Script.longdoc`): up to the first blank
/// line.
pub fn alembic_doc(longdoc: &str) -> &str {
    longdoc.split("\n\n").next().unwrap_or("")
}
pub(crate) use render::{slug, slug_with};

const FIELDS: [&str; 4] = ["revision", "down_revision", "branch_labels", "depends_on"];

/// Python's `str.isspace`, for `str.strip()`.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Normalizes line endings as Python's source reader does, and drops a BOM.
fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The header values found so far: `(line, value)` of the last assignment
/// to each of [`FIELDS`].
type Assigned = [Option<(usize, PyVal)>; 4];

/// Reads an Alembic revision file's header without running it.
pub fn parse_alembic(path: &Path, text: &str) -> Result<Revision, LoadError> {
    let text = normalize(text);
    let py_err = |line: usize, message: String| LoadError::Python {
        path: path.to_path_buf(),
        line,
        message,
    };
    let (toks, stmts) = Lexer::new(&text)
        .statements()
        .map_err(|(line, m)| py_err(line, m))?;
    let doc = stmts.first().and_then(|r| docstring(&toks[r.clone()]));
    let mut values: Assigned = [None, None, None, None];
    for range in &stmts {
        assign(&toks[range.clone()], &mut values).map_err(|(line, m)| py_err(line, m))?;
    }
    let [revision, down, labels, deps] = values;
    let id_line = revision.as_ref().map(|(line, _)| *line);
    let id = match revision {
        Some((_, PyVal::Str(s))) => s,
        Some((line, _)) => {
            return Err(py_err(
                line,
                "`revision` must be a single string id, like revision = 'ae1027a6acf'".to_string(),
            ))
        }
        None => legacy_id(path)?,
    };
    LoadError::check_id_length(path, id_line, &id)?;
    let parents = match down {
        Some((_, v)) => to_list(v),
        None => {
            return Err(LoadError::MissingField {
                path: path.to_path_buf(),
                line: None,
                field: "down_revision",
                hint: "add `down_revision = None` for a base revision, or the parent id(s)"
                    .to_string(),
            })
        }
    };
    // Alembic's `Script.longdoc`: the docstring, stripped.
    let message = doc
        .map(|d| d.trim_matches(py_space).to_string())
        .unwrap_or_default();
    Ok(Revision {
        id,
        parents,
        depends_on: deps.map(|(_, v)| to_list(v)).unwrap_or_default(),
        branch_labels: labels.map(|(_, v)| to_list(v)).unwrap_or_default(),
        message,
        origin: path.display().to_string(),
    })
}

/// The module docstring: a first statement made only of string literals.
fn docstring(first: &[Spanned<'_>]) -> Option<String> {
    let all_text = first.iter().all(|t| {
        matches!(
            t.tok,
            Tok::Str {
                kind: StrKind::Text,
                ..
            }
        )
    });
    all_text.then(|| {
        first
            .iter()
            .map(|t| match &t.tok {
                Tok::Str { value, .. } => value.as_ref(),
                _ => "",
            })
            .collect()
    })
}

/// Records in `values` what a module-level statement assigns to one of
/// [`FIELDS`] (`a = b = value`, `name: type = value`); other statements
/// are ignored. A value that is not a literal is an error at its line.
fn assign(st: &[Spanned<'_>], values: &mut Assigned) -> Result<(), (usize, String)> {
    let Some(first) = st.first() else {
        return Ok(());
    };
    // Only statements at column 0 that mention one of our names can
    // assign it at module level.
    if first.col != 0
        || !st
            .iter()
            .any(|t| matches!(t.tok, Tok::Name(n) if FIELDS.contains(&n)))
    {
        return Ok(());
    }
    let (targets, value_toks) = split_targets(st);
    let annotated = targets.len() == 1;
    for target in &targets {
        let name = match target {
            [Spanned {
                tok: Tok::Name(n), ..
            }] => n,
            [Spanned {
                tok: Tok::Name(n), ..
            }, Spanned {
                tok: Tok::Op(":"), ..
            }, ..]
                if annotated =>
            {
                n
            }
            _ => continue,
        };
        let Some(slot) = FIELDS.iter().position(|f| f == name) else {
            continue;
        };
        let line = target[0].line;
        let v = literal(value_toks).map_err(|m| {
            (
                line,
                format!("cannot read `{name}`: {m}; write it as a literal: None, 'id' or ('id1', 'id2')"),
            )
        })?;
        values[slot] = Some((line, v));
    }
    Ok(())
}

/// A statement split at its top-level `=`: the targets, and the value
/// (empty targets when there is no `=`).
#[allow(clippy::type_complexity)]
fn split_targets<'s, 'a>(st: &'s [Spanned<'a>]) -> (Vec<&'s [Spanned<'a>]>, &'s [Spanned<'a>]) {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in st.iter().enumerate() {
        match t.tok {
            Tok::Op("(" | "[" | "{") => depth += 1,
            Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
            Tok::Op("=") if depth == 0 => {
                parts.push(&st[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    (parts, &st[start..])
}

/// Alembic's legacy rule: a file named `<hex>.py` without a `revision`
/// variable takes its id from the file name.
fn legacy_id(path: &Path) -> Result<String, LoadError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name.strip_suffix(".py") {
        Some(stem)
            if !stem.is_empty()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(stem.to_string())
        }
        _ => Err(LoadError::NotARevision {
            path: path.to_path_buf(),
            reason: "it assigns no module-level `revision` variable; add `revision = '<id>'` and `down_revision = ...`, or move the file out of the versions directory".to_string(),
        }),
    }
}

fn to_list(v: PyVal) -> Vec<String> {
    match v {
        PyVal::None => Vec::new(),
        PyVal::Str(s) => vec![s],
        PyVal::Seq(v) => v,
    }
}

/// A PEP 263 coding declaration naming Latin-1 in the first two lines.
pub(crate) fn declares_latin1(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').take(2).any(|line| {
        let line = String::from_utf8_lossy(line);
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            return false;
        };
        let Some(i) = comment.find("coding") else {
            return false;
        };
        let rest = &comment[i + "coding".len()..];
        let Some(rest) = rest.strip_prefix([':', '=']) else {
            return false;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || "-_.".contains(*c))
            .collect::<String>()
            .to_lowercase()
            .replace('_', "-");
        matches!(
            name.as_str(),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1"
        )
    })
}
