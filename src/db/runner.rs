//! The runner: under the migration lock, read the version table, plan from
//! it, and execute each step with its version-table change and audit row.

use super::audit::{self, sql_sha256, AuditRecord};
use super::conn::Database;
use super::error::{pg_message, DbError};
use super::lock::{MigrationLock, DEFAULT_LOCK_TIMEOUT};
use super::names::VersionTable;
use super::offline::StepSql;
use crate::sql::split_statements;
use super::version::{apply_ops, current, ensure_tables, Statements};
use crate::graph::{Direction, Plan, ResolveError, RevisionGraph, Step};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// The SQL of one native revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevisionSql {
    pub upgrade: String,
    pub downgrade: String,
    /// `false` for statements that cannot run in a transaction
    /// (`CREATE INDEX CONCURRENTLY`, `ALTER TYPE ... ADD VALUE` on old
    /// servers): they run one by one in autocommit mode.
    pub transactional: bool,
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

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub table: VersionTable,
    /// How long to wait for the migration lock (default 60 s).
    pub lock_timeout: Duration,
    /// Run the whole plan in one transaction instead of one per revision.
    /// Refused (before any change) if the plan has a non-transactional step.
    pub transaction_per_run: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            table: VersionTable::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            transaction_per_run: false,
        }
    }
}

/// What a successful run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The plan computed under the lock from the version table as it was;
    /// every step of it was applied. No steps: nothing was left to do.
    pub plan: Plan,
    /// Wall time of each step, in plan order.
    pub durations: Vec<Duration>,
}

/// Revisions of `plan` with no entry in `sql` (Alembic `.py` revisions),
/// in plan order. Empty if the plan can run.
pub fn missing_sql(plan: &Plan, sql: &impl StepSql) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &plan.steps {
        if sql.step_sql(&s.revision, s.direction).is_none() && !out.contains(&s.revision) {
            out.push(s.revision.clone());
        }
    }
    out
}

/// Upgrades to `target` (any identifier the graph resolves) — see [`run`].
pub fn upgrade(
    db: &mut Database,
    graph: &RevisionGraph,
    target: &str,
    sql: &HashMap<String, RevisionSql>,
    opts: &RunOptions,
    on_step: impl FnMut(&Step, Duration),
) -> Result<RunOutcome, DbError> {
    run(
        db,
        sql,
        opts,
        |rows| graph.plan_upgrade(rows, target),
        on_step,
    )
}

/// Downgrades to `target` — see [`run`].
pub fn downgrade(
    db: &mut Database,
    graph: &RevisionGraph,
    target: &str,
    sql: &HashMap<String, RevisionSql>,
    opts: &RunOptions,
    on_step: impl FnMut(&Step, Duration),
) -> Result<RunOutcome, DbError> {
    run(
        db,
        sql,
        opts,
        |rows| graph.plan_downgrade(rows, target),
        on_step,
    )
}

/// Runs a plan against the database.
///
/// 1. Takes the [`MigrationLock`] (own session, `opts.lock_timeout`).
/// 2. Reads the version table and calls `plan_for(rows)`; so a runner that
///    waited for another one plans from what that one left, usually nothing.
/// 3. Refuses before changing anything if a step has no SQL
///    ([`DbError::MissingSql`]) or `transaction_per_run` meets a
///    non-transactional step ([`DbError::Usage`]).
/// 4. Creates the version and audit tables if missing, then runs each step:
///    by default its SQL, version-table change and audit row commit in one
///    transaction; non-transactional steps run statement by statement in
///    autocommit, then the version change and audit row commit together.
///    `on_step(step, elapsed)` is called after each step commits (with
///    `transaction_per_run`, after each step runs; the commit is at the end).
/// 5. A failing step is rolled back and then recorded in the audit table
///    with `success = false` in its own transaction; the error
///    ([`DbError::StepFailed`]) lists what this run had already committed.
///
/// The lock is released when this returns.
pub fn run<P, F>(
    db: &mut Database,
    sql: &HashMap<String, RevisionSql>,
    opts: &RunOptions,
    plan_for: P,
    mut on_step: F,
) -> Result<RunOutcome, DbError>
where
    P: FnOnce(&[String]) -> Result<Plan, ResolveError>,
    F: FnMut(&Step, Duration),
{
    let lock = MigrationLock::acquire(db, &opts.table, opts.lock_timeout)?;
    let result = run_locked(db, sql, opts, plan_for, &mut on_step);
    lock.release();
    result.map_err(|e| db.scrub_err(e))
}

fn run_locked<P, F>(
    db: &mut Database,
    sql: &HashMap<String, RevisionSql>,
    opts: &RunOptions,
    plan_for: P,
    on_step: &mut F,
) -> Result<RunOutcome, DbError>
where
    P: FnOnce(&[String]) -> Result<Plan, ResolveError>,
    F: FnMut(&Step, Duration),
{
    let table = &opts.table;
    let client = db.client();
    let rows = current(client, table)?;
    let plan = plan_for(&rows)?;
    let missing = missing_sql(&plan, sql);
    if !missing.is_empty() {
        return Err(DbError::MissingSql { revisions: missing });
    }
    if opts.transaction_per_run {
        if let Some(s) = plan.steps.iter().find(|s| !sql[&s.revision].transactional) {
            return Err(DbError::Usage(format!(
                "revision {} is non-transactional, so the run cannot be one transaction; run without --transaction-per-run",
                s.revision
            )));
        }
    }
    if plan.steps.is_empty() {
        return Ok(RunOutcome {
            plan,
            durations: Vec::new(),
        });
    }
    ensure_tables(client, table)?;
    let st = Statements::prepare(client, table)?;
    let durations = if opts.transaction_per_run {
        run_single_transaction(client, &st, &plan, sql, on_step)?
    } else {
        run_per_step(client, &st, &plan, sql, on_step)?
    };
    Ok(RunOutcome { plan, durations })
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes the failure audit row in its own transaction (the step's own
/// transaction is gone) and builds the error.
#[allow(clippy::too_many_arguments)]
fn fail(
    client: &mut postgres::Client,
    st: &Statements,
    step: &Step,
    sha: &str,
    started_at: SystemTime,
    started: Instant,
    message: String,
    applied: Vec<String>,
    partial_effects: bool,
    run_rolled_back: bool,
) -> DbError {
    let mut message = message;
    let record = AuditRecord {
        revision: &step.revision,
        direction: step.direction.as_str(),
        sql_sha256: Some(sha),
        started_at,
        duration_ms: millis(started.elapsed()),
        success: false,
        error: Some(&message),
    };
    if let Err(e) = audit::write(client, st, &record) {
        message.push_str(&format!(
            " (also, the failure could not be recorded in {}: {})",
            audit::HISTORY_TABLE,
            pg_message(&e)
        ));
    }
    DbError::StepFailed {
        revision: step.revision.clone(),
        direction: step.direction.as_str().to_string(),
        message,
        applied,
        partial_effects,
        run_rolled_back,
    }
}

fn run_per_step<F: FnMut(&Step, Duration)>(
    client: &mut postgres::Client,
    st: &Statements,
    plan: &Plan,
    sql: &HashMap<String, RevisionSql>,
    on_step: &mut F,
) -> Result<Vec<Duration>, DbError> {
    let mut applied: Vec<String> = Vec::new();
    let mut durations = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let rs = &sql[&step.revision];
        let text = rs.for_direction(step.direction);
        let sha = sql_sha256(text);
        let started_at = SystemTime::now();
        let started = Instant::now();
        let ops = &step.version_ops;
        let outcome: Result<(), (String, bool)> = if rs.transactional {
            (|| {
                let mut tx = client.transaction().map_err(|e| (pg_message(&e), false))?;
                tx.batch_execute(text)
                    .map_err(|e| (pg_message(&e), false))?;
                apply_ops(&mut tx, st, ops).map_err(|m| (m, false))?;
                let rec = AuditRecord {
                    revision: &step.revision,
                    direction: step.direction.as_str(),
                    sql_sha256: Some(&sha),
                    started_at,
                    duration_ms: millis(started.elapsed()),
                    success: true,
                    error: None,
                };
                audit::write(&mut tx, st, &rec).map_err(|e| (pg_message(&e), false))?;
                tx.commit().map_err(|e| (pg_message(&e), false))
            })()
        } else {
            (|| {
                let statements = split_statements(text);
                for (i, stmt) in statements.iter().enumerate() {
                    client.batch_execute(stmt).map_err(|e| {
                        (
                            format!(
                                "statement {} of {}: {}",
                                i + 1,
                                statements.len(),
                                pg_message(&e)
                            ),
                            true,
                        )
                    })?;
                }
                // Every statement committed: now record it.
                let mut tx = client.transaction().map_err(|e| (pg_message(&e), true))?;
                apply_ops(&mut tx, st, ops).map_err(|m| (m, true))?;
                let rec = AuditRecord {
                    revision: &step.revision,
                    direction: step.direction.as_str(),
                    sql_sha256: Some(&sha),
                    started_at,
                    duration_ms: millis(started.elapsed()),
                    success: true,
                    error: None,
                };
                audit::write(&mut tx, st, &rec).map_err(|e| (pg_message(&e), true))?;
                tx.commit().map_err(|e| (pg_message(&e), true))
            })()
        };
        if let Err((message, partial)) = outcome {
            return Err(fail(
                client, st, step, &sha, started_at, started, message, applied, partial, false,
            ));
        }
        let elapsed = started.elapsed();
        durations.push(elapsed);
        applied.push(step.revision.clone());
        on_step(step, elapsed);
    }
    Ok(durations)
}

fn run_single_transaction<F: FnMut(&Step, Duration)>(
    client: &mut postgres::Client,
    st: &Statements,
    plan: &Plan,
    sql: &HashMap<String, RevisionSql>,
    on_step: &mut F,
) -> Result<Vec<Duration>, DbError> {
    let mut durations = Vec::with_capacity(plan.steps.len());
    let mut failure: Option<(&Step, String, SystemTime, Instant, String)> = None;
    {
        let mut tx = client
            .transaction()
            .map_err(|e| DbError::query("starting the run's transaction", &e))?;
        for step in &plan.steps {
            let text = sql[&step.revision].for_direction(step.direction);
            let sha = sql_sha256(text);
            let started_at = SystemTime::now();
            let started = Instant::now();
            let ops = &step.version_ops;
            let r = tx
                .batch_execute(text)
                .map_err(|e| pg_message(&e))
                .and_then(|_| apply_ops(&mut tx, st, ops))
                .and_then(|_| {
                    let rec = AuditRecord {
                        revision: &step.revision,
                        direction: step.direction.as_str(),
                        sql_sha256: Some(&sha),
                        started_at,
                        duration_ms: millis(started.elapsed()),
                        success: true,
                        error: None,
                    };
                    audit::write(&mut tx, st, &rec).map_err(|e| pg_message(&e))
                });
            if let Err(m) = r {
                failure = Some((step, sha, started_at, started, m));
                break;
            }
            let elapsed = started.elapsed();
            durations.push(elapsed);
            on_step(step, elapsed);
        }
        if failure.is_none() {
            if let Err(e) = tx.commit() {
                let last = plan.steps.last().expect("non-empty plan");
                let text = sql[&last.revision].for_direction(last.direction);
                failure = Some((
                    last,
                    sql_sha256(text),
                    SystemTime::now(),
                    Instant::now(),
                    format!("committing the run: {}", pg_message(&e)),
                ));
            } else {
                return Ok(durations);
            }
        }
        // Dropping `tx` rolls the run back.
    }
    let (step, sha, started_at, started, message) = failure.expect("failure recorded");
    Err(fail(
        client,
        st,
        step,
        &sha,
        started_at,
        started,
        message,
        Vec::new(),
        false,
        true,
    ))
}
