//! Offline SQL (`upgrade A:B --sql`): the whole script for a plan, without
//! a connection, in Alembic's shape, for psql (`psql -X -f script`).
//!
//! The script must do what an online run does, so it sends psql exactly
//! the revisions' SQL: it starts with psql settings that a `~/.psqlrc` or
//! the command line may have changed ([`PSQL_SETTINGS`]), a colon psql
//! would read as a variable reference is written `\:`, and a revision with
//! a psql meta-command (a backslash outside quotes) is refused before
//! anything is written ([`crate::sql::for_psql`]).

use super::audit::sql_sha256;
use super::error::DbError;
use super::names::{push_literal, VersionTable};
use super::step_sql::{missing_sql, read_step_text, RevisionSql, StepSql, StepText};
use crate::graph::VersionOp;
use crate::graph::{Direction, Plan, Step};
use crate::sql::{for_psql, needs_terminator};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

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

/// The start of every script: psql settings that make psql send each
/// statement as written, in UTF-8 (the encoding of revision files and of
/// online runs), in autocommit outside the script's own BEGIN/COMMIT, and
/// stop at the first error, whatever `~/.psqlrc`, `-v` options or
/// `PGCLIENTENCODING` say. Without ON_ERROR_STOP, psql would go on after
/// a failed non-transactional statement and record the revision as applied.
pub const PSQL_SETTINGS: &str = "\
-- psql settings: stop at the first error, send every statement as written.
\\set ON_ERROR_STOP on
\\set ON_ERROR_ROLLBACK off
\\set AUTOCOMMIT on
\\set SINGLELINE off
\\set SINGLESTEP off
\\encoding UTF8

";

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
/// The script starts with [`PSQL_SETTINGS`]; the revisions' SQL is passed
/// through [`for_psql`]. The resulting schema and version table are those
/// of the online run.
pub struct OfflineScript<'a> {
    plan: &'a Plan,
    /// Each step's SQL, read for this script, in plan order.
    texts: Vec<StepText<'a>>,
    table: &'a VersionTable,
    /// Audit rows (and the audit table's DDL) are written; off with
    /// `audit: off` / `--no-audit`.
    audit: bool,
}

impl<'a> OfflineScript<'a> {
    /// Reads every step's SQL for this script ([`StepSql::read_step`], in
    /// parallel) and refuses, before anything is written, a step with no
    /// SQL ([`DbError::MissingSql`]), one whose SQL cannot be read now
    /// ([`DbError::StepSource`]), transaction control in a transactional
    /// step, or a psql meta-command ([`DbError::PsqlCommand`]); the first
    /// in plan order.
    pub fn new<S: StepSql>(
        plan: &'a Plan,
        sql: &'a S,
        table: &'a VersionTable,
    ) -> Result<Self, DbError> {
        let missing = missing_sql(&plan.steps, sql);
        if !missing.is_empty() {
            return Err(DbError::MissingSql { revisions: missing });
        }
        let texts = plan
            .steps
            .par_iter()
            .map(|step| read_checked(sql, step))
            .collect::<Result<Vec<_>, DbError>>()?;
        Ok(OfflineScript {
            plan,
            texts,
            table,
            audit: true,
        })
    }

    /// The script without the audit table and its rows (`audit: off`).
    pub fn without_audit(mut self) -> Self {
        self.audit = false;
        self
    }

    /// Writes the script: steps are rendered in parallel, a batch of parts
    /// at a time, and written in order.
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let plan = self.plan;
        let mut preamble = String::from(PSQL_SETTINGS);
        if plan.start_heads.is_empty() && plan.direction == Direction::Upgrade {
            preamble.push_str(&self.table.create_sql());
            preamble.push_str(";\n\n");
        }
        if self.audit {
            preamble.push_str(&self.table.create_history_sql());
            preamble.push_str(";\n\n");
            preamble.push_str(&self.table.upgrade_history_sql());
            preamble.push_str(";\n\n");
        }
        out.write_all(preamble.as_bytes())?;
        let names = (self.table.sql_name(), self.table.history_sql_name());
        let mut parts = vec![String::new(); PARTS_PER_BATCH];
        for (b, batch) in plan
            .steps
            .chunks(STEPS_PER_PART * PARTS_PER_BATCH)
            .enumerate()
        {
            let offset = b * STEPS_PER_PART * PARTS_PER_BATCH;
            let used = batch.len().div_ceil(STEPS_PER_PART);
            parts[..used]
                .par_iter_mut()
                .zip(batch.par_chunks(STEPS_PER_PART))
                .enumerate()
                .for_each(|(k, (part, steps))| {
                    part.clear();
                    let first = offset + k * STEPS_PER_PART;
                    for (step, text) in steps.iter().zip(&self.texts[first..]) {
                        self.render_step(part, step, text, &names);
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
    fn render_step(
        &self,
        out: &mut String,
        step: &Step,
        text: &StepText<'_>,
        (t, history): &(String, String),
    ) {
        let StepText {
            sql: text,
            reverse,
            transactional,
            checksum,
            ..
        } = text;
        let transactional = *transactional;
        out.push_str("-- Running ");
        step.push_short_log(out);
        out.push_str("\n\n");
        if transactional {
            out.push_str("BEGIN;\n\n");
        }
        // `new` refused SQL that psql cannot be made to send as written.
        let body = for_psql(text).unwrap_or(Cow::Borrowed(text));
        let body = body.trim_end();
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
        if !self.audit {
            if transactional {
                out.push_str("COMMIT;\n\n");
            }
            return;
        }
        out.push_str("INSERT INTO ");
        out.push_str(history);
        out.push_str(" (revision, direction, sql_sha256, downgrade_sha256, success) VALUES (");
        push_literal(out, &step.revision);
        out.push_str(", ");
        push_literal(out, step.direction.as_str());
        out.push_str(", ");
        match checksum {
            Some(sha) => push_literal(out, sha),
            None => push_literal(out, &sql_sha256(text)),
        }
        out.push_str(", ");
        match reverse
            .as_ref()
            .filter(|_| step.direction == Direction::Upgrade)
        {
            Some(down) => push_literal(out, &sql_sha256(down)),
            None => out.push_str("NULL"),
        }
        out.push_str(", true);\n\n");
        if transactional {
            out.push_str("COMMIT;\n\n");
        }
    }
}

/// One step's SQL, read for the script and checked (also for what psql
/// would act on itself).
fn read_checked<'s, S: StepSql>(sql: &'s S, step: &Step) -> Result<StepText<'s>, DbError> {
    let text = read_step_text(sql, step)?;
    if let Err(e) = for_psql(&text.sql) {
        return Err(DbError::PsqlCommand {
            revision: step.revision.clone(),
            direction: step.direction.as_str(),
            line: e.line,
            text: e.text,
        });
    }
    Ok(text)
}
