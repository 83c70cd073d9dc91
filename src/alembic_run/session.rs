//! [`WorkerSession`]: the runner's [`Session`] for Alembic projects. The
//! step transaction lives on the worker's connection: the revision's
//! operations, the version-table change and the audit row are sent there
//! and commit together. Everything outside a step (reading and validating
//! the version table, creating the tables, failure and `unfinished` audit
//! rows, the lock checks) stays on mergepoint's own work session, which
//! holds the step guard; the worker's COMMIT is preceded, in the same
//! transaction, by a server-side check that mergepoint's session still
//! holds that guard.

use super::worker::Worker;
use crate::db::{
    AuditRecord, AuditWrite, Blocker, CommitError, DbError, InterruptedAttempt, LockState,
    PgSession, Session, SessionError, Timeouts,
};
use crate::graph::{Step, VersionOp};
use serde_json::json;

/// See the module docs.
pub struct WorkerSession<'s, 'p> {
    inner: &'s mut PgSession<'p>,
    worker: &'s mut Worker,
    /// `restore_settings` was asked for and not yet sent to the worker.
    reset_pending: bool,
    /// A transaction `begin` opened is open on the worker.
    in_transaction: bool,
    /// `begin` was asked for and not sent yet: it goes with the next
    /// request (one exchange with the worker less per step), carrying the
    /// settings reset it had.
    begin_pending: Option<Vec<String>>,
    /// The step that just failed had committed part of itself (an
    /// `autocommit_block()`): its transaction is not what it began as.
    committed_part: bool,
    /// The whole run is one transaction (`--transaction-per-run`): the
    /// worker refuses `autocommit_block()`, which would commit half of it.
    one_transaction: bool,
}

/// `sql` as the statements the worker runs one by one (its drivers do not
/// all take several statements at once).
fn statements(sql: &str) -> Vec<String> {
    crate::sql::split_statements(sql)
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect()
}

impl<'s, 'p> WorkerSession<'s, 'p> {
    pub fn new(
        inner: &'s mut PgSession<'p>,
        worker: &'s mut Worker,
        one_transaction: bool,
    ) -> Self {
        WorkerSession {
            inner,
            worker,
            reset_pending: false,
            in_transaction: false,
            begin_pending: None,
            committed_part: false,
            one_transaction,
        }
    }

    /// Sends `req` to the worker, with a pending `begin` in front of it
    /// (`begin_first`: the worker begins, runs those statements, then
    /// handles `req`).
    fn request(
        &mut self,
        mut req: serde_json::Value,
    ) -> Result<super::worker::Answer, SessionError> {
        if let Some(reset) = self.begin_pending.take() {
            req["begin_first"] = json!(reset);
        }
        self.worker.request(&req)
    }

    /// The settings reset, if one is pending.
    fn take_reset(&mut self) -> Vec<String> {
        if std::mem::take(&mut self.reset_pending) {
            statements(&self.inner.foreign_reset_sql())
        } else {
            Vec::new()
        }
    }

    fn sql(
        &mut self,
        list: Vec<String>,
        intact: bool,
    ) -> Result<super::worker::Answer, SessionError> {
        if list.is_empty() && !intact {
            return Ok(super::worker::Answer {
                ok: true,
                ..Default::default()
            });
        }
        self.request(json!({"op": "sql", "statements": list, "intact": intact}))
    }

    /// Sends a bookkeeping batch (`op` `sql` or `commit`) and turns a failed
    /// check into its [`CommitError`].
    fn send_checked(
        &mut self,
        op: &str,
        list: Vec<String>,
        intact: bool,
        begin: bool,
        ops: &[VersionOp],
    ) -> Result<(), CommitError> {
        let answer = self
            .request(json!({"op": op, "statements": list, "intact": intact, "begin": begin}))
            .map_err(CommitError::Failed)?;
        if answer.ended() {
            return Err(CommitError::TransactionEnded);
        }
        answer
            .into_result()
            .map(|_| ())
            .map_err(|e| self.inner.foreign_commit_error(e, ops))
    }
}

impl Session for WorkerSession<'_, '_> {
    fn table_name(&self) -> String {
        self.inner.table_name()
    }

    fn version_rows(&mut self) -> Result<Vec<String>, DbError> {
        self.inner.version_rows()
    }

    fn ensure_tables(&mut self) -> Result<(), DbError> {
        self.inner.ensure_tables()
    }

    fn unfinished_attempts(&mut self) -> Result<Vec<InterruptedAttempt>, DbError> {
        self.inner.unfinished_attempts()
    }

    fn mark_interrupted(&mut self, audit_ids: &[i64]) -> Result<(), DbError> {
        self.inner.mark_interrupted(audit_ids)
    }

    fn restore_settings(&mut self) -> Result<(), SessionError> {
        self.reset_pending = true;
        self.inner.restore_settings()
    }

    fn begin(&mut self) -> Result<(), SessionError> {
        let reset = self.take_reset();
        self.begin_pending = Some(reset);
        self.in_transaction = true;
        Ok(())
    }

    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), SessionError> {
        let scope = if self.in_transaction { "LOCAL " } else { "" };
        let mut list = self.take_reset();
        for (name, value) in [
            ("lock_timeout", &timeouts.lock_timeout),
            ("statement_timeout", &timeouts.statement_timeout),
        ] {
            if let Some(v) = value {
                list.push(format!(
                    "SET {scope}{name} = {}",
                    crate::db::quote_literal(v.trim())
                ));
            }
        }
        self.sql(list, false)?.into_result().map(|_| ())
    }

    fn recent_blockers(&mut self) -> Vec<Blocker> {
        self.inner.recent_blockers()
    }

    fn transaction_intact(&mut self) -> Result<bool, SessionError> {
        if std::mem::take(&mut self.committed_part) {
            // Ended by the revision itself, as far as the runner's account
            // goes: "statements up to that point may have committed".
            return Ok(false);
        }
        let answer = self.request(json!({"op": "intact"}))?.into_result()?;
        Ok(answer.intact.unwrap_or(false))
    }

    fn in_transaction_block(&mut self) -> Result<bool, SessionError> {
        let answer = self.request(json!({"op": "in_block"}))?.into_result()?;
        Ok(answer.in_block.unwrap_or(false))
    }

    fn commit(&mut self) -> Result<(), SessionError> {
        self.in_transaction = false;
        self.request(json!({"op": "commit", "statements": [], "intact": false, "begin": false}))?
            .into_result()
            .map(|_| ())
    }

    fn rollback(&mut self) {
        self.in_transaction = false;
        // A begin never sent opened nothing on the worker.
        self.begin_pending = None;
        let _ = self.worker.request(&json!({"op": "rollback"}));
    }

    fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        let mut list = self.take_reset();
        list.extend(statements(sql));
        self.sql(list, false)?.into_result().map(|_| ())
    }

    fn execute_step(&mut self, step: &Step, _file_text: &str) -> Result<(), SessionError> {
        let reset = self.take_reset();
        self.sql(reset, false)?.into_result()?;
        let answer = self.request(json!({
            "op": "step",
            "revision": step.revision,
            "direction": step.direction.as_str(),
            "one_transaction": self.one_transaction,
        }))?;
        self.committed_part = !answer.ok && answer.committed_part;
        answer.into_result().map(|_| ())
    }

    fn apply_version_ops(&mut self, ops: &[VersionOp]) -> Result<(), SessionError> {
        let list = statements(&self.inner.foreign_version_ops_sql(ops));
        match self.send_checked("sql", list, false, false, ops) {
            Ok(()) => Ok(()),
            Err(CommitError::Failed(e)) => Err(e),
            Err(CommitError::TransactionEnded) => {
                Err(SessionError::new("the step's transaction was ended"))
            }
            Err(CommitError::GuardLost(reason)) => Err(SessionError::new(reason)),
        }
    }

    fn record(&mut self, ops: &[VersionOp], audit: &AuditWrite<'_>) -> Result<(), CommitError> {
        self.reset_pending = false;
        let sql = self.inner.foreign_step_sql(ops, audit)?;
        let mut list = statements(&sql.reset);
        list.extend(statements(&sql.record));
        self.send_checked("sql", list, true, false, ops)
    }

    fn commit_step(
        &mut self,
        ops: &[VersionOp],
        audit: &AuditWrite<'_>,
        opened: bool,
    ) -> Result<(), CommitError> {
        self.reset_pending = false;
        self.in_transaction = false;
        let sql = self.inner.foreign_step_sql(ops, audit)?;
        let mut list = statements(&sql.reset);
        list.extend(statements(&sql.checks));
        list.extend(statements(&sql.record));
        self.send_checked("commit", list, opened, !opened, ops)
    }

    fn commit_run(&mut self) -> Result<(), CommitError> {
        self.in_transaction = false;
        let list = statements(&self.inner.foreign_commit_checks()?);
        self.send_checked("commit", list, true, false, &[])
    }

    fn clear_versions(&mut self) -> Result<(), SessionError> {
        self.inner.clear_versions()
    }

    fn write_audit(&mut self, record: &AuditRecord<'_>) -> Result<i64, SessionError> {
        self.inner.write_audit(record)
    }

    fn finish_audit(&mut self, id: i64, record: &AuditRecord<'_>) -> Result<(), SessionError> {
        self.inner.finish_audit(id, record)
    }

    fn check_lock(&mut self) -> LockState {
        self.inner.check_lock()
    }

    fn check_lock_in_run(&mut self) -> LockState {
        self.inner.check_lock_in_run()
    }
}
