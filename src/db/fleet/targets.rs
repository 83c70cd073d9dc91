//! The targets of a fleet run, pure: reading a target list (a file's
//! lines, or the rows of a targets query) into [`Target`]s with their line
//! numbers, and building each target's connection string from the admin
//! URL (a database name put into it, a schema's `search_path` added to its
//! startup options). No I/O, no session.
//!
//! A line is one of (after an optional `LABEL: ` prefix, a label being
//! letters, digits, `_`, `.`, `-` followed by a colon and a space):
//!
//! - a URL (`postgresql://…`, `postgres://…`),
//! - key=value settings (`host=db1 dbname=shop user=app`),
//! - a bare database name, put into the admin URL ([`with_database`]);
//!
//! or, for schema-per-tenant fleets ([`TargetKind::Schemas`]), a schema
//! name. `#` starts a comment only at the start of a line (a password may
//! hold a `#`); blank lines are skipped. A repeated target or label is an
//! error naming both lines.

use super::super::mask::mask_url;
use super::super::names::{quote_ident, VersionTable};
use std::fmt;

/// What the lines of a target list name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Databases: URLs, key=value settings or database names.
    Databases,
    /// Schemas of the one database of the admin URL.
    Schemas,
}

/// How a line names its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// A whole connection string (URL or key=value).
    Conninfo(String),
    /// A database name, to be put into the admin URL.
    DatabaseName(String),
    /// A schema of the admin URL's database.
    Schema(String),
}

/// One line of a target list, checked but not yet connected to anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLine {
    /// 1-based line (or row) number.
    pub line: usize,
    pub label: Option<String>,
    pub spec: Spec,
}

/// A target ready to run: where to connect and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// 1-based line (or row) number in the target list.
    pub line: usize,
    /// What output calls it: the label, else the database or schema name,
    /// else the masked connection string. Never holds a password.
    pub name: String,
    /// The connection string (may hold a password: never print it; show
    /// [`Target::masked_url`]).
    pub url: String,
    /// For a schema target: its schema (version table and `search_path`).
    pub schema: Option<String>,
}

impl Target {
    /// The connection string with any password masked.
    pub fn masked_url(&self) -> String {
        mask_url(&self.url)
    }
}

/// A line that cannot be read, with its number. The message never holds a
/// password (the line is quoted masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads a target list: every problem at once, by line.
pub fn parse_lines(text: &str, kind: TargetKind) -> Result<Vec<TargetLine>, Vec<LineError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line, kind) {
            Ok((label, spec)) => out.push(TargetLine {
                line: i + 1,
                label,
                spec,
            }),
            Err(message) => errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    errors.extend(duplicates(&out));
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// Reads the values of a targets query, one target per row (row numbers
/// stand for line numbers). No labels, no comments: a row is its value.
pub fn parse_rows(rows: &[String], kind: TargetKind) -> Result<Vec<TargetLine>, Vec<LineError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, value) in rows.iter().enumerate() {
        let value = value.trim();
        let spec = if value.is_empty() {
            Err("the value is empty".to_string())
        } else {
            parse_spec(value, kind)
        };
        match spec {
            Ok(spec) => out.push(TargetLine {
                line: i + 1,
                label: None,
                spec,
            }),
            Err(message) => errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    errors.extend(duplicates(&out));
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn parse_line(line: &str, kind: TargetKind) -> Result<(Option<String>, Spec), String> {
    let label_end = line.find(|c: char| !is_label_char(c)).unwrap_or(line.len());
    let rest = &line[label_end..];
    let (label, spec) = if label_end > 0
        && rest.starts_with(':')
        && (rest.len() == 1 || rest[1..].starts_with(char::is_whitespace))
    {
        let spec = rest[1..].trim();
        if spec.is_empty() {
            return Err(format!(
                "label '{}' names no target; write 'LABEL: TARGET'",
                &line[..label_end]
            ));
        }
        (Some(line[..label_end].to_string()), spec)
    } else {
        (None, line)
    };
    Ok((label, parse_spec(spec, kind)?))
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

fn parse_spec(spec: &str, kind: TargetKind) -> Result<Spec, String> {
    if kind == TargetKind::Schemas {
        return match VersionTable::new("alembic_version", Some(spec)) {
            Ok(_) => Ok(Spec::Schema(spec.to_string())),
            Err(e) => Err(format!("'{spec}' is not a usable schema name: {e}")),
        };
    }
    if is_url(spec) {
        if let Some(i) = spec.find(char::is_whitespace) {
            return Err(format!(
                "text after the URL {} ('{}'); a URL has no spaces, and comments go on lines of their own",
                mask_url(&spec[..i]),
                mask_url(spec[i..].trim())
            ));
        }
        return Ok(Spec::Conninfo(spec.to_string()));
    }
    if spec.contains("://") {
        return Err(format!(
            "{} is not a PostgreSQL URL: it must start with postgresql:// or postgres:// (lower case)",
            mask_url(spec)
        ));
    }
    if spec.contains('=') {
        return match split_conninfo(spec) {
            Ok(_) => Ok(Spec::Conninfo(spec.to_string())),
            Err(e) => Err(format!(
                "{} is not valid key=value settings: {e}",
                mask_url(spec)
            )),
        };
    }
    if spec.contains(char::is_whitespace) {
        return Err(format!(
            "'{}' is not a URL, key=value settings or a database name (a database name has no spaces)",
            mask_url(spec)
        ));
    }
    Ok(Spec::DatabaseName(spec.to_string()))
}

/// Repeated targets or labels: the later line is the error.
fn duplicates(lines: &[TargetLine]) -> Vec<LineError> {
    let mut errors = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(first) = lines[..i].iter().find(|o| o.spec == l.spec) {
            errors.push(LineError {
                line: l.line,
                message: format!(
                    "the same target as line {}; list each target once",
                    first.line
                ),
            });
        } else if let Some(first) = lines[..i]
            .iter()
            .find(|o| o.label.is_some() && o.label == l.label)
        {
            errors.push(LineError {
                line: l.line,
                message: format!(
                    "label '{}' is already used on line {}; labels name one target each",
                    l.label.as_deref().unwrap_or_default(),
                    first.line
                ),
            });
        }
    }
    errors
}

/// Makes the targets of checked lines. `admin` is the admin URL
/// (`--database-url` & co.): a database name or schema needs it.
pub fn resolve(lines: &[TargetLine], admin: Option<&str>) -> Result<Vec<Target>, LineError> {
    lines
        .iter()
        .map(|l| {
            let need_admin = |what: &str| LineError {
                line: l.line,
                message: format!(
                    "{what}, but there is no database URL to use it with; pass --database-url (or set DATABASE_URL)"
                ),
            };
            let (url, schema, plain_name) = match &l.spec {
                Spec::Conninfo(c) => (c.clone(), None, None),
                Spec::DatabaseName(n) => {
                    let admin =
                        admin.ok_or_else(|| need_admin(&format!("'{n}' is a database name")))?;
                    (with_database(admin, n), None, Some(n.clone()))
                }
                Spec::Schema(s) => {
                    let admin =
                        admin.ok_or_else(|| need_admin(&format!("'{s}' is a schema name")))?;
                    let url = with_search_path(admin, s).map_err(|message| LineError {
                        line: l.line,
                        message,
                    })?;
                    (url, Some(s.clone()), Some(s.clone()))
                }
            };
            let name = l
                .label
                .clone()
                .or(plain_name)
                .unwrap_or_else(|| mask_url(&url));
            Ok(Target {
                line: l.line,
                name,
                url,
                schema,
            })
        })
        .collect()
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Quotes a key=value value: `'…'` with `\` and `'` escaped.
fn quote_conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Splits key=value settings into (key, value) pairs, values unquoted and
/// unescaped as libpq reads them. The error says what is wrong without
/// quoting any value.
fn split_conninfo(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("'{key}' is not followed by '='"));
        }
        if key.is_empty() {
            return Err("a '=' with no setting name before it".to_string());
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(format!("the quoted value of '{key}' is not closed")),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(format!("the quoted value of '{key}' is not closed")),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// `admin` with its database replaced by `dbname`: the URL's path, or a
/// `dbname` setting added to key=value settings (the last one counts).
pub fn with_database(admin: &str, dbname: &str) -> String {
    if !is_url(admin.trim()) {
        return format!("{} dbname={}", admin.trim(), quote_conninfo_value(dbname));
    }
    let admin = admin.trim();
    let (base, query) = match admin.find('?') {
        Some(i) => (&admin[..i], &admin[i..]),
        None => (admin, ""),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{}{query}", percent_encode(dbname))
}

/// The server's command-line option that sets `search_path` to `schema`
/// alone: `-c search_path="schema"`, with the spaces and backslashes the
/// server's option splitter would read escaped.
fn search_path_option(schema: &str) -> String {
    let value = quote_ident(schema);
    let mut escaped = String::new();
    for c in value.chars() {
        if c.is_whitespace() || c == '\\' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("-c search_path={escaped}")
}

/// `url` with `search_path` set to `schema` in its startup options
/// (`options=-c search_path=…`, added to any options it has). A startup
/// option is the session's own default, so `RESET ALL` (which the runner
/// issues before each step) keeps it.
pub fn with_search_path(url: &str, schema: &str) -> Result<String, String> {
    let url = url.trim();
    let option = search_path_option(schema);
    if !is_url(url) {
        let mut pairs = split_conninfo(url).map_err(|e| {
            format!(
                "the database URL {} is not valid key=value settings: {e}",
                mask_url(url)
            )
        })?;
        match pairs.iter_mut().rev().find(|(k, _)| k == "options") {
            Some((_, v)) => *v = format!("{v} {option}"),
            None => pairs.push(("options".to_string(), option)),
        }
        let parts: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", quote_conninfo_value(v)))
            .collect();
        return Ok(parts.join(" "));
    }
    let encoded = percent_encode(&option);
    let Some(q) = url.find('?') else {
        return Ok(format!("{url}?options={encoded}"));
    };
    let (base, query) = (&url[..q], &url[q + 1..]);
    let mut params: Vec<String> = query.split('&').map(str::to_string).collect();
    match params.iter_mut().rev().find(|p| p.starts_with("options=")) {
        Some(p) => {
            p.push_str("%20");
            p.push_str(&encoded);
        }
        None => params.push(format!("options={encoded}")),
    }
    Ok(format!("{base}?{}", params.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<TargetLine> {
        parse_lines(text, TargetKind::Databases).unwrap()
    }

    fn errors(text: &str, kind: TargetKind) -> Vec<String> {
        parse_lines(text, kind)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn reads_urls_settings_names_labels_comments_and_blank_lines() {
        let got = lines(
            "# the fleet\n\npostgresql://app:pw@db1/shop\n  host=db2 dbname='a b' user=app  \nacme: postgres://db3/acme\ntenant_42\n   # indented comment\n",
        );
        assert_eq!(
            got,
            vec![
                TargetLine {
                    line: 3,
                    label: None,
                    spec: Spec::Conninfo("postgresql://app:pw@db1/shop".into())
                },
                TargetLine {
                    line: 4,
                    label: None,
                    spec: Spec::Conninfo("host=db2 dbname='a b' user=app".into())
                },
                TargetLine {
                    line: 5,
                    label: Some("acme".into()),
                    spec: Spec::Conninfo("postgres://db3/acme".into())
                },
                TargetLine {
                    line: 6,
                    label: None,
                    spec: Spec::DatabaseName("tenant_42".into())
                },
            ]
        );
    }

    #[test]
    fn broken_lines_are_named_by_number_and_every_one_is_reported() {
        let e = errors(
            "postgresql://ok/db\nmysql://u:secret@h/db\nnot a target\nhost=x password='open\npostgresql://h/db # trailing\nlabel:\n=x\n",
            TargetKind::Databases,
        );
        assert_eq!(e.len(), 6, "{e:?}");
        assert!(
            e[0].starts_with("line 2: ") && e[0].contains("not a PostgreSQL URL"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("line 3: ") && e[1].contains("no spaces"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("line 4: ") && e[2].contains("not closed"),
            "{e:?}"
        );
        assert!(
            e[3].starts_with("line 5: ") && e[3].contains("comments go on lines"),
            "{e:?}"
        );
        assert!(
            e[4].starts_with("line 6: ") && e[4].contains("names no target"),
            "{e:?}"
        );
        assert!(
            e[5].starts_with("line 7: ") && e[5].contains("no setting name"),
            "{e:?}"
        );
        let all = e.join("\n");
        assert!(!all.contains("secret") && !all.contains("open"), "{all}");
    }

    #[test]
    fn repeated_targets_and_labels_name_the_first_line() {
        let e = errors("a: db1\nb: db2\nc: db1\nb: db3\n", TargetKind::Databases);
        assert_eq!(
            e,
            vec![
                "line 3: the same target as line 1; list each target once",
                "line 4: label 'b' is already used on line 2; labels name one target each",
            ]
        );
    }

    #[test]
    fn schema_lists_take_any_usable_schema_name() {
        let got = parse_lines("tenant_a\nt: Tenant B\n", TargetKind::Schemas).unwrap();
        assert_eq!(got[0].spec, Spec::Schema("tenant_a".into()));
        assert_eq!(got[1].spec, Spec::Schema("Tenant B".into()));
        assert_eq!(got[1].label.as_deref(), Some("t"));
        let long = "x".repeat(64);
        let e = errors(&format!("ok\n{long}\n"), TargetKind::Schemas);
        assert!(
            e[0].starts_with("line 2: ") && e[0].contains("not a usable schema name"),
            "{e:?}"
        );
    }

    #[test]
    fn query_rows_are_numbered_and_empty_values_refused() {
        let rows = vec!["t1".to_string(), " ".to_string(), "t1".to_string()];
        let e: Vec<String> = parse_rows(&rows, TargetKind::Databases)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            e,
            vec![
                "line 2: the value is empty",
                "line 3: the same target as line 1; list each target once"
            ]
        );
    }

    #[test]
    fn database_names_go_into_the_admin_url() {
        assert_eq!(
            with_database("postgresql://u:p@h:5432/postgres?sslmode=require", "t 1"),
            "postgresql://u:p@h:5432/t%201?sslmode=require"
        );
        assert_eq!(with_database("postgres://h", "shop"), "postgres://h/shop");
        assert_eq!(
            with_database("host=h user=u dbname=postgres", "it's"),
            "host=h user=u dbname=postgres dbname='it\\'s'"
        );
    }

    #[test]
    fn names_say_what_output_shows_never_a_password() {
        let parsed = lines("postgresql://u:secret@h/a\nshop\nl: postgresql://u:secret@h/b\n");
        let t = resolve(&parsed, Some("postgresql://admin:pw@h/postgres")).unwrap();
        assert_eq!(t[0].name, "postgresql://u:***@h/a");
        assert_eq!(t[1].name, "shop");
        assert_eq!(t[1].url, "postgresql://admin:pw@h/shop");
        assert_eq!(t[1].masked_url(), "postgresql://admin:***@h/shop");
        assert_eq!(t[2].name, "l");
        let e = resolve(&lines("shop\n"), None).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("--database-url"), "{e}");
    }

    #[test]
    fn search_path_goes_into_the_startup_options() {
        assert_eq!(
            with_search_path("postgresql://h/db", "t1").unwrap(),
            "postgresql://h/db?options=-c%20search_path%3D%22t1%22"
        );
        assert_eq!(
            with_search_path("postgresql://h/db?sslmode=disable&options=-c%20x%3D1", "A b").unwrap(),
            "postgresql://h/db?sslmode=disable&options=-c%20x%3D1%20-c%20search_path%3D%22A%5C%20b%22"
        );
        assert_eq!(
            with_search_path("host=h dbname=db", "t1").unwrap(),
            "host='h' dbname='db' options='-c search_path=\"t1\"'"
        );
        assert_eq!(
            with_search_path("host=h options='-c x=1'", "t").unwrap(),
            "host='h' options='-c x=1 -c search_path=\"t\"'"
        );
        assert!(with_search_path("host='h", "t").is_err());
        let t = resolve(
            &parse_lines("t1\n", TargetKind::Schemas).unwrap(),
            Some("postgresql://h/db"),
        )
        .unwrap();
        assert_eq!(t[0].schema.as_deref(), Some("t1"));
        assert_eq!(t[0].name, "t1");
    }
}
