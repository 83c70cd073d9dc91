//! The seam between the runner and a database: what a run needs from its
//! work session, and nothing more. [`super::pg_session::PgSession`] is the
//! PostgreSQL implementation; [`super::memory::MemorySession`] is an
//! in-memory double the runner's unit tests use to reach every failure path.
//!
//! The runner drives transactions explicitly (`begin`, `commit`,
//! `rollback`), so a session needs no transaction object of its own. Every
//! statement of mergepoint's own bookkeeping (version rows, audit rows) is
//! written by the session with schema-qualified names resolved before the
//! run, and after [`Session::restore_settings`], so nothing a revision does
//! to the session (`search_path`, `SET ROLE`, `statement_timeout`) moves
//! or breaks it.

use super::error::DbError;
use crate::graph::{Direction, Step, VersionOp};
use std::time::SystemTime;

/// A failure of one session call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    /// One line: the server's error, or the driver's.
    pub message: String,
    /// The connection is gone: nothing more can be done on this session.
    pub connection_lost: bool,
    /// The statement gave up waiting for a lock (`lock_timeout`, SQLSTATE
    /// 55P03): it changed nothing and may be tried again.
    pub lock_timeout: bool,
}

impl SessionError {
    pub fn new(message: impl Into<String>) -> Self {
        SessionError {
            message: message.into(),
            connection_lost: false,
            lock_timeout: false,
        }
    }

    /// The connection is gone.
    pub fn lost(message: impl Into<String>) -> Self {
        SessionError {
            connection_lost: true,
            ..SessionError::new(message)
        }
    }
}

/// PostgreSQL's `lock_timeout` and `statement_timeout` for a revision's SQL
/// (durations as PostgreSQL reads them, checked by
/// [`crate::sql::check_duration`]); None leaves the session's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub lock_timeout: Option<String>,
    pub statement_timeout: Option<String>,
}

impl Timeouts {
    /// Each field from `self`, else from `fallback`.
    pub fn or(&self, fallback: &Timeouts) -> Timeouts {
        Timeouts {
            lock_timeout: self
                .lock_timeout
                .clone()
                .or_else(|| fallback.lock_timeout.clone()),
            statement_timeout: self
                .statement_timeout
                .clone()
                .or_else(|| fallback.statement_timeout.clone()),
        }
    }

    /// True when neither is set.
    pub fn is_empty(&self) -> bool {
        self.lock_timeout.is_none() && self.statement_timeout.is_none()
    }
}

/// One audit row (`mergepoint_history`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord<'a> {
    pub revision: &'a str,
    /// `upgrade`, `downgrade`, `stamp` or `accept`.
    pub direction: &'a str,
    /// Checksum of the SQL that ran (None for stamps).
    pub sql_sha256: Option<&'a str>,
    /// With an upgrade: checksum of the downgrade SQL at that time.
    pub downgrade_sha256: Option<&'a str>,
    pub started_at: SystemTime,
    pub duration_ms: f64,
    pub success: bool,
    pub error: Option<&'a str>,
}

/// How recording a step writes its audit row.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditWrite<'a> {
    /// A new row.
    Insert(AuditRecord<'a>),
    /// Rewrites the row written before the step started (non-transactional
    /// steps).
    Finish(i64, AuditRecord<'a>),
}

/// Why [`Session::commit_step`] did not commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The transaction [`Session::begin`] opened is gone (the revision's own
    /// COMMIT or ROLLBACK ended it); none of the bookkeeping ran.
    TransactionEnded,
    /// The step guard is no longer held; nothing was committed.
    GuardLost(String),
    /// The bookkeeping or the COMMIT failed. Unless the connection was lost
    /// (then nobody can say), nothing was committed.
    Failed(SessionError),
}

/// What the audit row of a non-transactional step says while the step
/// runs. If the process dies, the row stays like this, and the next run
/// reports the interrupted attempt before it retries.
pub const UNFINISHED: &str =
    "unfinished: this non-transactional step started and has not finished (still running, or interrupted)";

/// What such a row says once a later run has reported it.
pub const INTERRUPTED: &str =
    "interrupted: the run ended during this non-transactional step; statements it had committed stay committed, and the step was not recorded";

/// An earlier attempt of a non-transactional step that never finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedAttempt {
    /// Its audit row.
    pub audit_id: i64,
    pub revision: String,
    pub direction: Direction,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// `user@host` that ran it.
    pub by: String,
}

/// What the runner needs from its work session.
pub trait Session {
    /// The version table's name for messages (`schema.table`).
    fn table_name(&self) -> String;

    /// The version table's rows exactly as stored, duplicates kept, in
    /// any order; empty if there is no table.
    fn version_rows(&mut self) -> Result<Vec<String>, DbError>;

    /// Creates the version and audit tables if missing (and brings an old
    /// audit table up to date).
    fn ensure_tables(&mut self) -> Result<(), DbError>;

    /// Audit rows of non-transactional steps that started and never
    /// finished (see [`UNFINISHED`]).
    fn unfinished_attempts(&mut self) -> Result<Vec<InterruptedAttempt>, DbError>;

    /// Marks those rows as reported ([`INTERRUPTED`]).
    fn mark_interrupted(&mut self, audit_ids: &[i64]) -> Result<(), DbError>;

    /// Puts the session back to its settings at connect time (`RESET ALL`,
    /// `RESET ROLE`, `RESET SESSION AUTHORIZATION`, then mergepoint's own).
    /// Works inside a transaction too.
    fn restore_settings(&mut self) -> Result<(), SessionError>;

    /// Opens a transaction.
    fn begin(&mut self) -> Result<(), SessionError>;

    /// Sets `lock_timeout` / `statement_timeout` for the revision's SQL:
    /// for the open transaction (`SET LOCAL`), or with no transaction open
    /// for the session until the next [`Session::restore_settings`].
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), SessionError>;

    /// The sessions the work session was seen waiting for lately (a lock
    /// it could not get), for messages. Empty when unknown.
    fn recent_blockers(&mut self) -> Vec<super::error::Blocker> {
        Vec::new()
    }

    /// True if the transaction [`Session::begin`] opened is still the
    /// session's transaction (a revision's own COMMIT or ROLLBACK ends it).
    /// Also true while it is aborted by an error, waiting for a rollback.
    fn transaction_intact(&mut self) -> Result<bool, SessionError>;

    /// True if the session is inside a transaction block (in autocommit
    /// mode a revision's own BEGIN leaves one open).
    fn in_transaction_block(&mut self) -> Result<bool, SessionError>;

    fn commit(&mut self) -> Result<(), SessionError>;

    /// Rolls back whatever transaction is open; best effort.
    fn rollback(&mut self);

    /// Runs a revision's SQL (one statement or a whole script).
    fn execute(&mut self, sql: &str) -> Result<(), SessionError>;

    /// Runs a transactional step: its SQL ([`Session::execute`]), or, for
    /// a step whose text is an Alembic revision file ([`super::StepText`]
    /// `alembic`), that revision's function, on a session that can run
    /// Python. The default runs `sql`.
    fn execute_step(&mut self, step: &Step, sql: &str) -> Result<(), SessionError> {
        let _ = step;
        self.execute(sql)
    }

    /// Changes the version table, checking that each UPDATE and DELETE
    /// hits exactly one row.
    fn apply_version_ops(&mut self, ops: &[VersionOp]) -> Result<(), SessionError>;

    /// Records a step inside the run's transaction, in one round trip where
    /// the session can: checks that the transaction [`Session::begin`]
    /// opened is intact ([`CommitError::TransactionEnded`] if not), then
    /// settings restored, version-table change (each UPDATE and DELETE
    /// checked to hit one row), audit row. The step guard is not checked:
    /// nothing commits before [`Session::commit_run`], which checks it.
    fn record(&mut self, ops: &[VersionOp], audit: &AuditWrite<'_>) -> Result<(), CommitError>;

    /// Records a step and commits, in one round trip where the session
    /// can: with `opened`, first checks that the transaction
    /// [`Session::begin`] opened is intact; without, opens one; then checks
    /// the step guard, [`Session::record`]s, and commits. On an error other
    /// than a lost connection, nothing was committed and a transaction may
    /// be left to roll back.
    fn commit_step(
        &mut self,
        ops: &[VersionOp],
        audit: &AuditWrite<'_>,
        opened: bool,
    ) -> Result<(), CommitError>;

    /// Commits the run's one transaction, in one round trip where the
    /// session can: checks that the transaction [`Session::begin`] opened is
    /// intact and that the step guard (or, without one, the lock) is still
    /// held on the server, then commits. On an error other than a lost
    /// connection, nothing was committed.
    fn commit_run(&mut self) -> Result<(), CommitError>;

    /// Deletes every version-table row (`stamp --purge` of a table whose
    /// rows repeat, where row-by-row deletes cannot be checked).
    fn clear_versions(&mut self) -> Result<(), SessionError>;

    /// Writes an audit row; returns its id.
    fn write_audit(&mut self, record: &AuditRecord<'_>) -> Result<i64, SessionError>;

    /// Rewrites the audit row `id` (a non-transactional step's, written
    /// before it started) with how the step ended.
    fn finish_audit(&mut self, id: i64, record: &AuditRecord<'_>) -> Result<(), SessionError>;

    /// Whether this run still holds the migration lock and the step guard
    /// (see [`super::lock`]); checked before each step, between statements
    /// of non-transactional steps and before each commit.
    fn check_lock(&mut self) -> LockState;

    /// [`Session::check_lock`] before each step inside the run's one
    /// transaction: nothing commits before [`Session::commit_run`] checks
    /// the step guard on the server, so a session may skip asking the
    /// server here (a guard lost in the run only costs the wasted work).
    fn check_lock_in_run(&mut self) -> LockState {
        self.check_lock()
    }
}

/// What [`Session::check_lock`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Both held.
    Held,
    /// The migration lock is gone, but the work session still holds the
    /// step guard: no other runner can start a step until this run lets go
    /// of it, so the step in progress may finish; no new one starts.
    LockLost(String),
    /// The step guard is gone too (or cannot be checked): stop at once.
    GuardLost(String),
}
