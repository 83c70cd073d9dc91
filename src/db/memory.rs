//! An in-memory [`Session`]: a version table, an audit table and a "schema"
//! (the statements that committed), with transactions and injectable
//! failures. The runner's unit tests use it to reach every failure path
//! (a failing commit, a lost connection, a lost lock, a revision that ends
//! the transaction) without a server; the same paths are also covered
//! against PostgreSQL in `tests/pg_*.rs`.
//!
//! Statements are plain text: one containing `FAIL` fails; `BEGIN`,
//! `COMMIT`, `ROLLBACK` (alone) act on the transaction as PostgreSQL would,
//! and so does `CALL sneaky_commit()`, which stands for a way of ending the
//! transaction that the runner's up-front check cannot see; anything else
//! "creates" itself in the schema.

use super::error::DbError;
use super::session::{
    AuditRecord, AuditWrite, CommitError, InterruptedAttempt, LockState, Session, SessionError,
    Timeouts, INTERRUPTED, UNFINISHED,
};
use crate::graph::{Direction, VersionOp};

/// The session calls a failure can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Begin,
    Execute,
    Commit,
    VersionOps,
    WriteAudit,
    FinishAudit,
    RestoreSettings,
}

/// An audit row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub revision: String,
    pub direction: String,
    pub sql_sha256: Option<String>,
    pub downgrade_sha256: Option<String>,
    pub success: bool,
    pub error: Option<String>,
}

/// The committed state, and the same inside an open transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub rows: Vec<String>,
    pub audit: Vec<AuditRow>,
    /// Statements that ran (committed, or in the open transaction).
    pub schema: Vec<String>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct MemorySession {
    /// What is committed.
    pub committed: State,
    /// The open transaction's view, if one is open.
    tx: Option<State>,
    /// The transaction `begin` opened was ended by a revision's statement.
    tx_ended: bool,
    /// Failures to inject: the `n`th call (1-based) of a kind fails.
    failures: Vec<(Call, usize, SessionError)>,
    calls: Vec<Call>,
    /// `check_lock` answers this from the `n`th check on.
    lock_loss: Option<(usize, LockState)>,
    lock_checks: usize,
    /// The connection is gone.
    dead: bool,
    /// `restore_settings` calls, for tests.
    pub settings_restored: usize,
    /// Every `set_timeouts`, for tests.
    pub timeouts_set: Vec<Timeouts>,
}

impl MemorySession {
    /// A session whose version table holds `rows`.
    pub fn with_rows(rows: &[&str]) -> Self {
        MemorySession {
            committed: State {
                rows: rows.iter().map(|s| s.to_string()).collect(),
                ..State::default()
            },
            ..MemorySession::default()
        }
    }

    /// Makes the `nth` call (1-based) of `call` fail with `message`; with
    /// `connection_lost`, the session is dead from then on.
    pub fn fail(mut self, call: Call, nth: usize, message: &str, connection_lost: bool) -> Self {
        self.failures.push((
            call,
            nth,
            SessionError {
                message: message.to_string(),
                connection_lost,
                lock_timeout: message.contains("lock timeout"),
            },
        ));
        self
    }

    /// From the `nth` lock check on (1-based), answer `state`.
    pub fn lose_lock(mut self, nth: usize, state: LockState) -> Self {
        self.lock_loss = Some((nth, state));
        self
    }

    /// An audit row left `unfinished` by an earlier, interrupted run.
    pub fn with_unfinished(mut self, revision: &str) -> Self {
        let id = self.committed.audit.len() as i64 + 1;
        self.committed.audit.push(AuditRow {
            id,
            revision: revision.to_string(),
            direction: "upgrade".to_string(),
            sql_sha256: None,
            downgrade_sha256: None,
            success: false,
            error: Some(UNFINISHED.to_string()),
        });
        self
    }

    /// True while a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    fn enter(&mut self, call: Call) -> Result<(), SessionError> {
        if self.dead {
            return Err(SessionError::lost("connection closed"));
        }
        self.calls.push(call);
        let n = self.calls.iter().filter(|c| **c == call).count();
        if let Some((_, _, e)) = self.failures.iter().find(|(c, k, _)| *c == call && *k == n) {
            let e = e.clone();
            if e.connection_lost {
                // The server rolls back an open transaction of a session
                // that ends.
                self.dead = true;
                self.tx = None;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Where writes go: the open transaction, else straight to committed.
    fn state(&mut self) -> &mut State {
        match &mut self.tx {
            Some(tx) => tx,
            None => &mut self.committed,
        }
    }

    /// Settings restored, version-table change, audit row.
    fn write_record(
        &mut self,
        ops: &[VersionOp],
        audit: &AuditWrite<'_>,
    ) -> Result<(), SessionError> {
        self.restore_settings()?;
        self.apply_version_ops(ops)?;
        match audit {
            AuditWrite::Insert(r) => self.write_audit(r).map(|_| ()),
            AuditWrite::Finish(id, r) => self.finish_audit(*id, r),
        }
    }

    /// The transaction `begin` opened is still open.
    fn intact(&mut self) -> Result<(), CommitError> {
        match self.transaction_intact() {
            Ok(true) => Ok(()),
            Ok(false) => Err(CommitError::TransactionEnded),
            Err(e) => Err(CommitError::Failed(e)),
        }
    }

    fn statement(&mut self, stmt: &str) -> Result<(), SessionError> {
        let word = stmt
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_ascii_uppercase();
        match word.as_str() {
            "BEGIN" => {
                if self.tx.is_none() {
                    self.tx = Some(self.committed.clone());
                }
                Ok(())
            }
            "COMMIT" | "CALL SNEAKY_COMMIT()" => {
                if let Some(tx) = self.tx.take() {
                    self.committed = tx;
                    self.tx_ended = true;
                }
                Ok(())
            }
            "ROLLBACK" => {
                if self.tx.take().is_some() {
                    self.tx_ended = true;
                }
                Ok(())
            }
            _ if stmt.contains("FAIL") => Err(SessionError::new(format!("ERROR: {stmt}"))),
            _ => {
                self.state().schema.push(stmt.trim().to_string());
                Ok(())
            }
        }
    }
}

impl Session for MemorySession {
    fn table_name(&self) -> String {
        "memory.alembic_version".to_string()
    }

    fn version_rows(&mut self) -> Result<Vec<String>, DbError> {
        Ok(self.committed.rows.clone())
    }

    fn ensure_tables(&mut self) -> Result<(), DbError> {
        Ok(())
    }

    fn unfinished_attempts(&mut self) -> Result<Vec<InterruptedAttempt>, DbError> {
        Ok(self
            .committed
            .audit
            .iter()
            .filter(|a| a.error.as_deref() == Some(UNFINISHED))
            .map(|a| InterruptedAttempt {
                audit_id: a.id,
                revision: a.revision.clone(),
                direction: Direction::Upgrade,
                started_at: String::new(),
                by: "memory".to_string(),
            })
            .collect())
    }

    fn mark_interrupted(&mut self, audit_ids: &[i64]) -> Result<(), DbError> {
        for a in &mut self.committed.audit {
            if audit_ids.contains(&a.id) {
                a.error = Some(INTERRUPTED.to_string());
            }
        }
        Ok(())
    }

    fn restore_settings(&mut self) -> Result<(), SessionError> {
        self.enter(Call::RestoreSettings)?;
        self.settings_restored += 1;
        Ok(())
    }

    fn begin(&mut self) -> Result<(), SessionError> {
        self.enter(Call::Begin)?;
        self.tx = Some(self.committed.clone());
        self.tx_ended = false;
        Ok(())
    }

    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), SessionError> {
        self.timeouts_set.push(timeouts.clone());
        Ok(())
    }

    fn transaction_intact(&mut self) -> Result<bool, SessionError> {
        if self.dead {
            return Err(SessionError::lost("connection closed"));
        }
        Ok(self.tx.is_some() && !self.tx_ended)
    }

    fn in_transaction_block(&mut self) -> Result<bool, SessionError> {
        Ok(self.tx.is_some())
    }

    fn commit(&mut self) -> Result<(), SessionError> {
        if let Err(e) = self.enter(Call::Commit) {
            // A failed COMMIT rolls back.
            self.tx = None;
            return Err(e);
        }
        if let Some(tx) = self.tx.take() {
            self.committed = tx;
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.tx = None;
    }

    fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        self.enter(Call::Execute)?;
        for stmt in crate::sql::split_statements(sql) {
            self.statement(&stmt)?;
        }
        Ok(())
    }

    fn apply_version_ops(&mut self, ops: &[VersionOp]) -> Result<(), SessionError> {
        self.enter(Call::VersionOps)?;
        let state = self.state();
        for op in ops {
            match op {
                VersionOp::Insert { version } => state.rows.push(version.clone()),
                VersionOp::Delete { version } | VersionOp::Update { from: version, .. } => {
                    let Some(i) = state.rows.iter().position(|r| r == version) else {
                        return Err(SessionError::new(format!(
                            "'{version}' was expected to match one row; 0 found"
                        )));
                    };
                    state.rows.remove(i);
                    if let VersionOp::Update { to, .. } = op {
                        state.rows.push(to.clone());
                    }
                }
            }
        }
        state.rows.sort();
        Ok(())
    }

    fn record(&mut self, ops: &[VersionOp], audit: &AuditWrite<'_>) -> Result<(), CommitError> {
        self.intact()?;
        self.write_record(ops, audit).map_err(CommitError::Failed)
    }

    fn commit_run(&mut self) -> Result<(), CommitError> {
        self.intact()?;
        if let LockState::GuardLost(r) = self.check_lock() {
            return Err(CommitError::GuardLost(r));
        }
        self.commit().map_err(CommitError::Failed)
    }

    fn commit_step(
        &mut self,
        ops: &[VersionOp],
        audit: &AuditWrite<'_>,
        opened: bool,
    ) -> Result<(), CommitError> {
        if opened {
            self.intact()?;
        } else {
            self.begin().map_err(CommitError::Failed)?;
        }
        if let LockState::GuardLost(r) = self.check_lock() {
            return Err(CommitError::GuardLost(r));
        }
        self.write_record(ops, audit).map_err(CommitError::Failed)?;
        self.commit().map_err(CommitError::Failed)
    }

    fn clear_versions(&mut self) -> Result<(), SessionError> {
        self.enter(Call::VersionOps)?;
        self.state().rows.clear();
        Ok(())
    }

    fn write_audit(&mut self, r: &AuditRecord<'_>) -> Result<i64, SessionError> {
        self.enter(Call::WriteAudit)?;
        let state = self.state();
        let id = state.audit.iter().map(|a| a.id).max().unwrap_or(0) + 1;
        state.audit.push(AuditRow {
            id,
            revision: r.revision.to_string(),
            direction: r.direction.to_string(),
            sql_sha256: r.sql_sha256.map(str::to_string),
            downgrade_sha256: r.downgrade_sha256.map(str::to_string),
            success: r.success,
            error: r.error.map(str::to_string),
        });
        Ok(id)
    }

    fn finish_audit(&mut self, id: i64, r: &AuditRecord<'_>) -> Result<(), SessionError> {
        self.enter(Call::FinishAudit)?;
        if let Some(a) = self.state().audit.iter_mut().find(|a| a.id == id) {
            a.success = r.success;
            a.error = r.error.map(str::to_string);
        }
        Ok(())
    }

    fn check_lock(&mut self) -> LockState {
        self.lock_checks += 1;
        match &self.lock_loss {
            Some((n, state)) if self.lock_checks >= *n => state.clone(),
            _ => LockState::Held,
        }
    }
}
