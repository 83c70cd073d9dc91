//! Offline SQL (`upgrade A:B --sql`): the whole script for a plan, without
//! a connection, in Alembic's shape, runnable with
//! `psql -v ON_ERROR_STOP=1`.

use super::audit::sql_sha256;
use super::error::DbError;
use super::names::{quote_literal, VersionTable};
use super::runner::{missing_sql, RevisionSql};
use super::split::needs_terminator;
use super::version::VersionOp;
use crate::graph::{Direction, Plan};
use std::collections::HashMap;

/// Renders `plan` as one SQL script:
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
    let missing = missing_sql(plan, sql);
    if !missing.is_empty() {
        return Err(DbError::MissingSql { revisions: missing });
    }
    // Writing into a String cannot fail, so the fmt results are ignored.
    use std::fmt::Write;
    let mut out = String::with_capacity(plan.steps.len() * 512);
    if plan.start_heads.is_empty() && plan.direction == Direction::Upgrade {
        out.push_str(&table.create_sql());
        out.push_str(";\n\n");
    }
    out.push_str(&table.create_history_sql());
    out.push_str(";\n\n");
    let t = table.sql_name();
    let history = table.history_sql_name();
    for step in &plan.steps {
        let rs = &sql[&step.revision];
        let text = rs.for_direction(step.direction);
        let _ = write!(out, "-- Running {}\n\n", step.short_log());
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
            let _ = match op {
                VersionOp::Insert { version } => write!(
                    out,
                    "INSERT INTO {t} (version_num) VALUES ({});\n\n",
                    quote_literal(version)
                ),
                VersionOp::Delete { version } => write!(
                    out,
                    "DELETE FROM {t} WHERE version_num = {};\n\n",
                    quote_literal(version)
                ),
                VersionOp::Update { from, to } => write!(
                    out,
                    "UPDATE {t} SET version_num = {} WHERE version_num = {};\n\n",
                    quote_literal(to),
                    quote_literal(from)
                ),
            };
        }
        let _ = write!(
            out,
            "INSERT INTO {history} (revision, direction, sql_sha256, success) VALUES ({}, {}, {}, true);\n\n",
            quote_literal(&step.revision),
            quote_literal(step.direction.as_str()),
            quote_literal(&sql_sha256(text))
        );
        if rs.transactional {
            out.push_str("COMMIT;\n\n");
        }
    }
    Ok(out)
}
