//! The error type of the database layer. Variants carry data; the words a
//! user reads are made here from that data, and the CLI decides the exit
//! code and hints from the variant (`cli::error`).

use crate::graph::{Direction, ResolveError};
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// Everything that can go wrong talking to PostgreSQL. Messages never
/// contain a password: URLs are masked and driver messages are scrubbed.
#[derive(Debug, Error)]
pub enum DbError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {url}: {message}; check the URL and that the server is running")]
    Connect { url: String, message: String },
    /// A TLS certificate check failed: the message says which (the CA
    /// check, the host name check) and how to fix it.
    #[error("cannot connect to {url}: {message}")]
    Tls { url: String, message: String },
    /// Connection settings that cannot be used: a bad sslmode, port or
    /// timeout, an unreadable certificate or key file (exit code 2).
    #[error("invalid connection settings for {url}: {message}")]
    Settings { url: String, message: String },
    /// A statement of mergepoint's own failed.
    #[error("database error while {context}: {message}")]
    Query { context: String, message: String },
    /// The migration lock was not obtained in time.
    #[error("could not take the migration lock for {table} within {:.1} s: {}; wait for it to finish or raise --lock-timeout", .waited.as_secs_f64(), holder_text(.holder.as_deref()))]
    LockTimeout {
        table: String,
        waited: Duration,
        /// Who holds it, when the server could tell.
        holder: Option<Box<LockHolder>>,
    },
    /// The lease lock (`--lock lease`) was not obtained in time.
    #[error("could not take the migration lease for {table} within {:.1} s: it is held by {holder}, until {expires_at} (in {expires_in} s, server time) unless renewed; wait for it to finish or raise --lock-timeout", .waited.as_secs_f64())]
    LeaseTimeout {
        table: String,
        waited: Duration,
        /// The holder's description (mergepoint version, pid, host).
        holder: String,
        /// When the lease expires (UTC, the server's clock).
        expires_at: String,
        /// Seconds until then, as the server counts them.
        expires_in: String,
    },
    /// The sessions run through a pooler in transaction or statement
    /// pooling mode, where the session-level advisory lock protects
    /// nothing. Refused before the lock is taken and anything is changed.
    #[error("the connection goes through a connection pooler in transaction or statement pooling mode ({detail}): the session-level advisory lock cannot protect a run there, so nothing was done; use --lock lease (or `lock: lease` in mergepoint.yaml), or connect directly to PostgreSQL or through session pooling")]
    PoolerDetected { detail: String },
    /// The migration lock was lost during the run (its session was
    /// terminated, or timed out): the run stopped before its next step.
    #[error("{}", lock_lost_text(.table, .reason, .applied, .stopped_before.as_deref()))]
    LockLost {
        table: String,
        /// What the lock check saw.
        reason: String,
        /// Revisions this run committed (and recorded) before it stopped.
        applied: Vec<String>,
        /// The step that was not started (or was rolled back) because of it.
        stopped_before: Option<String>,
    },
    /// Some steps of the plan have no SQL we can run (Alembic `.py`
    /// revisions). Raised before anything is changed.
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
    /// A table or schema name that cannot be used.
    #[error("invalid {what} '{value}': {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// The plan could not be made from the version table.
    #[error(transparent)]
    Plan(#[from] ResolveError),
    /// A step's SQL could not be read when it was about to run (its file
    /// changed, vanished or no longer parses). Raised before anything is
    /// changed.
    #[error("the SQL of revision {revision} could not be read for this run: {message}; nothing was changed")]
    StepSource { revision: String, message: String },
    /// `--transaction-per-run` with a plan that has a non-transactional step.
    #[error("revision {revision} is non-transactional, so the run cannot be one transaction; nothing was changed; run without --transaction-per-run")]
    NotOneTransaction { revision: String },
    /// A transactional revision contains a transaction-control statement
    /// (COMMIT, ROLLBACK, ...), which would end mergepoint's transaction
    /// half way. Refused before anything is changed.
    #[error("{} of revision {revision} contains `{keyword}` at line {line} of its SQL, which would end the transaction mergepoint runs it in; nothing was changed; mark the revision `transactional: false`, or remove the statement", .direction.as_str())]
    TransactionControl {
        revision: String,
        direction: Direction,
        keyword: String,
        line: usize,
    },
    /// A revision's SQL streams data through the client (`COPY ... FROM
    /// STDIN` / `TO STDOUT`). Refused before anything is changed.
    #[error("{} of revision {revision} has `{keyword}` at line {line} of its SQL, which streams data through the client; mergepoint does not, so nothing was changed; load the data from a server-side file or with INSERT ... SELECT", .direction.as_str())]
    ClientCopy {
        revision: String,
        direction: Direction,
        keyword: String,
        line: usize,
    },
    /// The version table is not a valid set of applied heads for these
    /// revisions. Refused before anything is changed.
    #[error("{}", broken_table_text(.table, .problems))]
    BrokenVersionTable {
        table: String,
        problems: Vec<VersionTableProblem>,
    },
    /// A revision's SQL (or its version-table update) failed.
    #[error("{0}")]
    StepFailed(Box<StepFailure>),
}

/// The session holding a lock, from `pg_locks` and `pg_stat_activity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: i32,
    pub application_name: String,
    /// Client address, or `local` for a unix socket.
    pub client: String,
    pub user: String,
    /// When the holding session started (RFC 3339, UTC).
    pub since: String,
}

/// A session the work session waited for (`pg_blocking_pids`), seen by
/// the lock watcher while the step ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub pid: i32,
    pub application_name: String,
    pub user: String,
    /// When its current (or last) query started (RFC 3339, UTC).
    pub query_start: String,
    /// Its current (or last) query, shortened.
    pub query: String,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (application '{}', user {}, query started {}: {})",
            self.pid, self.application_name, self.user, self.query_start, self.query
        )
    }
}

fn holder_text(holder: Option<&LockHolder>) -> String {
    match holder {
        Some(h) => format!(
            "it is held by pid {} (application '{}', user {}, from {}, connected since {}); see pg_stat_activity",
            h.pid, h.application_name, h.user, h.client, h.since
        ),
        None => "another session holds it (it ended before it could be named)".to_string(),
    }
}

fn lock_lost_text(table: &str, reason: &str, applied: &[String], before: Option<&str>) -> String {
    let mut s = format!("the migration lock for {table} was lost during the run ({reason}); ");
    match before {
        Some(rev) => s.push_str(&format!(
            "the run stopped before revision {rev}, so another runner cannot overlap it. "
        )),
        None => s.push_str("the run stopped. "),
    }
    if applied.is_empty() {
        s.push_str("No revision was applied by this run.");
    } else {
        s.push_str(&format!(
            "Applied and recorded by this run before that: {}.",
            applied.join(", ")
        ));
    }
    s.push_str(
        " Rerun to continue (check idle_session_timeout and anything that terminates sessions).",
    );
    s
}

/// One way the version table's rows are wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VersionTableProblem {
    /// A row the revisions do not know.
    UnknownRevision { revision: String },
    /// A row that is an ancestor of another row.
    NotAHead {
        revision: String,
        ancestor_of: String,
    },
    /// The same row more than once (the primary key is gone).
    Duplicate { revision: String, count: usize },
}

impl fmt::Display for VersionTableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionTableProblem::UnknownRevision { revision } => {
                write!(f, "'{revision}' is not in the revisions directory")
            }
            VersionTableProblem::NotAHead {
                revision,
                ancestor_of,
            } => write!(
                f,
                "{revision} is an ancestor of {ancestor_of}, which is also there (the rows overlap)"
            ),
            VersionTableProblem::Duplicate { revision, count } => {
                write!(f, "{revision} is there {count} times")
            }
        }
    }
}

fn broken_table_text(table: &str, problems: &[VersionTableProblem]) -> String {
    let mut s = format!(
        "the version table {table} is not a valid set of applied heads, so nothing was changed:"
    );
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}

/// What happened to the failing step's own changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEffects {
    /// Its transaction was rolled back: as if it never ran.
    RolledBack,
    /// A non-transactional step: this many of its statements committed
    /// before the failure.
    PartlyCommitted { committed: usize, total: usize },
    /// Every statement committed, but recording it failed: the schema has
    /// the change and the version table does not.
    CommittedNotRecorded,
    /// The revision's own COMMIT/ROLLBACK ended mergepoint's transaction:
    /// some of its statements may have committed.
    TransactionEndedByRevision,
    /// The connection was lost while committing: it may or may not have
    /// committed.
    Unknown,
}

/// How the rest of the run fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEffects {
    /// One transaction per step: the steps in `applied` stay committed.
    PerStep,
    /// `--transaction-per-run`, rolled back as a whole.
    RunRolledBack,
    /// `--transaction-per-run`, but a revision ended the run's transaction:
    /// earlier steps may have committed.
    RunTransactionEnded,
    /// `--transaction-per-run`, connection lost while committing.
    RunUnknown,
}

/// A step that failed, and exactly what it left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub revision: String,
    pub direction: Direction,
    /// The server's (or mergepoint's) error.
    pub message: String,
    /// Revisions committed and recorded by this run before the failure.
    pub applied: Vec<String>,
    pub effects: StepEffects,
    pub run: RunEffects,
    /// Why the failure could not be written to the audit table, if so.
    pub audit_error: Option<String>,
    /// The step gave up waiting for a lock (`lock_timeout`), after this
    /// many attempts in all.
    pub lock_timeout_attempts: Option<u32>,
    /// Who it waited for, when the lock watcher saw it.
    pub blockers: Vec<Blocker>,
}

impl StepFailure {
    /// True if the database may hold changes the version table does not
    /// account for.
    pub fn may_have_partial_effects(&self) -> bool {
        !matches!(self.effects, StepEffects::RolledBack)
            || matches!(
                self.run,
                RunEffects::RunTransactionEnded | RunEffects::RunUnknown
            )
    }
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of revision {} failed: {}",
            self.direction.as_str(),
            self.revision,
            self.message
        )?;
        if let Some(e) = &self.audit_error {
            write!(
                f,
                " (also, the failure could not be recorded in mergepoint_history: {e})"
            )?;
        }
        f.write_str("\n")?;
        if let Some(n) = self.lock_timeout_attempts {
            let tries = if n == 1 {
                "1 attempt".to_string()
            } else {
                format!("{n} attempts")
            };
            match self.blockers.as_slice() {
                [] => writeln!(
                    f,
                    "It gave up waiting for a lock ({tries}); the session holding it was not seen (look in pg_locks)."
                )?,
                blockers => {
                    let who: Vec<String> = blockers.iter().map(Blocker::to_string).collect();
                    writeln!(
                        f,
                        "It gave up waiting for a lock ({tries}), held by {}.",
                        who.join("; ")
                    )?
                }
            }
        }
        let per_run = self.run != RunEffects::PerStep;
        match self.effects {
            StepEffects::RolledBack if per_run => {}
            StepEffects::RolledBack => f.write_str(
                "Its transaction was rolled back: the schema and the version table are as they were before it.\n",
            )?,
            StepEffects::PartlyCommitted { committed, total } => writeln!(
                f,
                "This revision is non-transactional: {committed} of its {total} statements committed before the failure, so partial effects may remain; inspect the database before re-running. The version table was not updated for it."
            )?,
            StepEffects::CommittedNotRecorded => f.write_str(
                "All of its statements committed, but the version table could not be updated: the schema has the change and the version table does not; inspect the database, then 'mergepoint stamp' the revision it matches.\n",
            )?,
            StepEffects::TransactionEndedByRevision => f.write_str(
                "Its SQL ended mergepoint's transaction itself (COMMIT, ROLLBACK or similar): statements up to that point may have committed, and the version table was not updated for it; inspect the database before re-running.\n",
            )?,
            StepEffects::Unknown => f.write_str(
                "The connection was lost while committing: the step may or may not have been committed; run 'mergepoint current' and inspect the database before re-running.\n",
            )?,
        }
        match self.run {
            RunEffects::RunRolledBack => f.write_str(
                "The whole run was one transaction and was rolled back: nothing from this run was applied.",
            ),
            RunEffects::RunTransactionEnded => f.write_str(
                "The whole run was meant to be one transaction, but a revision ended it: steps before this one may have committed; run 'mergepoint current' and inspect the database.",
            ),
            RunEffects::RunUnknown => f.write_str(
                "The whole run was one transaction; whether it committed is unknown: run 'mergepoint current'.",
            ),
            RunEffects::PerStep if self.applied.is_empty() => {
                f.write_str("No revision was applied by this run.")
            }
            RunEffects::PerStep => write!(
                f,
                "Already applied (committed) by this run: {}.",
                self.applied.join(", ")
            ),
        }
    }
}

impl DbError {
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
