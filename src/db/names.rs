//! Identifiers and literals: the version table's name and schema are
//! validated once and always quoted; literals are quoted for offline SQL.
//! Pure: no session. Resolving an unqualified table against a session's
//! `search_path` is [`crate::db::catalog::resolve_table`].

use super::error::DbError;

/// Name of the audit table; it lives in the version table's schema.
pub const HISTORY_TABLE: &str = "mergepoint_history";

/// PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes: longer names
/// are silently truncated by the server, so they are refused here.
pub const MAX_IDENT_BYTES: usize = 63;

/// The suffix of the version table's primary-key constraint (Alembic's).
const PK_SUFFIX: &str = "_pkc";

/// Quotes an SQL identifier: `"name"`, with inner `"` doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal: `'text'`, with inner `'` doubled. Valid
/// with `standard_conforming_strings = on` (the default since 9.1); a
/// backslash in the value makes it an `E''` literal to be safe either way.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    push_literal(&mut out, value);
    out
}

/// [`quote_literal`], appended to `out` (no allocation of its own).
pub fn push_literal(out: &mut String, value: &str) {
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    let mut rest = value;
    while let Some(i) = rest.find(['\'', '\\']) {
        out.push_str(&rest[..=i]);
        out.push_str(&rest[i..=i]);
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('\'');
}

/// True for the session-private schemas (`pg_temp`, `pg_temp_N`,
/// `pg_toast_temp_N`): a table there vanishes when the session ends.
pub fn is_temporary_schema(schema: &str) -> bool {
    let s = schema.to_ascii_lowercase();
    s == "pg_temp" || s.starts_with("pg_temp_") || s.starts_with("pg_toast_temp_")
}

fn check_name(what: &'static str, value: &str, max: usize) -> Result<(), DbError> {
    let reason = if value.is_empty() {
        Some("it is empty".to_string())
    } else if value.len() > max {
        Some(if max == MAX_IDENT_BYTES {
            format!(
                "it is {} bytes long; PostgreSQL names are at most {MAX_IDENT_BYTES}",
                value.len()
            )
        } else {
            format!(
                "it is {} bytes long; at most {max} fit, because its primary-key constraint \"<name>{PK_SUFFIX}\" must stay within PostgreSQL's {MAX_IDENT_BYTES}",
                value.len()
            )
        })
    } else if value.chars().any(|c| c.is_control()) {
        Some("it contains a control character".to_string())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DbError::InvalidName {
            what,
            value: value.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The version table (Alembic's `alembic_version`) and where it lives. The
/// audit table [`HISTORY_TABLE`] lives in the same schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTable {
    name: String,
    schema: Option<String>,
}

impl Default for VersionTable {
    /// `alembic_version` on the search path, like Alembic.
    fn default() -> Self {
        VersionTable {
            name: "alembic_version".to_string(),
            schema: None,
        }
    }
}

impl VersionTable {
    /// A version table name and optional schema (`None`: the first schema
    /// of the search path). Names are case-sensitive as given, at most 63
    /// bytes, without control characters; they are always quoted in SQL.
    ///
    /// The name leaves room for its derived constraint name (`<name>_pkc`),
    /// and a temporary schema is refused: the version table would vanish at
    /// disconnect and the next run would apply everything again.
    pub fn new(name: &str, schema: Option<&str>) -> Result<Self, DbError> {
        check_name(
            "version table name",
            name,
            MAX_IDENT_BYTES - PK_SUFFIX.len(),
        )?;
        if let Some(s) = schema {
            check_name("version table schema", s, MAX_IDENT_BYTES)?;
            refuse_temporary(s)?;
        }
        Ok(VersionTable {
            name: name.to_string(),
            schema: schema.map(str::to_string),
        })
    }

    /// The same table in `schema` (a schema resolved from the session).
    pub fn in_schema(&self, schema: &str) -> Result<Self, DbError> {
        VersionTable::new(&self.name, Some(schema))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    fn qualify(&self, table: &str) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(table)),
            None => quote_ident(table),
        }
    }

    /// The quoted, schema-qualified version table for SQL text.
    pub fn sql_name(&self) -> String {
        self.qualify(&self.name)
    }

    /// The quoted, schema-qualified audit table for SQL text.
    pub fn history_sql_name(&self) -> String {
        self.qualify(HISTORY_TABLE)
    }

    /// `schema.name` (or `name`) for messages.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Alembic's DDL: `version_num varchar(32) not null` with primary key
    /// constraint `<name>_pkc`.
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    version_num VARCHAR(32) NOT NULL,\n    CONSTRAINT {} PRIMARY KEY (version_num)\n)",
            self.sql_name(),
            quote_ident(&self.primary_key_name())
        )
    }

    /// Alembic's primary-key constraint name, `<name>_pkc`.
    pub fn primary_key_name(&self) -> String {
        format!("{}{PK_SUFFIX}", self.name)
    }

    /// DDL of the audit table.
    pub fn create_history_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    id BIGSERIAL PRIMARY KEY,\n    revision VARCHAR(32) NOT NULL,\n    direction TEXT NOT NULL,\n    sql_sha256 TEXT,\n    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n    duration_ms DOUBLE PRECISION,\n    db_user TEXT NOT NULL DEFAULT current_user,\n    client_host TEXT NOT NULL DEFAULT coalesce(inet_client_addr()::text, 'local'),\n    success BOOLEAN NOT NULL,\n    error TEXT,\n    downgrade_sha256 TEXT\n)",
            self.history_sql_name()
        )
    }

    /// Brings an audit table made by an older mergepoint up to date (the
    /// downgrade checksum column); harmless when it is.
    pub fn upgrade_history_sql(&self) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS downgrade_sha256 TEXT",
            self.history_sql_name()
        )
    }
}

fn refuse_temporary(schema: &str) -> Result<(), DbError> {
    if is_temporary_schema(schema) {
        return Err(DbError::InvalidName {
            what: "version table schema",
            value: schema.to_string(),
            reason: "it is a temporary schema: the version table would vanish when the session ends, and the next run would apply every revision again; name a permanent schema".to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b'"), "E'a\\\\b'''");
        let t = VersionTable::new("v\"; drop", Some("s")).unwrap();
        assert_eq!(t.sql_name(), "\"s\".\"v\"\"; drop\"");
        assert!(VersionTable::new("", None).is_err());
        assert!(VersionTable::new(&"x".repeat(64), None).is_err());
        // "<name>_pkc" must fit in 63 bytes too.
        assert!(VersionTable::new(&"x".repeat(60), None).is_err());
        assert!(VersionTable::new(&"x".repeat(59), None).is_ok());
        for temp in ["pg_temp", "PG_TEMP", "pg_temp_3", "pg_toast_temp_3"] {
            assert!(VersionTable::new("v", Some(temp)).is_err(), "{temp}");
        }
        assert!(VersionTable::new("v", Some("pg_temporal")).is_ok());
        assert!(VersionTable::new("ok", Some("a\nb")).is_err());
    }
}
