//! The error type of the database layer, with the CLI exit code of each.

use crate::graph::ResolveError;
use std::time::Duration;
use thiserror::Error;

/// Everything that can go wrong talking to PostgreSQL. Messages never
/// contain a password: URLs are masked and driver messages are scrubbed.
#[derive(Debug, Error)]
pub enum DbError {
    /// The server could not be reached or refused the login (exit code 3).
    #[error("cannot connect to {url}: {message}; check the URL and that the server is running")]
    Connect { url: String, message: String },
    /// A statement of mergepoint's own failed (exit code 3).
    #[error("database error while {context}: {message}")]
    Query { context: String, message: String },
    /// The migration lock was not obtained in time (exit code 4).
    #[error("could not take the migration lock for {table} within {:.1} s: another mergepoint run holds it; wait for it to finish or raise --lock-timeout", .waited.as_secs_f64())]
    LockTimeout { table: String, waited: Duration },
    /// Some steps of the plan have no SQL we can run (Alembic `.py`
    /// revisions). Raised before anything is changed (exit code 2).
    #[error("Alembic revisions can't be run by mergepoint: no SQL for {}; nothing was changed", .revisions.join(", "))]
    MissingSql { revisions: Vec<String> },
    /// A revision's SQL has a backslash outside quotes and comments: psql
    /// would run it as a meta-command (`\! cmd` runs a shell command), so
    /// no offline script is written (exit code 2). Online, the server
    /// rejects it as a syntax error.
    #[error("revision {revision}: line {line} of its {direction} SQL is a psql meta-command ({text}); psql would run it instead of sending it to the server (which rejects a backslash outside quotes online too), so no script was written; remove it, or quote it if it is data")]
    PsqlCommand {
        revision: String,
        direction: &'static str,
        line: usize,
        text: String,
    },
    /// A table or schema name that cannot be used (exit code 2).
    #[error("invalid {what} '{value}': {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// The plan could not be made from the version table (exit code 2).
    #[error(transparent)]
    Plan(#[from] ResolveError),
    /// The options do not fit the plan (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A revision's SQL (or its version-table update) failed (exit code 3).
    #[error("{direction} of revision {revision} failed: {message}\n{}", step_failure_note(.applied, *.partial_effects, *.run_rolled_back))]
    StepFailed {
        revision: String,
        direction: String,
        message: String,
        /// Revisions committed by this run before the failure, in order.
        applied: Vec<String>,
        /// The failing revision was non-transactional: statements before
        /// the failing one were committed and may have left effects.
        partial_effects: bool,
        /// `transaction_per_run`: the whole run was rolled back.
        run_rolled_back: bool,
    },
}

fn step_failure_note(applied: &[String], partial: bool, run_rolled_back: bool) -> String {
    let mut out = String::new();
    if partial {
        out.push_str("This revision is non-transactional: statements before the failing one were committed, so partial effects may remain; inspect the database before re-running. The version table was not updated for it.\n");
    } else {
        out.push_str("Its transaction was rolled back: the schema and the version table are as they were before it.\n");
    }
    if run_rolled_back {
        out.push_str("The whole run was one transaction and was rolled back: nothing from this run was applied.");
    } else if applied.is_empty() {
        out.push_str("No revision was applied by this run.");
    } else {
        out.push_str(&format!(
            "Already applied (committed) by this run: {}.",
            applied.join(", ")
        ));
    }
    out
}

impl DbError {
    /// The process exit code for this error: 3 database, 4 lock timeout,
    /// 2 usage or input.
    pub fn exit_code(&self) -> i32 {
        match self {
            DbError::Connect { .. } | DbError::Query { .. } | DbError::StepFailed { .. } => 3,
            DbError::LockTimeout { .. } => 4,
            DbError::MissingSql { .. }
            | DbError::PsqlCommand { .. }
            | DbError::InvalidName { .. }
            | DbError::Plan(_)
            | DbError::Usage(_) => 2,
        }
    }

    pub(crate) fn query(context: impl Into<String>, e: &postgres::Error) -> Self {
        DbError::Query {
            context: context.into(),
            message: pg_message(e),
        }
    }
}

/// A driver error as one line: severity, message, detail and hint for
/// server errors, the driver's text otherwise.
pub(crate) fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" (detail: {d})"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!(" (hint: {h})"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                src = inner.source();
            }
            s
        }
    }
}
