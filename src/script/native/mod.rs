//! Native YAML revision files: parse and render, losslessly.

use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{LoadError, NativeBody};
use crate::graph::Revision;

pub(in crate::script) mod fast;

/// The keys of a native revision file, in the order they are written: the
/// one list both readers (serde_yaml through [`NativeFile`]'s `Deserialize`,
/// and [`fast::parse`]) go by.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(field_identifier, rename_all = "snake_case")]
pub(in crate::script) enum Key {
    Id,
    Parents,
    DependsOn,
    BranchLabels,
    Message,
    Created,
    Transactional,
    Upgrade,
    Downgrade,
    LockTimeout,
    StatementTimeout,
}

impl Key {
    pub(in crate::script) const ALL: [Key; 11] = [
        Key::Id,
        Key::Parents,
        Key::DependsOn,
        Key::BranchLabels,
        Key::Message,
        Key::Created,
        Key::Transactional,
        Key::Upgrade,
        Key::Downgrade,
        Key::LockTimeout,
        Key::StatementTimeout,
    ];

    /// The names, as written in files (and in serde's "expected one of").
    const NAMES: &'static [&'static str] = &[
        "id",
        "parents",
        "depends_on",
        "branch_labels",
        "message",
        "created",
        "transactional",
        "upgrade",
        "downgrade",
        "lock_timeout",
        "statement_timeout",
    ];

    pub(in crate::script) fn name(self) -> &'static str {
        Key::NAMES[self as usize]
    }

    pub(in crate::script) fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The on-disk shape of a native revision. Unknown keys are errors so that
/// typos (`parent:`, `downgarde:`) are caught.
#[derive(Debug, Default, PartialEq)]
pub(in crate::script) struct NativeFile {
    pub(in crate::script) id: Option<String>,
    pub(in crate::script) parents: Option<Vec<String>>,
    pub(in crate::script) depends_on: Vec<String>,
    pub(in crate::script) branch_labels: Vec<String>,
    pub(in crate::script) message: Option<String>,
    pub(in crate::script) created: Option<String>,
    pub(in crate::script) transactional: Option<bool>,
    pub(in crate::script) upgrade: Option<String>,
    pub(in crate::script) downgrade: Option<String>,
    pub(in crate::script) lock_timeout: Option<String>,
    pub(in crate::script) statement_timeout: Option<String>,
}

impl<'de> Deserialize<'de> for NativeFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NativeFile, D::Error> {
        d.deserialize_struct("NativeFile", Key::NAMES, FileVisitor)
    }
}

/// Reads a mapping, key by [`Key`]: an unknown key, a repeated key or a
/// value of the wrong type is serde's error (with serde_yaml's location).
struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = NativeFile;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a revision: a mapping with id, parents, message, upgrade and downgrade")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NativeFile, A::Error> {
        let mut f = NativeFile::default();
        let mut seen = [false; Key::ALL.len()];
        while let Some(key) = map.next_key::<Key>()? {
            if std::mem::replace(&mut seen[key as usize], true) {
                return Err(de::Error::duplicate_field(key.name()));
            }
            match key {
                Key::Id => f.id = map.next_value()?,
                Key::Parents => f.parents = map.next_value()?,
                Key::DependsOn => f.depends_on = map.next_value()?,
                Key::BranchLabels => f.branch_labels = map.next_value()?,
                Key::Message => f.message = map.next_value()?,
                Key::Created => f.created = map.next_value()?,
                Key::Transactional => f.transactional = map.next_value()?,
                Key::Upgrade => f.upgrade = map.next_value()?,
                Key::Downgrade => f.downgrade = map.next_value()?,
                Key::LockTimeout => f.lock_timeout = map.next_value()?,
                Key::StatementTimeout => f.statement_timeout = map.next_value()?,
            }
        }
        Ok(f)
    }
}

/// Whether the fast reader, where it answers at all, reads `text` exactly as
/// serde_yaml does. For the fuzz targets and property tests; not an API.
#[doc(hidden)]
pub fn fast_path_agrees(text: &str) -> bool {
    match fast::parse(text) {
        None => true,
        Some(f) => serde_yaml::from_str::<NativeFile>(text).ok() == Some(f),
    }
}

fn missing(path: &Path, field: &'static str, hint: &str) -> LoadError {
    LoadError::MissingField {
        path: path.to_path_buf(),
        line: None,
        field,
        hint: hint.to_string(),
    }
}

/// Parses a native revision file. `path` is only used for messages and
/// becomes the revision's `origin`.
pub fn parse_native(path: &Path, text: &str) -> Result<(Revision, NativeBody), LoadError> {
    let trimmed = text.trim_start_matches('\u{feff}');
    let file = read_file(path, trimmed)?;
    let take = |v: Option<String>, field: &'static str, hint: &str| {
        v.ok_or_else(|| missing(path, field, hint))
    };
    let id = take(
        file.id,
        "id",
        "add `id: <unique id>` (`mergepoint revision` generates 12 hex chars)",
    )?;
    let parents = file.parents.ok_or_else(|| {
        missing(
            path,
            "parents",
            "add `parents: [<parent id>]`, or `parents: []` for a base revision",
        )
    })?;
    let message = take(
        file.message,
        "message",
        "add `message: <what this revision does>` (it may be \"\")",
    )?;
    let upgrade = take(
        file.upgrade,
        "upgrade",
        "add `upgrade: |` followed by the SQL, indented (use \"\" for none)",
    )?;
    let downgrade = take(
        file.downgrade,
        "downgrade",
        "add `downgrade: |` followed by the SQL, indented (use \"\" for none)",
    )?;
    LoadError::check_id_length(path, line_of_key(trimmed, "id"), &id)?;
    let body = NativeBody {
        created: file.created,
        transactional: file.transactional.unwrap_or(true),
        upgrade,
        downgrade,
        lock_timeout: file.lock_timeout,
        statement_timeout: file.statement_timeout,
    };
    check_body(path, trimmed, &body)?;
    let rev = Revision {
        id,
        parents,
        depends_on: file.depends_on,
        branch_labels: file.branch_labels,
        message,
        origin: path.display().to_string(),
    };
    Ok((rev, body))
}

/// The fields of `text`: by the fast reader when the file is as rendered,
/// else by serde_yaml. A document that is not a mapping at all is not a
/// revision file; that is said instead of serde's type error.
fn read_file(path: &Path, text: &str) -> Result<NativeFile, LoadError> {
    let e = match fast::parse(text).map_or_else(|| serde_yaml::from_str(text), Ok) {
        Ok(f) => return Ok(f),
        Err(e) => e,
    };
    // Too deep for serde_yaml (128 levels) is never a revision's mapping;
    // do not scan such a text a second time. (libyaml scans the whole text
    // before serde_yaml's limit applies, in time quadratic in the nesting:
    // 50,000 open brackets take seconds, never a crash.)
    let too_deep = e.to_string().contains("recursion limit");
    if let Some(v) = (!too_deep)
        .then(|| serde_yaml::from_str::<serde_yaml::Value>(text).ok())
        .flatten()
    {
        if !v.is_mapping() {
            return Err(LoadError::NotARevision {
                path: path.to_path_buf(),
                reason: format!(
                    "a revision file is a YAML mapping with id, parents, message, upgrade and downgrade, but this file holds {}",
                    describe_value(&v)
                ),
            });
        }
    }
    Err(LoadError::yaml(path, &e))
}

/// A valid `created` timestamp, and no transaction control in the SQL of a
/// transactional revision (it would end the transaction mergepoint runs
/// the revision and its version-table update in).
fn check_body(path: &Path, text: &str, body: &NativeBody) -> Result<(), LoadError> {
    if let Some(c) = &body.created {
        if chrono::DateTime::parse_from_rfc3339(c).is_err() {
            return Err(LoadError::Yaml {
                path: path.to_path_buf(),
                line: line_of_key(text, "created"),
                column: None,
                message: format!(
                    "created: '{c}' is not an RFC 3339 timestamp (like 2026-11-22T10:15:00Z)"
                ),
            });
        }
    }
    for (field, value) in [
        ("lock_timeout", &body.lock_timeout),
        ("statement_timeout", &body.statement_timeout),
    ] {
        if let Some(v) = value {
            if let Err(reason) = crate::sql::check_duration(v) {
                return Err(LoadError::Yaml {
                    path: path.to_path_buf(),
                    line: line_of_key(text, field),
                    column: None,
                    message: format!("{field}: '{v}' {reason}"),
                });
            }
        }
    }
    for (field, sql) in [("upgrade", &body.upgrade), ("downgrade", &body.downgrade)] {
        if let Some(c) = crate::sql::client_copy(sql) {
            return Err(LoadError::Yaml {
                path: path.to_path_buf(),
                line: Some(sql_line_in_file(text, field, c.line)),
                column: None,
                message: format!(
                    "{} in the {field} SQL streams data through the client, which mergepoint does not do; load the data with COPY ... FROM '<server file>', INSERT ... SELECT, or a separate tool",
                    c.keyword
                ),
            });
        }
    }
    if !body.transactional {
        return Ok(());
    }
    for (field, sql) in [("upgrade", &body.upgrade), ("downgrade", &body.downgrade)] {
        if let Some(c) = crate::sql::transaction_control(sql) {
            return Err(LoadError::TransactionControl {
                path: path.to_path_buf(),
                line: sql_line_in_file(text, field, c.line),
                field,
                keyword: c.keyword,
            });
        }
    }
    Ok(())
}

fn describe_value(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a plain string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// 1-based line of a top-level `key:` in a YAML text, if present.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The line of the file holding line `sql_line` of the SQL under `key`:
/// exact for a literal block (`key: |`), whose lines follow the key's one
/// for one; the key's own line for a quoted or plain scalar.
fn sql_line_in_file(text: &str, key: &str, sql_line: usize) -> usize {
    let Some(key_line) = line_of_key(text, key) else {
        return 1;
    };
    let value = text
        .lines()
        .nth(key_line - 1)
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, v)| v.trim_start());
    if value.starts_with('|') {
        key_line + sql_line
    } else {
        key_line
    }
}

/// Renders a native revision file. The result parses back to exactly the
/// same revision and body ([`parse_native`]), whatever the strings hold.
pub fn render_native(rev: &Revision, body: &NativeBody) -> String {
    let mut out = String::with_capacity(256 + body.upgrade.len() + body.downgrade.len());
    out.push_str("id: ");
    out.push_str(&scalar(&rev.id, true));
    out.push('\n');
    for (key, list) in [
        ("parents", &rev.parents),
        ("depends_on", &rev.depends_on),
        ("branch_labels", &rev.branch_labels),
    ] {
        out.push_str(key);
        out.push_str(": [");
        for (i, item) in list.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&scalar(item, true));
        }
        out.push_str("]\n");
    }
    out.push_str("message: ");
    out.push_str(&scalar(&rev.message, false));
    out.push('\n');
    if let Some(c) = &body.created {
        out.push_str("created: ");
        out.push_str(&scalar(c, false));
        out.push('\n');
    }
    out.push_str("transactional: ");
    out.push_str(if body.transactional { "true" } else { "false" });
    out.push('\n');
    for (key, value) in [
        ("lock_timeout", &body.lock_timeout),
        ("statement_timeout", &body.statement_timeout),
    ] {
        if let Some(v) = value {
            out.push_str(key);
            out.push_str(": ");
            out.push_str(&scalar(v, false));
            out.push('\n');
        }
    }
    out.push_str("upgrade:");
    block(&mut out, &body.upgrade);
    out.push_str("downgrade:");
    block(&mut out, &body.downgrade);
    out
}

/// Characters that may appear unescaped in a YAML scalar without changing
/// its meaning (YAML's c-printable minus the characters libyaml treats as
/// line breaks or byte order marks).
pub(super) fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | ' '..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A scalar written plain when that reads back as the same string, double
/// quoted otherwise. `in_flow`: the scalar sits in a `[a, b]` list.
fn scalar(s: &str, in_flow: bool) -> String {
    if plain_ok(s, in_flow) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

fn plain_ok(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let last = s.chars().next_back().unwrap_or(first);
    if first == ' ' || last == ' ' || "-?:#&*!|>'\"%@`,[]{}".contains(first) {
        return false;
    }
    let bad_char = |c: char| {
        !printable(c)
            || c == '\t'
            || c == '\n'
            || "#'\"`\\".contains(c)
            || (in_flow && ",[]{}:".contains(c))
    };
    if s.chars().any(bad_char) || s.contains(": ") || s.ends_with(':') || s.contains(" #") {
        return false;
    }
    // The same parser that reads the file decides, in the same context: a
    // plain scalar that resolves to anything but this exact string (a
    // number, a boolean, null, a nested mapping, ...) gets quoted.
    if in_flow {
        match serde_yaml::from_str::<serde_yaml::Value>(&format!("[{s}]")) {
            Ok(serde_yaml::Value::Sequence(v)) => {
                v.len() == 1 && matches!(&v[0], serde_yaml::Value::String(x) if x == s)
            }
            _ => false,
        }
    } else {
        match serde_yaml::from_str::<serde_yaml::Value>(&format!("k: {s}")) {
            Ok(serde_yaml::Value::Mapping(m)) => {
                m.len() == 1 && matches!(m.get("k"), Some(serde_yaml::Value::String(x)) if x == s)
            }
            _ => false,
        }
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Appends ` |…` and the indented lines of `s` (and the final newline), or
/// a double-quoted scalar when a literal block cannot hold `s` exactly.
fn block(out: &mut String, s: &str) {
    let blockable = !s.trim_matches(|c| c == ' ' || c == '\n').is_empty()
        && s.chars().all(|c| printable(c) && c != '\r');
    if !blockable {
        out.push(' ');
        out.push_str(&double_quoted(s));
        out.push('\n');
        return;
    }
    let content = s.trim_end_matches('\n');
    let trailing = s.len() - content.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // An explicit indentation indicator when the first line would make
    // auto-detection guess wrong (leading spaces or blank lines).
    let indicator = if content.starts_with([' ', '\t', '\n']) {
        "2"
    } else {
        ""
    };
    out.push_str(" |");
    out.push_str(indicator);
    out.push_str(chomp);
    out.push('\n');
    for line in s.split_inclusive('\n') {
        if line != "\n" {
            out.push_str("  ");
        }
        out.push_str(line);
    }
    if trailing == 0 {
        out.push('\n');
    }
}
