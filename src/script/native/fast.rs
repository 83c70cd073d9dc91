//! A fast reader for the subset of YAML that [`super::render_native`]
//! writes. It returns `None` for anything outside that subset, and the
//! caller then uses serde_yaml, so it never decides an error and never
//! disagrees with serde_yaml (property tests and the `native_header` fuzz
//! target check that, through [`super::fast_path_agrees`]). Keys are the
//! same typed [`Key`] list serde reads. Loading 10,000 revisions is where
//! this pays.

use super::{printable, Key, NativeFile};

/// Reads `text` if it is in the rendered subset, `None` otherwise.
pub(in crate::script) fn parse(text: &str) -> Option<NativeFile> {
    if !text.ends_with('\n') || text.contains('\r') {
        return None;
    }
    let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
    let mut f = NativeFile::default();
    let mut seen = [false; Key::ALL.len()];
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.is_empty() {
            continue;
        }
        let (name, rest) = line.split_once(':')?;
        let key = Key::from_name(name)?;
        if std::mem::replace(&mut seen[key as usize], true) {
            return None;
        }
        let v = rest.strip_prefix(' ')?;
        match key {
            Key::Parents => f.parents = Some(flow_list(v)?),
            Key::DependsOn => f.depends_on = flow_list(v)?,
            Key::BranchLabels => f.branch_labels = flow_list(v)?,
            Key::Transactional => {
                f.transactional = Some(match v {
                    "true" => true,
                    "false" => false,
                    _ => return None,
                })
            }
            Key::Id => f.id = string_value(v, &lines, &mut i)?,
            Key::Message => f.message = string_value(v, &lines, &mut i)?,
            Key::Created => f.created = string_value(v, &lines, &mut i)?,
            Key::Upgrade => f.upgrade = string_value(v, &lines, &mut i)?,
            Key::Downgrade => f.downgrade = string_value(v, &lines, &mut i)?,
            // Rare keys whose YAML typing (a bare number is not a string)
            // is serde's to judge: leave the file to it.
            Key::LockTimeout | Key::StatementTimeout => return None,
        }
    }
    Some(f)
}

/// The value of a string key: a literal block (whose lines follow, from
/// `lines[*next]`; `*next` moves past them) or a one-line scalar.
fn string_value(v: &str, lines: &[&str], next: &mut usize) -> Option<Option<String>> {
    match v.strip_prefix('|') {
        Some(header) => {
            let (s, after) = block(header, lines, *next)?;
            *next = after;
            Some(Some(s))
        }
        None => scalar(v),
    }
}

/// A block-context scalar for an `Option<String>` field: `Some(None)` for
/// a plain null.
fn scalar(v: &str) -> Option<Option<String>> {
    if v.starts_with('"') {
        let (s, rest) = double_quoted(v)?;
        return rest.is_empty().then_some(Some(s));
    }
    let first = v.chars().next()?;
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || v.ends_with([' ', ':'])
        || v.contains(": ")
        || v.contains(" #")
        || v.chars().any(|c| !printable(c) || c == '\t' || c == '\n')
        || first == ' '
    {
        return None;
    }
    Some(match v {
        "null" | "Null" | "NULL" | "~" => None,
        _ => Some(v.to_string()),
    })
}

/// `[a, "b"]` as written by the renderer.
fn flow_list(v: &str) -> Option<Vec<String>> {
    let inner = v.strip_prefix('[')?.strip_suffix(']')?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Some(out);
    }
    let mut rest = inner;
    loop {
        let (item, after) = if rest.starts_with('"') {
            double_quoted(rest)?
        } else {
            let end = rest.find(", ").unwrap_or(rest.len());
            let item = &rest[..end];
            let first = item.chars().next()?;
            if "-?!&*|>%@`".contains(first)
                || item.ends_with(' ')
                || item.starts_with(' ')
                || item
                    .chars()
                    .any(|c| !printable(c) || ",[]{}#:\"'\t\n".contains(c))
            {
                return None;
            }
            (item.to_string(), &rest[end..])
        };
        out.push(item);
        if after.is_empty() {
            return Some(out);
        }
        rest = after.strip_prefix(", ")?;
    }
}

/// A double-quoted scalar on one line: its value and what follows it.
fn double_quoted(v: &str) -> Option<(String, &str)> {
    let body = v.strip_prefix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let n = match e {
                    '\\' => {
                        out.push('\\');
                        continue;
                    }
                    '"' => {
                        out.push('"');
                        continue;
                    }
                    'n' => {
                        out.push('\n');
                        continue;
                    }
                    't' => {
                        out.push('\t');
                        continue;
                    }
                    'r' => {
                        out.push('\r');
                        continue;
                    }
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    _ => return None,
                };
                let mut v = 0u32;
                for _ in 0..n {
                    let (_, d) = chars.next()?;
                    v = v * 16 + d.to_digit(16)?;
                }
                out.push(char::from_u32(v)?);
            }
            c if printable(c) && c != '\n' => out.push(c),
            _ => return None,
        }
    }
    None
}

/// A literal block scalar whose header (after `|`) is `header`, with body
/// lines from `lines[start..]`. Returns the value and the index of the
/// first line after the block.
fn block(header: &str, lines: &[&str], start: usize) -> Option<(String, usize)> {
    let (explicit, chomp) = match header {
        "" => (false, ' '),
        "-" => (false, '-'),
        "+" => (false, '+'),
        "2" => (true, ' '),
        "2-" => (true, '-'),
        "2+" => (true, '+'),
        _ => return None,
    };
    // None: an empty line; Some(text): a content line.
    let mut body: Vec<Option<&str>> = Vec::new();
    let mut j = start;
    while j < lines.len() {
        let line = lines[j];
        if let Some(content) = line.strip_prefix("  ") {
            if content.is_empty() {
                body.push(None);
            } else {
                if !explicit && body.is_empty() && content.starts_with([' ', '\t']) {
                    return None;
                }
                if content.chars().any(|c| !printable(c)) {
                    return None;
                }
                body.push(Some(content));
            }
        } else if line.is_empty() {
            body.push(None);
        } else if line.starts_with(' ') || line.starts_with('\t') {
            return None;
        } else {
            break;
        }
        j += 1;
    }
    if !explicit && !matches!(body.first(), Some(Some(_))) {
        return None;
    }
    let last = body.iter().rposition(Option::is_some)?;
    let mut out = String::new();
    for (n, l) in body[..=last].iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(l.unwrap_or(""));
    }
    match chomp {
        '-' => {}
        ' ' => out.push('\n'),
        _ => {
            for _ in last..body.len() {
                out.push('\n');
            }
        }
    }
    Some((out, j))
}
