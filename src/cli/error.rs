/*!
The one error type every command returns.

A [`CliError`] carries what kind of failure it is (which decides the exit
code), a message that names the file, revision or identifier at fault, and
hints that say what to do next. Library errors convert into it with `From`,
so commands can use `?` and still give the user something actionable.
*/

use crate::db::DbError;
use crate::graph::{GraphErrors, LookedUp, ResolveError};
use crate::schema::{DiffError, ReadError, SourceError};
use crate::script::LoadError;
use std::fmt;

/// What went wrong, in the terms the exit code speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A check did its job and found something (`heads --check` with two
    /// heads, `check` with several heads). Exit 1.
    CheckFailed,
    /// Bad arguments, bad identifiers, bad revision files. Exit 2.
    Input,
    /// The database refused or failed. Exit 3.
    Database,
    /// The migration lock was not obtained in time. Exit 4.
    LockTimeout,
    /// Writing to stdout failed because the reader went away (`| head`).
    /// Not an error for the user: exit 0 quietly.
    BrokenPipe,
    /// Any other I/O failure (a file that cannot be written, ...). Exit 2.
    Io,
}

impl ErrorKind {
    /// The process exit code for this kind (see docs/cli.md).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::CheckFailed => 1,
            ErrorKind::Input | ErrorKind::Io => 2,
            ErrorKind::Database => 3,
            ErrorKind::LockTimeout => 4,
            ErrorKind::BrokenPipe => 0,
        }
    }
}

/// An error to show the user: `error: <message>` then one `hint: ...` line
/// per hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
    pub hints: Vec<String>,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// A user input error (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        CliError::new(ErrorKind::Input, message)
    }

    /// A failed check (exit 1).
    pub fn check_failed(message: impl Into<String>) -> Self {
        CliError::new(ErrorKind::CheckFailed, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::new(ErrorKind::BrokenPipe, "broken pipe")
        } else {
            CliError::new(ErrorKind::Io, err.to_string())
        }
    }
}

impl From<ResolveError> for CliError {
    fn from(err: ResolveError) -> Self {
        let hint = match &err {
            ResolveError::MultipleHeads { .. } => Some(
                "run 'mergepoint heads' to list them, or 'mergepoint merge heads -m MSG' to join them",
            ),
            ResolveError::Unknown {
                ident,
                looked_up: LookedUp::Revision,
            } => Some(if ident.chars().count() < 4 {
                "give at least four characters of a revision id"
            } else {
                "run 'mergepoint history' to see the revisions"
            }),
            _ => None,
        };
        let out = CliError::input(err.to_string());
        match hint {
            Some(h) => out.with_hint(h),
            None => out,
        }
    }
}

impl From<GraphErrors> for CliError {
    fn from(err: GraphErrors) -> Self {
        let n = err.problems.len();
        let mut message = if n == 1 {
            "the revision graph is invalid:".to_string()
        } else {
            format!("the revision graph has {n} problems:")
        };
        for p in &err.problems {
            message.push_str("\n  ");
            message.push_str(&p.to_string());
        }
        CliError::input(message).with_hint("run 'mergepoint check' to see every problem at once")
    }
}

impl From<serde_json::Error> for CliError {
    fn from(err: serde_json::Error) -> Self {
        if err.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
            CliError::new(ErrorKind::BrokenPipe, "broken pipe")
        } else {
            CliError::new(ErrorKind::Io, format!("could not write JSON: {err}"))
        }
    }
}

impl From<LoadError> for CliError {
    fn from(err: LoadError) -> Self {
        CliError::input(err.to_string())
    }
}

/// The kind (so the exit code) and hints of a database error. Every
/// variant is named, so a new one must be given its kind here.
pub fn db_error_kind(err: &DbError) -> (ErrorKind, &'static [&'static str]) {
    match err {
        DbError::Plan(_) => (ErrorKind::Input, &[]),
        DbError::Connect { .. }
        | DbError::Tls { .. }
        | DbError::Query { .. }
        | DbError::StepFailed(_) => (ErrorKind::Database, &[]),
        DbError::Settings { .. } => (ErrorKind::Input, &[]),
        DbError::BrokenVersionTable { .. } => (
            ErrorKind::Database,
            &[
                "'mergepoint check --database' shows the exact repair SQL; 'mergepoint check --database --repair' runs it",
                "or replace the rows outright with 'mergepoint stamp --purge TARGET'",
            ],
        ),
        DbError::LockTimeout { .. } | DbError::LeaseTimeout { .. } | DbError::LockLost { .. } => {
            (ErrorKind::LockTimeout, &[])
        }
        DbError::PoolerDetected { .. } => (ErrorKind::Input, &[]),
        DbError::MissingSql { .. }
        | DbError::StepSource { .. }
        | DbError::PsqlCommand { .. }
        | DbError::InvalidName { .. }
        | DbError::NotOneTransaction { .. }
        | DbError::TransactionControl { .. }
        | DbError::ClientCopy { .. } => (ErrorKind::Input, &[]),
    }
}

impl From<DbError> for CliError {
    fn from(err: DbError) -> Self {
        if let DbError::Plan(e) = err {
            // Keeps the planner's hints (e.g. several heads).
            return CliError::from(e);
        }
        let (kind, hints) = db_error_kind(&err);
        hints
            .iter()
            .fold(CliError::new(kind, err.to_string()), |e, h| e.with_hint(*h))
    }
}

impl From<SourceError> for CliError {
    fn from(err: SourceError) -> Self {
        let message = err.to_string();
        match err {
            SourceError::NoDevServer { .. } => CliError::input(message).with_hint(
                "no dev server: pass --dev-url, set MERGEPOINT_DEV_URL or dev_url: in mergepoint.yaml (any server where mergepoint may create and drop mergepoint_tmp_* databases)",
            ),
            SourceError::NotASide { .. } => CliError::input(message).with_hint(
                "a side is a postgresql:// URL, key=value settings, a .sql file or directory, or rev:IDENT (rev:head, rev:base, rev:3f2a)",
            ),
            SourceError::Io { .. } | SourceError::SqlFile { .. } | SourceError::NoSql { .. } => {
                CliError::input(message)
            }
            SourceError::UnknownRow { .. } => CliError::input(message).with_hint(
                "run 'mergepoint check --database' to see the version table against the files, and add the missing revision file",
            ),
            SourceError::Resolve { source, .. } => {
                let hints = CliError::from(source).hints;
                hints
                    .into_iter()
                    .fold(CliError::input(message), |e, h| e.with_hint(h))
            }
            SourceError::Build { source, .. } => {
                let (kind, hints) = db_error_kind(&source);
                hints
                    .iter()
                    .fold(CliError::new(kind, message), |e, h| e.with_hint(*h))
            }
            SourceError::Db(e) => CliError::from(*e),
            SourceError::Read { source, .. } => match source {
                ReadError::Db(_) => CliError::new(ErrorKind::Database, message),
                ReadError::Unsupported { .. } => CliError::input(message).with_hint(
                    "leave that schema out with --schema NAME (repeatable), or drop the object; docs/schema.md lists what is supported",
                ),
            },
        }
    }
}

impl From<DiffError> for CliError {
    fn from(err: DiffError) -> Self {
        CliError::input(err.to_string())
            .with_hint("docs/schema.md lists the changes the diff can plan")
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;
