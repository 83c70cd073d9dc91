//! Where the SQL of each step comes from: one source for online runs and
//! offline scripts alike ([`StepSql`]), and the plain map of native
//! revisions' SQL ([`RevisionSql`]) that tests and simple callers use.

use super::error::DbError;
use super::session::Timeouts;
use crate::graph::{Direction, Step};
use std::borrow::Cow;
use std::collections::HashMap;

/// The SQL of one native revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevisionSql {
    pub upgrade: String,
    pub downgrade: String,
    /// `false` for statements that cannot run in a transaction
    /// (`CREATE INDEX CONCURRENTLY`, `ALTER TYPE ... ADD VALUE` on old
    /// servers): they run one by one in autocommit mode.
    pub transactional: bool,
    /// The revision's own `lock_timeout` / `statement_timeout`.
    pub timeouts: Timeouts,
}

impl RevisionSql {
    /// The SQL for one direction.
    pub fn for_direction(&self, d: Direction) -> &str {
        match d {
            Direction::Upgrade => &self.upgrade,
            Direction::Downgrade => &self.downgrade,
        }
    }
}

/// The SQL one step runs, as read for that step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepText<'a> {
    /// The SQL of the step's direction.
    pub sql: Cow<'a, str>,
    /// The other direction's SQL, when known: its checksum is recorded with
    /// an upgrade, so `check --database` sees a later edit of the downgrade.
    pub reverse: Option<Cow<'a, str>>,
    /// Whether it runs inside a transaction.
    pub transactional: bool,
    /// The revision's own `lock_timeout` / `statement_timeout`.
    pub timeouts: Timeouts,
    /// The step is an Alembic revision's `upgrade()` / `downgrade()`: `sql`
    /// is the revision file's text (checksummed, never sent as SQL), and
    /// the step runs through [`super::Session::execute_step`] on a session
    /// that can run Python. Always transactional.
    pub alembic: bool,
    /// The checksum to record, when it is not the SHA-256 of `sql`: an
    /// Alembic revision rendered offline records its file's, as an online
    /// run does.
    pub checksum: Option<String>,
}

/// Where the SQL of each step comes from (online and offline).
pub trait StepSql: Sync {
    /// The SQL of `revision` for `direction` and whether it runs inside a
    /// transaction; None when the revision has no SQL (an Alembic revision).
    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)>;

    /// [`Self::step_sql`] plus the other direction's SQL. The default knows
    /// no reverse; sources that have it should say so.
    fn step_text(&self, revision: &str, direction: Direction) -> Option<StepText<'_>> {
        let (sql, transactional) = self.step_sql(revision, direction)?;
        Some(StepText {
            sql,
            reverse: None,
            transactional,
            timeouts: Timeouts::default(),
            alembic: false,
            checksum: None,
        })
    }

    /// The SQL a step is about to run or be rendered with: what the
    /// runner and the offline renderer use, once per step. A source backed
    /// by files reads it afresh here (a parse cache may answer the other
    /// methods, never this one). `Ok(None)`: no SQL (an Alembic revision);
    /// `Err`: it could not be read now, with why.
    fn read_step(
        &self,
        revision: &str,
        direction: Direction,
    ) -> Result<Option<StepText<'_>>, String> {
        Ok(self.step_text(revision, direction))
    }
}

impl StepSql for HashMap<String, RevisionSql> {
    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)> {
        let rs = self.get(revision)?;
        Some((Cow::Borrowed(rs.for_direction(direction)), rs.transactional))
    }

    fn step_text(&self, revision: &str, direction: Direction) -> Option<StepText<'_>> {
        let rs = self.get(revision)?;
        Some(StepText {
            sql: Cow::Borrowed(rs.for_direction(direction)),
            reverse: Some(Cow::Borrowed(rs.for_direction(direction.reverse()))),
            transactional: rs.transactional,
            timeouts: rs.timeouts.clone(),
            alembic: false,
            checksum: None,
        })
    }
}

/// Revisions of `steps` (a plan's) with no SQL in `sql` (Alembic `.py`
/// revisions), in plan order, each once. Empty if the steps can run.
pub fn missing_sql(steps: &[Step], sql: &impl StepSql) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in steps {
        if sql.step_sql(&s.revision, s.direction).is_none() && !out.contains(&s.revision) {
            out.push(s.revision.clone());
        }
    }
    out
}

/// A step's SQL as it must run now ([`StepSql::read_step`]), refused
/// when there is none, when it cannot be read, or when a transactional step
/// holds transaction control.
pub(crate) fn read_step_text<'s>(
    sql: &'s impl StepSql,
    step: &Step,
) -> Result<StepText<'s>, DbError> {
    let text = match sql.read_step(&step.revision, step.direction) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return Err(DbError::MissingSql {
                revisions: vec![step.revision.clone()],
            })
        }
        Err(message) => {
            return Err(DbError::StepSource {
                revision: step.revision.clone(),
                message,
            })
        }
    };
    if text.alembic {
        // Python, not SQL: the SQL checks below do not apply.
        return Ok(text);
    }
    refuse_transaction_control(step, &text)?;
    if let Some(c) = crate::sql::client_copy(&text.sql) {
        return Err(DbError::ClientCopy {
            revision: step.revision.clone(),
            direction: step.direction,
            keyword: c.keyword.to_string(),
            line: c.line,
        });
    }
    Ok(text)
}

/// Transaction control in a transactional step would end mergepoint's
/// transaction half way (the loader refuses such files too).
pub(crate) fn refuse_transaction_control(step: &Step, text: &StepText<'_>) -> Result<(), DbError> {
    if !text.transactional {
        return Ok(());
    }
    match crate::sql::transaction_control(&text.sql) {
        Some(c) => Err(DbError::TransactionControl {
            revision: step.revision.clone(),
            direction: step.direction,
            keyword: c.keyword.to_string(),
            line: c.line,
        }),
        None => Ok(()),
    }
}
