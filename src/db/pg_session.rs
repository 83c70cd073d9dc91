//! [`Session`] on a real PostgreSQL work session.
//!
//! mergepoint's own statements are sent as simple queries with quoted
//! literals and the version table's schema-qualified names, never as
//! prepared statements: a revision may `DEALLOCATE ALL`, `DISCARD ALL`,
//! change `search_path` or `standard_conforming_strings`, and none of that
//! can touch the bookkeeping (settings are restored before it runs).

use super::audit;
use super::conn::Database;
use super::error::{pg_message, Blocker, DbError};
use super::lock::{self, HeldLock};
use super::names::{quote_literal, VersionTable};
use super::session::{
    AuditRecord, AuditWrite, CommitError, InterruptedAttempt, LockState, Session, SessionError,
    Timeouts, INTERRUPTED,
};
use super::version;
use crate::graph::VersionOp;
use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{Client, SimpleQueryMessage};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// The work session of one run, holding the step guard.
pub struct PgSession<'a> {
    client: &'a mut Client,
    /// Schema-qualified (resolved before the run).
    table: VersionTable,
    lock: &'a dyn HeldLock,
    /// The step guard's key, when the lock needs one (see [`super::lock`]).
    guard: Option<i64>,
    /// The transaction id `begin` saw, to notice a revision ending it.
    xid: Option<String>,
    /// `SET client_connection_check_interval` works (PostgreSQL 14+).
    check_interval: bool,
    /// `restore_settings` was asked for and not yet sent.
    reset_pending: bool,
    /// The step guard was seen held on the server and no revision SQL has
    /// run since: only a revision (`pg_advisory_unlock_all()`) or the end of
    /// the session can release it, so [`Session::check_lock`] need not ask.
    guard_verified: bool,
    /// The work session's backend pid, for checks sent on other sessions.
    pid: i32,
    /// Audit rows are written (`mergepoint_history`); off with `audit: off`
    /// / `--no-audit`, leaving the version table alone.
    audit: bool,
}

fn err(e: &postgres::Error) -> SessionError {
    SessionError {
        message: pg_message(e),
        connection_lost: e.is_closed(),
        lock_timeout: e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE),
    }
}

impl<'a> PgSession<'a> {
    /// Takes the step guard on `db`'s work session, waiting (within what is
    /// left of `timeout` since `started`) for a run that lost its lock to
    /// finish its step. `table` must be schema-qualified.
    pub fn open(
        db: &'a mut Database,
        table: &VersionTable,
        lock: &'a dyn HeldLock,
        started: Instant,
        timeout: Duration,
    ) -> Result<PgSession<'a>, DbError> {
        let client = db.client();
        let guard = if lock.needs_step_guard() {
            let key = lock::guard_key(table.schema().unwrap_or_default(), table.name());
            lock::acquire_on(client, key, table, started, timeout)?;
            Some(key)
        } else {
            None
        };
        let row = client
            .query_typed_one(
                "SELECT current_setting('server_version_num')::int, pg_backend_pid()",
                &[],
            )
            .map_err(|e| DbError::query("reading the server version", &e))?;
        let (version, pid): (i32, i32) = (row.get(0), row.get(1));
        lock.watch_waits_of(pid);
        Ok(PgSession {
            client,
            table: table.clone(),
            lock,
            guard,
            xid: None,
            check_interval: version >= 140_000,
            reset_pending: false,
            guard_verified: true,
            pid,
            audit: true,
        })
    }

    /// Writes no audit rows and creates no audit table from now on
    /// (`audit: off`): the run keeps to the version table.
    pub fn without_audit(mut self) -> Self {
        self.audit = false;
        self
    }

    /// Lets go of the step guard.
    pub fn close(self) {
        if let Some(key) = self.guard {
            let _ = self
                .client
                .batch_execute(&format!("SELECT pg_advisory_unlock({key})"));
        }
    }

    /// The settings reset, if one is pending, as a statement prefix.
    fn take_reset(&mut self) -> String {
        if std::mem::take(&mut self.reset_pending) {
            format!("{};", self.reset_sql())
        } else {
            String::new()
        }
    }

    fn simple(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>, SessionError> {
        self.client.simple_query(sql).map_err(|e| err(&e))
    }

    /// The first column of the first row of a simple query.
    fn scalar(&mut self, sql: &str) -> Result<Option<String>, SessionError> {
        for m in self.simple(sql)? {
            if let SimpleQueryMessage::Row(r) = m {
                return Ok(r.get(0).map(str::to_string));
            }
        }
        Ok(None)
    }
}

/// Markers of mergepoint's own server-side checks: a check that fails casts
/// its marker to int, which errors and so skips the rest of the batch.
const ENDED: &str = "mergepoint-transaction-ended";
const GUARD_GONE: &str = "mergepoint-guard-gone";
const LOCK_GONE: &str = "mergepoint-lock-gone";
const ROW_MISSING: &str = "mergepoint-version-op-";

impl PgSession<'_> {
    /// The version-table changes, each UPDATE and DELETE checked on the
    /// server to hit exactly one row (else the batch stops there).
    fn version_ops_sql(&self, ops: &[VersionOp]) -> String {
        let t = self.table.sql_name();
        let mut sql = String::new();
        for (i, op) in ops.iter().enumerate() {
            let change = match op {
                VersionOp::Insert { version } => {
                    let _ = write!(
                        sql,
                        "INSERT INTO {t} (version_num) VALUES ({});",
                        quote_literal(version)
                    );
                    continue;
                }
                VersionOp::Delete { version } => format!(
                    "DELETE FROM {t} WHERE version_num = {}",
                    quote_literal(version)
                ),
                VersionOp::Update { from, to } => format!(
                    "UPDATE {t} SET version_num = {} WHERE version_num = {}",
                    quote_literal(to),
                    quote_literal(from)
                ),
            };
            let _ = write!(
                sql,
                "WITH c AS ({change} RETURNING 1) SELECT (CASE WHEN (SELECT count(*) FROM c) = 1 THEN '0' ELSE '{ROW_MISSING}{i}' END)::int;"
            );
        }
        sql
    }

    /// The version-table change and the audit row.
    fn record_sql(&self, ops: &[VersionOp], audit: &AuditWrite<'_>) -> String {
        let mut sql = self.version_ops_sql(ops);
        if !self.audit {
            return sql;
        }
        match audit {
            AuditWrite::Insert(r) => sql.push_str(&self.insert_audit_sql(r, false)),
            AuditWrite::Finish(id, r) => sql.push_str(&self.finish_audit_sql(*id, r)),
        }
        sql.push(';');
        sql
    }

    fn reset_sql(&self) -> String {
        let mut sql = String::from("RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL");
        if self.check_interval {
            // Lets the server notice within a second that this process died
            // mid-statement, and abort instead of finishing it.
            sql.push_str("; SET client_connection_check_interval = 1000");
        }
        sql
    }

    fn insert_audit_sql(&self, r: &AuditRecord<'_>, returning: bool) -> String {
        format!(
            "INSERT INTO {} (revision, direction, sql_sha256, downgrade_sha256, started_at, duration_ms, \
             db_user, client_host, success, error) VALUES ({}, {}, {}, {}, {}, {}, current_user, \
             coalesce(inet_client_addr()::text, 'local'), {}, {}){}",
            self.table.history_sql_name(),
            quote_literal(r.revision),
            quote_literal(r.direction),
            opt_literal(r.sql_sha256),
            opt_literal(r.downgrade_sha256),
            timestamp_literal(r.started_at),
            number_literal(r.duration_ms),
            r.success,
            opt_literal(r.error),
            if returning { " RETURNING id" } else { "" },
        )
    }

    fn finish_audit_sql(&self, id: i64, r: &AuditRecord<'_>) -> String {
        format!(
            "UPDATE {} SET duration_ms = {}, success = {}, error = {} WHERE id = {id}",
            self.table.history_sql_name(),
            number_literal(r.duration_ms),
            r.success,
            opt_literal(r.error),
        )
    }

    /// A version-table check's marker turned back into words.
    fn explain(&self, e: SessionError, ops: &[VersionOp]) -> SessionError {
        let table = self.table.display_name();
        let Some(at) = e.message.find(ROW_MISSING) else {
            return e;
        };
        let digits: String = e.message[at + ROW_MISSING.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let what = match digits.parse::<usize>().ok().and_then(|i| ops.get(i)) {
            Some(VersionOp::Delete { version }) => format!("deleting '{version}'"),
            Some(VersionOp::Update { from, to }) => format!("updating '{from}' to '{to}'"),
            _ => "a change".to_string(),
        };
        SessionError {
            message: format!(
                "{what} in {table} was expected to match one row and did not (the version table changed underneath this run)"
            ),
            ..e
        }
    }
}

impl PgSession<'_> {
    /// A check that the transaction `begin` opened is still this session's:
    /// a revision that ended it leaves the check (and so the whole batch it
    /// starts) in a fresh transaction with no id.
    fn intact_check_sql(&self) -> String {
        format!(
            "SELECT (CASE WHEN txid_current_if_assigned()::text IS DISTINCT FROM {} THEN '{ENDED}' ELSE '0' END)::int;",
            quote_literal(self.xid.as_deref().unwrap_or_default())
        )
    }

    /// Server-side checks that the step guard (or, without one, the lease)
    /// is still held, to send just before a COMMIT.
    fn lock_checks_sql(&self) -> Result<String, CommitError> {
        if let Some(key) = self.guard {
            return Ok(format!(
                "SELECT (CASE WHEN NOT {} THEN '{GUARD_GONE}' ELSE '0' END)::int;",
                lock::held_by_me_sql(key)
            ));
        }
        // No guard: the lock itself (a lease) must still be held.
        self.lock.check().map_err(CommitError::GuardLost)?;
        Ok(match self.lock.held_sql() {
            Some(held) => {
                format!("SELECT (CASE WHEN NOT {held} THEN '{LOCK_GONE}' ELSE '0' END)::int;")
            }
            None => String::new(),
        })
    }

    /// What a step that runs on another connection (the Alembic worker's)
    /// sends with its bookkeeping: the settings reset (`reset`), the
    /// version-table change and audit row (`record`), and the server-side
    /// check, to send just before its COMMIT, that this work session still
    /// holds the step guard (or the lease is still the run's) (`checks`).
    pub(crate) fn foreign_step_sql(
        &self,
        ops: &[VersionOp],
        audit: &AuditWrite<'_>,
    ) -> Result<ForeignStepSql, CommitError> {
        Ok(ForeignStepSql {
            reset: self.reset_sql(),
            record: self.record_sql(ops, audit),
            checks: self.foreign_commit_checks()?,
        })
    }

    /// The lock checks of [`Self::foreign_step_sql`] alone (a run's last
    /// commit).
    pub(crate) fn foreign_commit_checks(&self) -> Result<String, CommitError> {
        match self.guard {
            Some(key) => Ok(format!(
                "SELECT (CASE WHEN NOT {} THEN '{GUARD_GONE}' ELSE '0' END)::int;",
                lock::held_by_pid_sql(key, self.pid)
            )),
            None => self.lock_checks_sql(),
        }
    }

    /// The settings reset, as statements.
    pub(crate) fn foreign_reset_sql(&self) -> String {
        self.reset_sql()
    }

    /// The version-table change alone ([`Session::apply_version_ops`]).
    pub(crate) fn foreign_version_ops_sql(&self, ops: &[VersionOp]) -> String {
        self.version_ops_sql(ops)
    }

    /// An error of a batch built by [`Self::foreign_step_sql`], sent on
    /// another connection, as the [`CommitError`] it stands for.
    pub(crate) fn foreign_commit_error(&self, e: SessionError, ops: &[VersionOp]) -> CommitError {
        if e.message.contains(ENDED) {
            CommitError::TransactionEnded
        } else if e.message.contains(GUARD_GONE) {
            CommitError::GuardLost("the work session no longer holds the step guard".to_string())
        } else if e.message.contains(LOCK_GONE) {
            CommitError::GuardLost(
                "the lease is no longer this run's (it expired, or another runner took it over)"
                    .to_string(),
            )
        } else {
            CommitError::Failed(self.explain(e, ops))
        }
    }

    /// Sends a batch of checks and bookkeeping; a failed check's marker
    /// becomes its [`CommitError`]. `checks_guard`: the batch holds
    /// [`Self::lock_checks_sql`].
    fn send_checked(
        &mut self,
        sql: &str,
        ops: &[VersionOp],
        checks_guard: bool,
    ) -> Result<(), CommitError> {
        let e = match self.client.simple_query(sql) {
            Ok(_) => {
                // The guard was seen held after the last revision SQL, and
                // nothing since could release it.
                self.guard_verified |= checks_guard;
                return Ok(());
            }
            Err(e) => e,
        };
        let message = pg_message(&e);
        Err(if message.contains(ENDED) {
            CommitError::TransactionEnded
        } else if message.contains(GUARD_GONE) {
            CommitError::GuardLost("the work session no longer holds the step guard".to_string())
        } else if message.contains(LOCK_GONE) {
            CommitError::GuardLost(
                "the lease is no longer this run's (it expired, or another runner took it over)"
                    .to_string(),
            )
        } else {
            CommitError::Failed(self.explain(err(&e), ops))
        })
    }
}

/// The statements [`PgSession::foreign_step_sql`] builds.
#[derive(Debug, Clone)]
pub(crate) struct ForeignStepSql {
    pub reset: String,
    pub record: String,
    pub checks: String,
}

/// `'…'` or `NULL`.
fn opt_literal(v: Option<&str>) -> String {
    v.map(quote_literal).unwrap_or_else(|| "NULL".to_string())
}

fn timestamp_literal(t: std::time::SystemTime) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    format!(
        "{}::timestamptz",
        quote_literal(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    )
}

fn number_literal(ms: f64) -> String {
    if ms.is_finite() {
        format!("{ms}")
    } else {
        "NULL".to_string()
    }
}

impl Session for PgSession<'_> {
    fn table_name(&self) -> String {
        self.table.display_name()
    }

    fn version_rows(&mut self) -> Result<Vec<String>, DbError> {
        version::all_rows(self.client, &self.table)
    }

    fn ensure_tables(&mut self) -> Result<(), DbError> {
        version::ensure_tables(self.client, &self.table, self.audit)
    }

    fn unfinished_attempts(&mut self) -> Result<Vec<InterruptedAttempt>, DbError> {
        if !self.audit {
            return Ok(Vec::new());
        }
        audit::unfinished(self.client, &self.table)
    }

    fn mark_interrupted(&mut self, audit_ids: &[i64]) -> Result<(), DbError> {
        if audit_ids.is_empty() || !self.audit {
            return Ok(());
        }
        self.client
            .query_typed(
                &format!(
                    "UPDATE {} SET error = $1 WHERE id = ANY($2)",
                    self.table.history_sql_name()
                ),
                &[(&INTERRUPTED, Type::TEXT), (&audit_ids, Type::INT8_ARRAY)],
            )
            .map_err(|e| DbError::query("marking interrupted attempts", &e))?;
        Ok(())
    }

    fn restore_settings(&mut self) -> Result<(), SessionError> {
        // Sent with the next statement of mergepoint's own (see `begin`,
        // `write_audit`), saving a round trip per step.
        self.reset_pending = true;
        Ok(())
    }

    fn begin(&mut self) -> Result<(), SessionError> {
        let sql = format!("{}BEGIN; SELECT txid_current()::text", self.take_reset());
        self.xid = self.scalar(&sql)?;
        Ok(())
    }

    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), SessionError> {
        let scope = if self.xid.is_some() { "LOCAL " } else { "" };
        let mut sql = self.take_reset();
        for (name, value) in [
            ("lock_timeout", &timeouts.lock_timeout),
            ("statement_timeout", &timeouts.statement_timeout),
        ] {
            if let Some(v) = value {
                let _ = write!(sql, "SET {scope}{name} = {};", quote_literal(v.trim()));
            }
        }
        if sql.is_empty() {
            return Ok(());
        }
        self.simple(&sql).map(|_| ())
    }

    fn recent_blockers(&mut self) -> Vec<Blocker> {
        self.lock.recent_blockers()
    }

    fn transaction_intact(&mut self) -> Result<bool, SessionError> {
        match self
            .client
            .simple_query("SELECT txid_current_if_assigned()::text")
        {
            Ok(rows) => {
                let now = rows
                    .into_iter()
                    .find_map(|m| match m {
                        SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
                        _ => None,
                    })
                    .flatten();
                Ok(now.is_some() && now == self.xid)
            }
            // Aborted by the revision's error: still our transaction.
            Err(e) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => Ok(true),
            Err(e) => Err(err(&e)),
        }
    }

    fn in_transaction_block(&mut self) -> Result<bool, SessionError> {
        // In autocommit mode a statement's transaction starts with it, so
        // now() (transaction start) equals statement_timestamp().
        match self
            .client
            .simple_query("SELECT now() <> statement_timestamp()")
        {
            Ok(rows) => Ok(rows.into_iter().any(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0) == Some("t"),
                _ => false,
            })),
            Err(e) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => Ok(true),
            Err(e) => Err(err(&e)),
        }
    }

    fn commit(&mut self) -> Result<(), SessionError> {
        self.xid = None;
        self.simple("COMMIT").map(|_| ())
    }

    fn rollback(&mut self) {
        self.xid = None;
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        let reset = self.take_reset();
        if !reset.is_empty() {
            self.simple(&reset)?;
        }
        self.guard_verified = false;
        self.client.batch_execute(sql).map_err(|e| err(&e))
    }

    fn apply_version_ops(&mut self, ops: &[VersionOp]) -> Result<(), SessionError> {
        if ops.is_empty() {
            return Ok(());
        }
        let sql = self.version_ops_sql(ops);
        self.simple(&sql)
            .map(|_| ())
            .map_err(|e| self.explain(e, ops))
    }

    fn record(&mut self, ops: &[VersionOp], audit: &AuditWrite<'_>) -> Result<(), CommitError> {
        self.reset_pending = false;
        // The intact check and the bookkeeping in one round trip: the step
        // guard is checked once, with the run's COMMIT (`commit_run`).
        // Settings first: a revision's `SET statement_timeout = 1` or `SET
        // ROLE` must not reach the checks and the bookkeeping.
        let sql = self.reset_sql() + ";" + &self.intact_check_sql() + &self.record_sql(ops, audit);
        self.send_checked(&sql, ops, false)
    }

    fn commit_step(
        &mut self,
        ops: &[VersionOp],
        audit: &AuditWrite<'_>,
        opened: bool,
    ) -> Result<(), CommitError> {
        self.reset_pending = false;
        // Settings first (see `record`), then the checks and the bookkeeping.
        let mut sql = if opened {
            self.reset_sql() + ";" + &self.intact_check_sql()
        } else {
            String::from("BEGIN;") + &self.reset_sql() + ";"
        };
        self.xid = None;
        sql.push_str(&self.lock_checks_sql()?);
        sql.push_str(&self.record_sql(ops, audit));
        sql.push_str("COMMIT");
        self.send_checked(&sql, ops, true)
    }

    fn commit_run(&mut self) -> Result<(), CommitError> {
        let mut sql = self.intact_check_sql();
        self.xid = None;
        sql.push_str(&self.lock_checks_sql()?);
        sql.push_str("COMMIT");
        self.send_checked(&sql, &[], true)
    }
    fn clear_versions(&mut self) -> Result<(), SessionError> {
        let sql = format!("DELETE FROM {}", self.table.sql_name());
        self.simple(&sql).map(|_| ())
    }

    fn write_audit(&mut self, r: &AuditRecord<'_>) -> Result<i64, SessionError> {
        if !self.audit {
            return Ok(0);
        }
        let sql = format!("{}{}", self.take_reset(), self.insert_audit_sql(r, true));
        let id = self.scalar(&sql)?;
        id.and_then(|s| s.parse().ok())
            .ok_or_else(|| SessionError::new("the audit row's id was not returned"))
    }

    fn finish_audit(&mut self, id: i64, r: &AuditRecord<'_>) -> Result<(), SessionError> {
        if !self.audit {
            return Ok(());
        }
        let sql = format!("{}{}", self.take_reset(), self.finish_audit_sql(id, r));
        self.simple(&sql).map(|_| ())
    }

    fn check_lock(&mut self) -> LockState {
        if let Some(key) = self.guard.filter(|_| !self.guard_verified) {
            match lock::holds(self.client, key) {
                Ok(true) => self.guard_verified = true,
                Ok(false) => {
                    return LockState::GuardLost(
                        "the work session no longer holds the step guard (did a revision run pg_advisory_unlock_all() or DISCARD ALL?)".to_string(),
                    )
                }
                Err(e) => {
                    return LockState::GuardLost(format!("the work session failed: {e}"))
                }
            }
        }
        self.check_lock_in_run()
    }

    fn check_lock_in_run(&mut self) -> LockState {
        match (self.lock.check(), self.guard) {
            (Ok(()), _) => LockState::Held,
            (Err(reason), Some(_)) => LockState::LockLost(reason),
            // No guard keeps others out: stop at once.
            (Err(reason), None) => LockState::GuardLost(reason),
        }
    }
}
