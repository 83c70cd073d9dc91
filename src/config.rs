//! `mergepoint.yaml`: the project configuration file, and the environment.
//!
//! Every key is optional. Unknown keys are errors, so typos are caught.
//!
//! Below [`crate::script`], which finds and reads projects: this module
//! depends on nothing of mergepoint's, and [`ConfigError`] becomes a
//! `script::LoadError` there.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The name of the configuration file at a project root.
pub const CONFIG_FILE: &str = "mergepoint.yaml";

/// The environment variable holding the database URL.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

/// The environment variable holding the schema engine's dev server URL.
pub const DEV_URL_ENV: &str = "MERGEPOINT_DEV_URL";

/// The format of a project's revision files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `<id>_<slug>.yaml` files (docs/revision-format.md).
    Native,
    /// Alembic `versions/*.py` files, read statically.
    Alembic,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Native => "native",
            Format::Alembic => "alembic",
        })
    }
}

/// A `mergepoint.yaml` that cannot be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {message}", .path.display())]
    Io { path: PathBuf, message: String },
    /// Malformed YAML, an unknown key or a value of the wrong type.
    #[error("{}{}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// A serde_yaml error's line, column and message without the " at line L
/// column C" that serde_yaml appends (messages put the location first, as
/// `path:line:column`).
pub(crate) fn yaml_error_parts(err: &serde_yaml::Error) -> (Option<usize>, Option<usize>, String) {
    let loc = err.location();
    let mut message = err.to_string();
    if let Some(l) = &loc {
        let at = format!(" at line {} column {}", l.line(), l.column());
        message = message.replacen(&at, "", 1);
    }
    (
        loc.as_ref().map(|l| l.line()),
        loc.as_ref().map(|l| l.column()),
        message,
    )
}

/// The contents of `mergepoint.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Revision file format; detected when absent.
    pub format: Option<Format>,
    /// The revisions directory, relative to the project root. Default
    /// `revisions` (native); for Alembic, the ini file decides.
    pub revisions: Option<PathBuf>,
    /// PostgreSQL URL, used when neither `--database-url` nor
    /// `DATABASE_URL` is given.
    pub database_url: Option<String>,
    /// Version table name (default `alembic_version`).
    pub version_table: Option<String>,
    /// Schema of the version table (default: the search path's first).
    pub version_table_schema: Option<String>,
    /// How long to wait for the migration lock, in seconds (default 60).
    pub lock_timeout_secs: Option<u64>,
    /// PostgreSQL `lock_timeout` for every revision's SQL (`5s`, `500ms`);
    /// a revision's own `lock_timeout:` and `--ddl-lock-timeout` override it.
    pub ddl_lock_timeout: Option<String>,
    /// PostgreSQL `statement_timeout` for every revision's SQL; a
    /// revision's own `statement_timeout:` and `--statement-timeout`
    /// override it.
    pub statement_timeout: Option<String>,
    /// How many more times a step that gave up waiting for a lock is tried
    /// (default 0); `--retries` overrides it.
    pub retries: Option<u32>,
    /// Which migration lock runs take (default advisory; `lease` behind a
    /// transaction pooler, see docs/database.md).
    pub lock: Option<LockKind>,
    /// The dev server: a PostgreSQL URL where the schema engine may create
    /// and drop temporary databases (`mergepoint diff` with a `.sql` or
    /// `rev:` side), used when neither `--dev-url` nor `MERGEPOINT_DEV_URL`
    /// is given.
    pub dev_url: Option<String>,
    /// The desired schema: a `.sql` file or a directory of `.sql` files,
    /// relative to the project root, that `mergepoint revision
    /// --autogenerate` writes a revision towards.
    pub schema: Option<PathBuf>,
    /// `off`: runs and stamps write only the version table, no
    /// `mergepoint_history` (default `on`; `--no-audit` for one run).
    pub audit: Option<Audit>,
}

/// `audit:` in `mergepoint.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audit {
    On,
    Off,
}

/// `lock:` in `mergepoint.yaml` (and `--lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    Advisory,
    Lease,
}

impl Config {
    /// Parses the text of a `mergepoint.yaml`. An empty file (or one with
    /// only comments) is the default configuration.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let empty = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
        if empty {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| {
            let (line, _, message) = yaml_error_parts(&e);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                message: if message.contains("expected one of") {
                    message
                } else {
                    format!("{message}; see the comments `mergepoint init` writes for every key")
                },
            }
        })
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let io = |message: String| ConfigError::Io {
            path: path.to_path_buf(),
            message,
        };
        // Decided before opening: a FIFO would block the open.
        let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
        if !meta.is_file() {
            return Err(io("it is not a regular file".to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        Config::parse(path, &text)
    }

    /// The database URL: the command line's, then `DATABASE_URL`, then the
    /// configuration file's.
    pub fn database_url(&self, from_cli: Option<&str>) -> Option<String> {
        from_cli
            .map(str::to_string)
            .or_else(|| {
                std::env::var(DATABASE_URL_ENV)
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .or_else(|| self.database_url.clone())
    }
}

impl Config {
    /// The dev server URL: the command line's, then `MERGEPOINT_DEV_URL`,
    /// then the configuration file's.
    pub fn dev_url(&self, from_cli: Option<&str>) -> Option<String> {
        from_cli
            .map(str::to_string)
            .or_else(|| std::env::var(DEV_URL_ENV).ok().filter(|s| !s.is_empty()))
            .or_else(|| self.dev_url.clone())
    }
}

/// The commented `mergepoint.yaml` written by `mergepoint init`.
pub const CONFIG_TEMPLATE: &str = r#"# mergepoint project configuration. Every key is optional.

# Revision file format: native (YAML revision files) or alembic
# (Alembic versions/*.py files). When absent it is detected:
# alembic if an alembic.ini sits next to this file, native otherwise.
# format: native

# Directory holding the revision files, relative to this file.
# revisions: revisions

# PostgreSQL URL. --database-url and the DATABASE_URL environment variable
# take precedence. Prefer the environment for anything with a password.
# database_url: postgresql://app@localhost:5432/app

# Table recording the applied revisions (Alembic's, so both tools agree).
# version_table: alembic_version

# Schema of that table (default: the first schema on the search path).
# version_table_schema: public

# Seconds to wait for another runner's migration lock before giving up.
# lock_timeout_secs: 60

# PostgreSQL lock_timeout and statement_timeout for each revision's SQL, so
# that an ALTER TABLE waiting for its lock does not stall every query behind
# it. A revision's own `lock_timeout:` / `statement_timeout:` override these;
# --ddl-lock-timeout / --statement-timeout override both. Default: none.
# ddl_lock_timeout: 5s
# statement_timeout: 10min

# How many more times a step that gave up waiting for a lock (lock_timeout)
# is tried, with a growing pause (0.5 s, 1 s, 2 s, ...). Default 0.
# retries: 3

# Migration lock: advisory (a PostgreSQL advisory lock) or lease (a row in
# mergepoint_lock, for connections through PgBouncer in transaction pooling).
# lock: advisory

# Dev server for the schema engine (`mergepoint diff` with a .sql or rev:
# side): a PostgreSQL server where mergepoint creates and drops temporary
# databases named mergepoint_tmp_*. Needs CREATEDB. --dev-url and the
# MERGEPOINT_DEV_URL environment variable take precedence.
# dev_url: postgresql://postgres@localhost:5432/postgres

# The desired schema, for `mergepoint revision --autogenerate`: a .sql file
# or a directory of .sql files (read in sorted order), relative to this file.
# The new revision's upgrade is the SQL from the schema at the head to this
# one, its downgrade the SQL back.
# schema: schema.sql

# Audit history: on (default) records every step, stamp and repair in
# mergepoint_history beside the version table. off keeps mergepoint to the
# version table alone (for a database shared with Alembic that must not
# get another table); lost with it: `mergepoint log`, checksum drift in
# `check --database`, and the report of interrupted non-transactional steps.
# audit: on
"#;
