//! `mergepoint.yaml`: the project configuration file, and the environment.
//!
//! Every key is optional. Unknown keys are errors, so typos are caught.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::script::{Format, LoadError};

/// The name of the configuration file at a project root.
pub const CONFIG_FILE: &str = "mergepoint.yaml";

/// The environment variable holding the database URL.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

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
}

impl Config {
    /// Parses the text of a `mergepoint.yaml`. An empty file (or one with
    /// only comments) is the default configuration.
    pub fn parse(path: &Path, text: &str) -> Result<Config, LoadError> {
        let empty = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
        if empty {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| match LoadError::yaml(path, &e) {
            LoadError::Yaml {
                path,
                line,
                message,
                ..
            } => LoadError::Config {
                path,
                line,
                message: if message.contains("expected one of") {
                    message
                } else {
                    format!("{message}; see the comments `mergepoint init` writes for every key")
                },
            },
            other => other,
        })
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, "read", &e))?;
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
"#;
