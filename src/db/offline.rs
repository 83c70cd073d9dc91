//! Offline SQL (`upgrade A:B --sql`): the whole script for a plan, without
//! a connection, in Alembic's shape, runnable with
//! `psql -v ON_ERROR_STOP=1`.

use super::audit::sql_sha256;
use super::error::DbError;
use super::names::{push_literal, VersionTable};
use super::runner::{missing_sql, RevisionSql};
use crate::sql::needs_terminator;
use super::version::VersionOp;
use crate::graph::{Direction, Plan, Step};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

/// Where the SQL of each step of an offline script comes from.
pub trait StepSql: Sync {
    /// The SQL of `revision` for `direction` and whether it runs inside a
    /// transaction; None when the revision has no SQL.
    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)>;
}

impl StepSql for HashMap<String, RevisionSql> {
    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)> {
        let rs = self.get(revision)?;
        Some((Cow::Borrowed(rs.for_direction(direction)), rs.transactional))
    }
}

/// Renders `plan` as one SQL script (see [`OfflineScript`]).
pub fn render_offline(
    plan: &Plan,
    sql: &HashMap<String, RevisionSql>,
    table: &VersionTable,
) -> Result<String, DbError> {
    let mut out = Vec::new();
    OfflineScript::new(plan, sql, table)?
        .write_to(&mut out)
        .expect("writing to memory cannot fail");
    Ok(String::from_utf8(out).expect("the script is built from strings"))
}

/// Steps rendered per part: enough to amortise the parallel split, small
/// enough to keep both cores busy on a few thousand steps.
const STEPS_PER_PART: usize = 256;
/// Parts rendered (in parallel) before they are written out; the buffers
/// are reused, so memory stays small however long the script.
const PARTS_PER_BATCH: usize = 8;

/// The offline SQL script of a plan, checked and ready to write:
///
/// - when the plan starts from base (no version rows) and upgrades, the
///   version table DDL (`CREATE TABLE IF NOT EXISTS`, Alembic's columns);
///   the audit table DDL always (`IF NOT EXISTS`);
/// - each step marked `-- Running upgrade <from> -> <to>` exactly as
///   Alembic ([`crate::graph::Step::short_log`]);
/// - transactional steps inside `BEGIN;` ... `COMMIT;` with their SQL, the
///   version-table INSERT/UPDATE/DELETE (quoted literals) and an audit row
///   (so `check --database` knows the checksum); non-transactional steps
///   with no BEGIN/COMMIT, so psql runs each statement in autocommit.
///
/// The resulting schema and version table are those of the online run.
pub struct OfflineScript<'a, S: StepSql> {
    plan: &'a Plan,
    sql: &'a S,
    table: &'a VersionTable,
}

impl<'a, S: StepSql> OfflineScript<'a, S> {
    /// Refuses ([`DbError::MissingSql`]) if a step has no SQL.
    pub fn new(plan: &'a Plan, sql: &'a S, table: &'a VersionTable) -> Result<Self, DbError> {
        let missing = missing_sql(plan, sql);
        if !missing.is_empty() {
            return Err(DbError::MissingSql { revisions: missing });
        }
        Ok(OfflineScript { plan, sql, table })
    }

    /// Writes the script: steps are rendered in parallel, a batch of parts
    /// at a time, and written in order.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let plan = self.plan;
        let mut preamble = String::new();
        if plan.start_heads.is_empty() && plan.direction == Direction::Upgrade {
            preamble.push_str(&self.table.create_sql());
            preamble.push_str(";\n\n");
        }
        preamble.push_str(&self.table.create_history_sql());
        preamble.push_str(";\n\n");
        out.write_all(preamble.as_bytes())?;
        let names = (self.table.sql_name(), self.table.history_sql_name());
        let mut parts = vec![String::new(); PARTS_PER_BATCH];
        for batch in plan.steps.chunks(STEPS_PER_PART * PARTS_PER_BATCH) {
            let used = batch.len().div_ceil(STEPS_PER_PART);
            parts[..used]
                .par_iter_mut()
                .zip(batch.par_chunks(STEPS_PER_PART))
                .for_each(|(part, steps)| {
                    part.clear();
                    for step in steps {
                        self.render_step(part, step, &names);
                    }
                });
            for part in &parts[..used] {
                out.write_all(part.as_bytes())?;
            }
        }
        Ok(())
    }

    /// One step: its SQL, its version-table statements and its audit row,
    /// inside BEGIN/COMMIT when transactional.
    fn render_step(&self, out: &mut String, step: &Step, (t, history): &(String, String)) {
        let Some((text, transactional)) = self.sql.step_sql(&step.revision, step.direction) else {
            // `new` checked that every step has SQL.
            return;
        };
        out.push_str("-- Running ");
        step.push_short_log(out);
        out.push_str("\n\n");
        if transactional {
            out.push_str("BEGIN;\n\n");
        }
        let body = text.trim_end();
        if !body.trim().is_empty() {
            out.push_str(body);
            if needs_terminator(body) {
                out.push_str("\n;");
            }
            out.push_str("\n\n");
        }
        for op in &step.version_ops {
            match op {
                VersionOp::Insert { version } => {
                    out.push_str("INSERT INTO ");
                    out.push_str(t);
                    out.push_str(" (version_num) VALUES (");
                    push_literal(out, version);
                    out.push_str(");\n\n");
                }
                VersionOp::Delete { version } => {
                    out.push_str("DELETE FROM ");
                    out.push_str(t);
                    out.push_str(" WHERE version_num = ");
                    push_literal(out, version);
                    out.push_str(";\n\n");
                }
                VersionOp::Update { from, to } => {
                    out.push_str("UPDATE ");
                    out.push_str(t);
                    out.push_str(" SET version_num = ");
                    push_literal(out, to);
                    out.push_str(" WHERE version_num = ");
                    push_literal(out, from);
                    out.push_str(";\n\n");
                }
            }
        }
        out.push_str("INSERT INTO ");
        out.push_str(history);
        out.push_str(" (revision, direction, sql_sha256, success) VALUES (");
        push_literal(out, &step.revision);
        out.push_str(", ");
        push_literal(out, step.direction.as_str());
        out.push_str(", ");
        push_literal(out, &sql_sha256(&text));
        out.push_str(", true);\n\n");
        if transactional {
            out.push_str("COMMIT;\n\n");
        }
    }
}
