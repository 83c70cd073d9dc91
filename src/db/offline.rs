//! Offline SQL (`upgrade A:B --sql`): the whole script for a plan, without
//! a connection, in Alembic's shape, runnable with
//! `psql -v ON_ERROR_STOP=1`.

use super::audit::sql_sha256;
use super::error::DbError;
use super::names::{push_literal, VersionTable};
use super::runner::{missing_sql, RevisionSql};
use super::split::needs_terminator;
use super::version::VersionOp;
use crate::graph::{Direction, Plan, Step};
use rayon::prelude::*;
use std::collections::HashMap;

/// Renders `plan` as one SQL script (see [`render_offline_parts`]):
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
/// Refuses ([`DbError::MissingSql`]) if a step has no SQL.
pub fn render_offline(
    plan: &Plan,
    sql: &HashMap<String, RevisionSql>,
    table: &VersionTable,
) -> Result<String, DbError> {
    Ok(render_offline_parts(plan, sql, table)?.concat())
}

/// Steps rendered per part: enough to amortise the parallel split, small
/// enough to keep both cores busy on a few thousand steps.
const STEPS_PER_PART: usize = 256;

/// [`render_offline`] in consecutive parts, rendered in parallel; written
/// out in order they are the script. Saves building one large string.
pub fn render_offline_parts(
    plan: &Plan,
    sql: &HashMap<String, RevisionSql>,
    table: &VersionTable,
) -> Result<Vec<String>, DbError> {
    let missing = missing_sql(plan, sql);
    if !missing.is_empty() {
        return Err(DbError::MissingSql { revisions: missing });
    }
    let mut preamble = String::new();
    if plan.start_heads.is_empty() && plan.direction == Direction::Upgrade {
        preamble.push_str(&table.create_sql());
        preamble.push_str(";\n\n");
    }
    preamble.push_str(&table.create_history_sql());
    preamble.push_str(";\n\n");
    let names = (table.sql_name(), table.history_sql_name());
    let steps: Vec<String> = plan
        .steps
        .par_chunks(STEPS_PER_PART)
        .map(|chunk| {
            let mut out = String::with_capacity(chunk.len() * 600);
            for step in chunk {
                render_step(&mut out, step, &sql[&step.revision], &names);
            }
            out
        })
        .collect();
    let mut parts = Vec::with_capacity(steps.len() + 1);
    parts.push(preamble);
    parts.extend(steps);
    Ok(parts)
}

/// One step: its SQL, its version-table statements and its audit row,
/// inside BEGIN/COMMIT when transactional.
fn render_step(out: &mut String, step: &Step, rs: &RevisionSql, (t, history): &(String, String)) {
    let text = rs.for_direction(step.direction);
    out.push_str("-- Running ");
    out.push_str(step.direction.as_str());
    out.push(' ');
    push_joined(out, &step.from);
    out.push_str(" -> ");
    push_joined(out, &step.to);
    out.push_str("\n\n");
    if rs.transactional {
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
    push_literal(out, &sql_sha256(text));
    out.push_str(", true);\n\n");
    if rs.transactional {
        out.push_str("COMMIT;\n\n");
    }
}

/// `a, b, c`, as Alembic's log lines join revision ids.
fn push_joined(out: &mut String, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(id);
    }
}
