//! Errors of reading and writing revision files and project configuration.
//!
//! Every message names the file at fault, the line where it is known, and
//! says what to do about it.

use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::config::ConfigError;

/// A problem with a revision file, a configuration file or a project
/// directory. All of these are input errors (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoadError {
    /// The file or directory could not be read or written.
    #[error("{}: cannot {action}: {message}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        message: String,
    },
    /// Malformed YAML, an unknown field or a value of the wrong type.
    #[error("{}: {message}; fix the YAML (see docs/revision-format.md for the format)", at(.path, *.line, *.column))]
    Yaml {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// A required field is absent.
    #[error("{}: missing required field '{field}'; {hint}", at(.path, *.line, None))]
    MissingField {
        path: PathBuf,
        line: Option<usize>,
        field: &'static str,
        hint: String,
    },
    /// A Python revision header that cannot be read statically.
    #[error("{}: {message}", at(.path, Some(*.line), None))]
    Python {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A file in a revisions directory that does not declare a revision.
    #[error("{}: not a revision file: {reason}", .path.display())]
    NotARevision { path: PathBuf, reason: String },
    /// A bad `mergepoint.yaml` or `alembic.ini`.
    #[error("{}: {message}", at(.path, *.line, None))]
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// Nothing recognisable where a project was expected.
    #[error("{}: no mergepoint project here: looked for {looked_for}; {}", .dir.display(), .hint.as_deref().unwrap_or("run `mergepoint init` to create one, or pass --dir pointing at a project root or a revisions directory"))]
    NoProject {
        dir: PathBuf,
        looked_for: String,
        /// What to do, when the layout says more than the default (run
        /// `mergepoint init`, or pass --dir).
        hint: Option<String>,
    },
    /// Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...) at the
    /// top level of a transactional revision's SQL.
    #[error("{}: {keyword} at the top level of the {field} SQL of a transactional revision: mergepoint runs that SQL and the version-table update in one transaction, which this statement would end or change behind its back; make the revision `transactional: false` or remove the statement", at(.path, Some(*.line), None))]
    TransactionControl {
        path: PathBuf,
        line: usize,
        /// `upgrade` or `downgrade`.
        field: &'static str,
        keyword: &'static str,
    },
    /// A revision id longer than the version table can hold.
    #[error("{}: revision id '{id}' is {len} characters long, but ids are at most {limit} (the version table's version_num column is varchar({limit})); choose a shorter id", at(.path, *.line, None))]
    IdTooLong {
        path: PathBuf,
        line: Option<usize>,
        id: String,
        len: usize,
        limit: usize,
    },
    /// Something named like a revision file that is not a regular file (a
    /// directory, FIFO, socket or device). It is never opened: opening a
    /// FIFO blocks until a writer comes.
    #[error("{}: is a {kind}, not a regular file; revision files must be regular files: remove it, or rename it so that it is not named like a revision file", .path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    /// Writing would overwrite an existing file.
    #[error("{}: already exists; refusing to overwrite it{hint}", .path.display())]
    Exists { path: PathBuf, hint: String },
}

fn at(path: &Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", path.display()),
        (Some(l), None) => format!("{}:{l}", path.display()),
        _ => path.display().to_string(),
    }
}

impl LoadError {
    /// The file or directory this error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::Yaml { path, .. }
            | LoadError::MissingField { path, .. }
            | LoadError::Python { path, .. }
            | LoadError::NotARevision { path, .. }
            | LoadError::NotAFile { path, .. }
            | LoadError::IdTooLong { path, .. }
            | LoadError::TransactionControl { path, .. }
            | LoadError::Config { path, .. }
            | LoadError::Exists { path, .. } => path,
            LoadError::NoProject { dir, .. } => dir,
        }
    }

    /// The line this error points at, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            LoadError::Yaml { line, .. }
            | LoadError::MissingField { line, .. }
            | LoadError::Config { line, .. }
            | LoadError::IdTooLong { line, .. } => *line,
            LoadError::Python { line, .. } | LoadError::TransactionControl { line, .. } => {
                Some(*line)
            }
            _ => None,
        }
    }

    /// [`LoadError::IdTooLong`] if `id` is longer than
    /// [`MAX_REVISION_ID_CHARS`](super::MAX_REVISION_ID_CHARS).
    pub(crate) fn check_id_length(
        path: &Path,
        line: Option<usize>,
        id: &str,
    ) -> Result<(), LoadError> {
        let len = id.chars().count();
        if len <= super::MAX_REVISION_ID_CHARS {
            return Ok(());
        }
        Err(LoadError::IdTooLong {
            path: path.to_path_buf(),
            line,
            id: id.to_string(),
            len,
            limit: super::MAX_REVISION_ID_CHARS,
        })
    }

    pub(crate) fn io(path: &Path, action: &'static str, err: &std::io::Error) -> Self {
        LoadError::Io {
            path: path.to_path_buf(),
            action,
            message: err.to_string(),
        }
    }

    /// A serde_yaml error, with its location when it has one.
    pub(crate) fn yaml(path: &Path, err: &serde_yaml::Error) -> Self {
        let (line, column, message) = crate::config::yaml_error_parts(err);
        LoadError::Yaml {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

impl From<ConfigError> for LoadError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Io { path, message } => LoadError::Io {
                path,
                action: "read",
                message,
            },
            ConfigError::Invalid {
                path,
                line,
                message,
            } => LoadError::Config {
                path,
                line,
                message,
            },
        }
    }
}
