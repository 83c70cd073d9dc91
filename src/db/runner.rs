//! The runner: under the migration lock, read and validate the version
//! table, plan from it, and execute each step with its version-table change
//! and audit row. The algorithm ([`run_on`]) works on any [`Session`];
//! [`run`] wires it to PostgreSQL.
//!
//! What a run guarantees, step by step:
//! - nothing changes before the version table is validated (no repeated,
//!   unknown or overlapping rows), every step has SQL, and no
//!   transactional step contains transaction control;
//! - each step starts from the session's settings at connect time;
//! - a transactional step's SQL, version-table change and audit row commit
//!   together, or not at all; a non-transactional step's statements commit
//!   one by one, and its audit row says `unfinished` until it is recorded;
//! - no step starts, and no transactional step commits, once the migration
//!   lock is lost (see [`super::lock`]);
//! - a failure says exactly what stayed committed ([`StepFailure`]).

use super::audit::sql_sha256;
use super::catalog;
use super::conn::Database;
use super::error::{Blocker, DbError, RunEffects, StepEffects, StepFailure};
use super::lease::{LockChoice, RunLock};
use super::lock::DEFAULT_LOCK_TIMEOUT;
use super::names::VersionTable;
use super::pg_session::PgSession;
use super::session::{
    AuditRecord, AuditWrite, CommitError, InterruptedAttempt, LockState, Session, SessionError,
    Timeouts, UNFINISHED,
};
use super::step_sql::{missing_sql, read_step_text, StepSql, StepText};
use super::version::validate_rows;
use crate::graph::{Direction, Plan, ResolveError, RevisionGraph, Step};
use crate::sql::split_statements;
use std::time::{Duration, Instant, SystemTime};

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub table: VersionTable,
    /// How long to wait for the migration lock (default 60 s).
    pub lock_timeout: Duration,
    /// Which lock: advisory (default) or lease (`--lock lease`).
    pub lock: LockChoice,
    /// Run the whole plan in one transaction instead of one per revision.
    /// Refused (before any change) if the plan has a non-transactional step.
    pub transaction_per_run: bool,
    /// `lock_timeout` / `statement_timeout` given for this run
    /// (`--ddl-lock-timeout`, `--statement-timeout`): over each revision's.
    pub run_timeouts: Timeouts,
    /// The project's (`mergepoint.yaml`): under each revision's own.
    pub default_timeouts: Timeouts,
    /// How many more times a step (or, non-transactional, a statement)
    /// that gave up waiting for a lock is tried (`--retries`).
    pub retries: u32,
    /// The wait before the first retry; it doubles each time, to at most
    /// 16 times this.
    pub retry_backoff: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            table: VersionTable::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            lock: LockChoice::Advisory,
            transaction_per_run: false,
            run_timeouts: Timeouts::default(),
            default_timeouts: Timeouts::default(),
            retries: 0,
            retry_backoff: Duration::from_millis(500),
        }
    }
}

impl RunOptions {
    /// The timeouts a step runs with: the run's, else the revision's, else
    /// the project's.
    fn timeouts_for(&self, text: &StepText<'_>) -> Timeouts {
        self.run_timeouts
            .or(&text.timeouts)
            .or(&self.default_timeouts)
    }

    /// The wait before retry number `n` (1-based).
    fn backoff(&self, n: u32) -> Duration {
        self.retry_backoff * 2u32.pow(n.saturating_sub(1).min(4))
    }
}

/// What a successful run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The plan computed under the lock from the version table as it was;
    /// every step of it was applied, unless the observer stopped the run
    /// ([`RunObserver::go_on`]). No steps: nothing was left to do.
    pub plan: Plan,
    /// Wall time of each step, in plan order.
    pub durations: Vec<Duration>,
}

/// Something the user should know while the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Earlier runs ended in the middle of these non-transactional steps;
    /// statements they had committed stay committed, and this run starts
    /// them again from their first statement.
    Interrupted(Vec<InterruptedAttempt>),
    /// A step (or, `statement: Some((k, n))`, statement k of n of a
    /// non-transactional step) gave up waiting for a lock on attempt
    /// `attempt` of `of`; nothing of that attempt remains, and it is tried
    /// again after `wait`.
    Retrying {
        revision: String,
        direction: Direction,
        statement: Option<(usize, usize)>,
        attempt: u32,
        of: u32,
        wait: Duration,
        blockers: Vec<Blocker>,
    },
}

/// Told about a run as it goes. Any `FnMut(&Step, Duration)` is one that
/// ignores notices.
pub trait RunObserver {
    /// A step was applied (and, one transaction per step, committed).
    fn step_done(&mut self, step: &Step, took: Duration);
    /// See [`Notice`].
    fn notice(&mut self, _notice: &Notice) {}
    /// Asked after each step of a run of one transaction per step:
    /// `false` ends the run there, as if the plan stopped after that step
    /// ([`RunOutcome::durations`] then has fewer entries than the plan has
    /// steps). `verify` stops when a step's result makes the next ones
    /// pointless.
    fn go_on(&mut self) -> bool {
        true
    }
}

impl<F: FnMut(&Step, Duration)> RunObserver for F {
    fn step_done(&mut self, step: &Step, took: Duration) {
        self(step, took)
    }
}

/// Upgrades to `target` (any identifier the graph resolves) — see [`run`].
pub fn upgrade(
    db: &mut Database,
    graph: &RevisionGraph,
    target: &str,
    sql: &impl StepSql,
    opts: &RunOptions,
    observer: impl RunObserver,
) -> Result<RunOutcome, DbError> {
    move_to(db, graph, Direction::Upgrade, target, sql, opts, observer)
}

/// Downgrades to `target` — see [`run`].
pub fn downgrade(
    db: &mut Database,
    graph: &RevisionGraph,
    target: &str,
    sql: &impl StepSql,
    opts: &RunOptions,
    observer: impl RunObserver,
) -> Result<RunOutcome, DbError> {
    move_to(db, graph, Direction::Downgrade, target, sql, opts, observer)
}

/// Moves the database to `target` in `direction` — see [`run`].
pub fn move_to(
    db: &mut Database,
    graph: &RevisionGraph,
    direction: Direction,
    target: &str,
    sql: &impl StepSql,
    opts: &RunOptions,
    observer: impl RunObserver,
) -> Result<RunOutcome, DbError> {
    let plan_for = |g: &RevisionGraph, rows: &[String]| match direction {
        Direction::Upgrade => g.plan_upgrade(rows, target),
        Direction::Downgrade => g.plan_downgrade(rows, target),
    };
    run(db, graph, sql, opts, plan_for, observer)
}

/// Runs a plan against the database: resolves the version table's schema
/// once (so a revision's `search_path` cannot move it), takes the
/// chosen [`RunLock`] (and the step guard, with the advisory lock), and runs [`run_on`]. Both locks
/// are released when this returns.
pub fn run<P, O>(
    db: &mut Database,
    graph: &RevisionGraph,
    sql: &impl StepSql,
    opts: &RunOptions,
    plan_for: P,
    observer: O,
) -> Result<RunOutcome, DbError>
where
    P: FnOnce(&RevisionGraph, &[String]) -> Result<Plan, ResolveError>,
    O: RunObserver,
{
    let started = Instant::now();
    let result = (|| {
        let table = catalog::resolve_table(db.client(), &opts.table)?;
        let lock = RunLock::acquire(db, &table, opts.lock, opts.lock_timeout)?;
        let mut session = PgSession::open(db, &table, &lock, started, opts.lock_timeout)?;
        let result = run_on(&mut session, graph, sql, opts, plan_for, observer);
        session.close();
        lock.release();
        result
    })();
    result.map_err(|e| db.scrub_err(e))
}

/// The run itself, on any session that holds the locks:
///
/// 1. reads the version table and refuses, before changing anything, rows
///    that are repeated, unknown or overlapping
///    ([`DbError::BrokenVersionTable`]);
/// 2. plans from the rows (so a runner that waited plans from what the
///    other one left, usually nothing) and refuses steps without SQL,
///    non-transactional steps in one run transaction, and transaction
///    control in transactional steps;
/// 3. reports earlier interrupted non-transactional steps ([`Notice`]);
/// 4. runs the steps, one transaction each or all in one.
pub fn run_on<S, P, O>(
    session: &mut S,
    graph: &RevisionGraph,
    sql: &impl StepSql,
    opts: &RunOptions,
    plan_for: P,
    mut observer: O,
) -> Result<RunOutcome, DbError>
where
    S: Session,
    P: FnOnce(&RevisionGraph, &[String]) -> Result<Plan, ResolveError>,
    O: RunObserver,
{
    let mut rows = session.version_rows()?;
    rows.sort();
    let problems = validate_rows(graph, &rows);
    if !problems.is_empty() {
        return Err(DbError::BrokenVersionTable {
            table: session.table_name(),
            problems,
        });
    }
    let plan = plan_for(graph, &rows)?;
    let texts = step_texts(&plan, sql, opts.transaction_per_run)?;
    if plan.steps.is_empty() {
        return Ok(RunOutcome {
            plan,
            durations: Vec::new(),
        });
    }
    session.ensure_tables()?;
    let interrupted = session.unfinished_attempts()?;
    if !interrupted.is_empty() {
        let ids: Vec<i64> = interrupted.iter().map(|a| a.audit_id).collect();
        observer.notice(&Notice::Interrupted(interrupted));
        session.mark_interrupted(&ids)?;
    }
    let durations = if opts.transaction_per_run {
        one_transaction(session, &plan, &texts, opts, &mut observer)?
    } else {
        per_step(session, &plan, &texts, opts, &mut observer)?
    };
    Ok(RunOutcome { plan, durations })
}

/// The SQL of every step, read for this run and checked before anything
/// runs.
fn step_texts<'s>(
    plan: &Plan,
    sql: &'s impl StepSql,
    transaction_per_run: bool,
) -> Result<Vec<StepText<'s>>, DbError> {
    let missing = missing_sql(&plan.steps, sql);
    if !missing.is_empty() {
        return Err(DbError::MissingSql { revisions: missing });
    }
    let mut texts = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let text = read_step_text(sql, step)?;
        if transaction_per_run && !text.transactional {
            return Err(DbError::NotOneTransaction {
                revision: step.revision.clone(),
            });
        }
        texts.push(text);
    }
    Ok(texts)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The clock and checksums of one step, and the audit rows it writes.
struct StepRun<'a> {
    step: &'a Step,
    sha: String,
    down_sha: Option<String>,
    started_at: SystemTime,
    started: Instant,
}

impl<'a> StepRun<'a> {
    fn start(step: &'a Step, text: &StepText<'_>) -> Self {
        StepRun {
            step,
            sha: sql_sha256(&text.sql),
            // Recorded with upgrades, so an edited downgrade shows as drift.
            down_sha: match step.direction {
                Direction::Upgrade => text.reverse.as_deref().map(sql_sha256),
                Direction::Downgrade => None,
            },
            started_at: SystemTime::now(),
            started: Instant::now(),
        }
    }

    fn record<'r>(&'r self, success: bool, error: Option<&'r str>) -> AuditRecord<'r> {
        AuditRecord {
            revision: &self.step.revision,
            direction: self.step.direction.as_str(),
            sql_sha256: Some(&self.sha),
            downgrade_sha256: self.down_sha.as_deref(),
            started_at: self.started_at,
            duration_ms: millis(self.started.elapsed()),
            success,
            error,
        }
    }

    /// The failure, after writing its audit row on mergepoint's own terms:
    /// the session's settings restored, in a transaction of its own (or
    /// into the step's `unfinished` row).
    fn fail(
        &self,
        session: &mut impl Session,
        message: String,
        applied: &[String],
        effects: StepEffects,
        run: RunEffects,
        audit_row: Option<i64>,
    ) -> DbError {
        let record = self.record(false, Some(&message));
        let written = session.restore_settings().and_then(|_| match audit_row {
            Some(id) => session.finish_audit(id, &record),
            None => session.write_audit(&record).map(|_| ()),
        });
        DbError::StepFailed(Box::new(StepFailure {
            revision: self.step.revision.clone(),
            direction: self.step.direction,
            message: message.clone(),
            applied: applied.to_vec(),
            effects,
            run,
            audit_error: written.err().map(|e| e.message),
            lock_timeout_attempts: None,
            blockers: Vec::new(),
        }))
    }
}

fn lock_lost(
    session: &impl Session,
    reason: String,
    applied: &[String],
    before: Option<&Step>,
) -> DbError {
    DbError::LockLost {
        table: session.table_name(),
        reason,
        applied: applied.to_vec(),
        stopped_before: before.map(|s| s.revision.clone()),
    }
}

/// One transaction per step (non-transactional steps: one per statement).
fn per_step<S: Session>(
    session: &mut S,
    plan: &Plan,
    texts: &[StepText<'_>],
    opts: &RunOptions,
    observer: &mut impl RunObserver,
) -> Result<Vec<Duration>, DbError> {
    let mut applied: Vec<String> = Vec::new();
    let mut durations = Vec::with_capacity(plan.steps.len());
    for (step, text) in plan.steps.iter().zip(texts) {
        let took = apply_step(session, step, text, opts, &applied, observer)?;
        durations.push(took);
        applied.push(step.revision.clone());
        observer.step_done(step, took);
        if !observer.go_on() {
            break;
        }
    }
    // A lock lost during the last step: everything was applied, and the
    // step guard kept others out, but the operator must hear of it.
    match session.check_lock() {
        LockState::Held => Ok(durations),
        LockState::LockLost(r) | LockState::GuardLost(r) => {
            Err(lock_lost(session, r, &applied, None))
        }
    }
}

/// One step, tried again (transactional steps) while it gives up waiting
/// for a lock and `opts.retries` allows. Returns how long the last attempt
/// took.
fn apply_step<S: Session>(
    session: &mut S,
    step: &Step,
    text: &StepText<'_>,
    opts: &RunOptions,
    applied: &[String],
    observer: &mut impl RunObserver,
) -> Result<Duration, DbError> {
    let timeouts = opts.timeouts_for(text);
    let mut blockers = Vec::new();
    for attempt in 1.. {
        match session.check_lock() {
            LockState::Held => {}
            LockState::LockLost(r) | LockState::GuardLost(r) => {
                return Err(lock_lost(session, r, applied, Some(step)))
            }
        }
        let run = StepRun::start(step, text);
        if let Err(e) = session.restore_settings() {
            let message = format!("restoring the session's settings: {}", e.message);
            return Err(run.fail(
                session,
                message,
                applied,
                StepEffects::RolledBack,
                RunEffects::PerStep,
                None,
            ));
        }
        let result = if text.transactional {
            transactional_step(session, &run, &text.sql, &timeouts, applied)
        } else {
            let retry = Retry {
                opts,
                observer: &mut *observer,
            };
            non_transactional_step(session, &run, &text.sql, &timeouts, applied, retry)
        };
        let mut failure = match result {
            Ok(()) => return Ok(run.started.elapsed()),
            Err(DbError::StepFailed(f))
                if text.transactional && f.lock_timeout_attempts.is_some() =>
            {
                f
            }
            Err(e) => return Err(e),
        };
        let seen = session.recent_blockers();
        if !seen.is_empty() {
            blockers = seen;
        }
        if attempt > opts.retries {
            failure.lock_timeout_attempts = Some(attempt);
            failure.blockers = blockers;
            return Err(DbError::StepFailed(failure));
        }
        let wait = opts.backoff(attempt);
        observer.notice(&Notice::Retrying {
            revision: step.revision.clone(),
            direction: step.direction,
            statement: None,
            attempt,
            of: opts.retries + 1,
            wait,
            blockers: blockers.clone(),
        });
        std::thread::sleep(wait);
    }
    unreachable!("the attempts loop returns")
}

/// Marks a step failure as a lock timeout (one attempt so far).
fn as_lock_timeout(e: DbError) -> DbError {
    match e {
        DbError::StepFailed(mut f) => {
            f.lock_timeout_attempts = Some(1);
            DbError::StepFailed(f)
        }
        other => other,
    }
}

/// What a non-transactional step needs to retry a statement.
struct Retry<'a, O: RunObserver> {
    opts: &'a RunOptions,
    observer: &'a mut O,
}

/// The revision's SQL, the version-table change and the audit row, in one
/// transaction.
fn transactional_step<S: Session>(
    session: &mut S,
    run: &StepRun<'_>,
    sql: &str,
    timeouts: &Timeouts,
    applied: &[String],
) -> Result<(), DbError> {
    let fail = |session: &mut S, message: String, effects| {
        Err(run.fail(
            session,
            message,
            applied,
            effects,
            RunEffects::PerStep,
            None,
        ))
    };
    if let Err(e) = session.begin() {
        return fail(
            session,
            format!("starting its transaction: {}", e.message),
            StepEffects::RolledBack,
        );
    }
    if !timeouts.is_empty() {
        if let Err(e) = session.set_timeouts(timeouts) {
            session.rollback();
            let message = format!("setting its timeouts: {}", e.message);
            return fail(session, message, StepEffects::RolledBack);
        }
    }
    if let Err(e) = session.execute(sql) {
        // Aborted by its error, or ended by its own COMMIT or ROLLBACK? (On
        // success, `commit_step` checks that in the same round trip.)
        match session.transaction_intact() {
            Ok(true) => {}
            Ok(false) => {
                session.rollback();
                return fail(session, e.message, StepEffects::TransactionEndedByRevision);
            }
            Err(lost) => {
                let effects = unsure_if_lost(&lost);
                return fail(session, e.message, effects);
            }
        }
        session.rollback();
        let failed = fail(session, e.message, StepEffects::RolledBack);
        return if e.lock_timeout {
            failed.map_err(as_lock_timeout)
        } else {
            failed
        };
    }
    let ops = &run.step.version_ops;
    match session.commit_step(ops, &AuditWrite::Insert(run.record(true, None)), true) {
        Ok(()) => Ok(()),
        Err(CommitError::TransactionEnded) => {
            session.rollback();
            let message = "its SQL ended mergepoint's transaction".to_string();
            fail(session, message, StepEffects::TransactionEndedByRevision)
        }
        Err(CommitError::GuardLost(r)) => {
            session.rollback();
            Err(lock_lost(session, r, applied, Some(run.step)))
        }
        Err(CommitError::Failed(e)) => {
            session.rollback();
            let effects = if e.connection_lost {
                StepEffects::Unknown
            } else {
                StepEffects::RolledBack
            };
            fail(session, e.message, effects)
        }
    }
}

/// A lost connection leaves the outcome unknown to us; the server rolls
/// back an open transaction when its session ends.
fn unsure_if_lost(e: &SessionError) -> StepEffects {
    if e.connection_lost {
        StepEffects::RolledBack
    } else {
        StepEffects::TransactionEndedByRevision
    }
}

/// Statement by statement in autocommit, then the version-table change and
/// the audit row (written as `unfinished` before the first statement) in
/// one transaction.
fn non_transactional_step<S: Session, O: RunObserver>(
    session: &mut S,
    run: &StepRun<'_>,
    sql: &str,
    timeouts: &Timeouts,
    applied: &[String],
    retry: Retry<'_, O>,
) -> Result<(), DbError> {
    let audit_id = match session.write_audit(&run.record(false, Some(UNFINISHED))) {
        Ok(id) => id,
        Err(e) => {
            return Err(run.fail(
                session,
                format!("recording the start of the step: {}", e.message),
                applied,
                StepEffects::RolledBack,
                RunEffects::PerStep,
                None,
            ))
        }
    };
    let fail = |session: &mut S, message: String, effects| {
        Err(run.fail(
            session,
            message,
            applied,
            effects,
            RunEffects::PerStep,
            Some(audit_id),
        ))
    };
    if !timeouts.is_empty() {
        if let Err(e) = session.set_timeouts(timeouts) {
            let message = format!("setting its timeouts: {}", e.message);
            return fail(session, message, StepEffects::RolledBack);
        }
    }
    let total = run_statements(session, run, sql, applied, audit_id, retry)?;
    match session.in_transaction_block() {
        Ok(false) => {}
        Ok(true) => {
            session.rollback();
            return fail(
                session,
                "its SQL left a transaction open (BEGIN without COMMIT); what ran since that BEGIN was rolled back".to_string(),
                StepEffects::PartlyCommitted { committed: total, total },
            );
        }
        Err(e) => return fail(session, e.message, StepEffects::CommittedNotRecorded),
    }
    let audit = AuditWrite::Finish(audit_id, run.record(true, None));
    let message = match session.commit_step(&run.step.version_ops, &audit, false) {
        Ok(()) => return Ok(()),
        Err(CommitError::Failed(e)) if e.connection_lost => {
            return fail(session, e.message, StepEffects::Unknown)
        }
        Err(CommitError::Failed(e)) => e.message,
        // Every statement committed, but with the guard gone it is no
        // longer safe to record; say so rather than guess.
        Err(CommitError::GuardLost(r)) => format!("the migration lock was lost ({r})"),
        Err(CommitError::TransactionEnded) => "its transaction was ended".to_string(),
    };
    session.rollback();
    fail(
        session,
        format!("recording it: {message}"),
        StepEffects::CommittedNotRecorded,
    )
}

/// The statements of a non-transactional step, one by one in autocommit,
/// stopping between them if the step guard is lost. Returns how many ran.
fn run_statements<S: Session, O: RunObserver>(
    session: &mut S,
    run: &StepRun<'_>,
    sql: &str,
    applied: &[String],
    audit_id: i64,
    retry: Retry<'_, O>,
) -> Result<usize, DbError> {
    let statements = split_statements(sql);
    let total = statements.len();
    let partly = |committed| StepEffects::PartlyCommitted { committed, total };
    for (i, statement) in statements.iter().enumerate() {
        if i > 0 {
            if let LockState::GuardLost(r) = session.check_lock() {
                let message = format!(
                    "stopped after statement {i} of {total}: the migration lock was lost ({r})"
                );
                let _ = run.fail(
                    session,
                    message,
                    applied,
                    partly(i),
                    RunEffects::PerStep,
                    Some(audit_id),
                );
                return Err(lock_lost(session, r, applied, Some(run.step)));
            }
        }
        let mut blockers = Vec::new();
        for attempt in 1.. {
            let Err(e) = session.execute(statement) else {
                break;
            };
            let message = format!("statement {} of {total}: {}", i + 1, e.message);
            session.rollback();
            let seen = session.recent_blockers();
            if !seen.is_empty() {
                blockers = seen;
            }
            if !e.lock_timeout || attempt > retry.opts.retries {
                let failed = run.fail(
                    session,
                    message,
                    applied,
                    partly(i),
                    RunEffects::PerStep,
                    Some(audit_id),
                );
                return Err(match failed {
                    DbError::StepFailed(mut f) if e.lock_timeout => {
                        f.lock_timeout_attempts = Some(attempt);
                        f.blockers = blockers;
                        DbError::StepFailed(f)
                    }
                    other => other,
                });
            }
            // The statement changed nothing: record the attempt, wait, and
            // send it again (the statements before it stay committed).
            let wait = retry.opts.backoff(attempt);
            let note = format!(
                "{message} (attempt {attempt} of {}; tried again)",
                retry.opts.retries + 1
            );
            let _ = session.write_audit(&run.record(false, Some(&note)));
            retry.observer.notice(&Notice::Retrying {
                revision: run.step.revision.clone(),
                direction: run.step.direction,
                statement: Some((i + 1, total)),
                attempt,
                of: retry.opts.retries + 1,
                wait,
                blockers: blockers.clone(),
            });
            std::thread::sleep(wait);
        }
    }
    Ok(total)
}

/// The whole plan in one transaction (`--transaction-per-run`).
fn one_transaction<S: Session>(
    session: &mut S,
    plan: &Plan,
    texts: &[StepText<'_>],
    opts: &RunOptions,
    observer: &mut impl RunObserver,
) -> Result<Vec<Duration>, DbError> {
    let mut durations = Vec::with_capacity(plan.steps.len());
    let first = StepRun::start(&plan.steps[0], &texts[0]);
    if let Err(e) = session.restore_settings().and_then(|_| session.begin()) {
        let message = format!("starting the run's transaction: {}", e.message);
        return Err(run_failure(
            session,
            &first,
            message,
            StepEffects::RolledBack,
            RunEffects::RunRolledBack,
        ));
    }
    for (step, text) in plan.steps.iter().zip(texts) {
        if let LockState::LockLost(r) | LockState::GuardLost(r) = session.check_lock_in_run() {
            session.rollback();
            return Err(lock_lost(session, r, &[], Some(step)));
        }
        let run = StepRun::start(step, text);
        step_in_run_transaction(session, &run, &text.sql, &opts.timeouts_for(text))?;
        let took = run.started.elapsed();
        durations.push(took);
        observer.step_done(step, took);
    }
    if let LockState::LockLost(r) | LockState::GuardLost(r) = session.check_lock_in_run() {
        session.rollback();
        return Err(lock_lost(session, r, &[], None));
    }
    let (message, run_effects) = match session.commit_run() {
        Ok(()) => return Ok(durations),
        Err(CommitError::GuardLost(r)) => {
            session.rollback();
            return Err(lock_lost(session, r, &[], None));
        }
        Err(CommitError::TransactionEnded) => (
            "the run's transaction was ended".to_string(),
            RunEffects::RunTransactionEnded,
        ),
        Err(CommitError::Failed(e)) if e.connection_lost => (e.message, RunEffects::RunUnknown),
        Err(CommitError::Failed(e)) => (e.message, RunEffects::RunRolledBack),
    };
    session.rollback();
    let last = StepRun::start(&plan.steps[plan.steps.len() - 1], &texts[texts.len() - 1]);
    Err(run_failure(
        session,
        &last,
        format!("committing the run: {message}"),
        StepEffects::RolledBack,
        run_effects,
    ))
}

/// One step inside the run's transaction: its SQL, then its bookkeeping.
fn step_in_run_transaction<S: Session>(
    session: &mut S,
    run: &StepRun<'_>,
    sql: &str,
    timeouts: &Timeouts,
) -> Result<(), DbError> {
    // SET LOCAL: until the run commits, or the next step sets its own.
    let reset = Timeouts {
        lock_timeout: Some(
            timeouts
                .lock_timeout
                .clone()
                .unwrap_or_else(|| "0".to_string()),
        ),
        statement_timeout: Some(
            timeouts
                .statement_timeout
                .clone()
                .unwrap_or_else(|| "0".to_string()),
        ),
    };
    let ran = if timeouts.is_empty() {
        session.execute(sql)
    } else {
        session
            .set_timeouts(&reset)
            .and_then(|_| session.execute(sql))
    };
    let (message, effects, run_effects) = match ran {
        Ok(()) => {
            let audit = AuditWrite::Insert(run.record(true, None));
            match session.record(&run.step.version_ops, &audit) {
                Ok(()) => return Ok(()),
                Err(CommitError::TransactionEnded) => (
                    "its SQL ended the run's transaction".to_string(),
                    StepEffects::TransactionEndedByRevision,
                    RunEffects::RunTransactionEnded,
                ),
                // (`record` checks no lock; a lost connection rolled back.)
                Err(CommitError::GuardLost(message)) => {
                    (message, StepEffects::RolledBack, RunEffects::RunRolledBack)
                }
                Err(CommitError::Failed(e)) => (
                    e.message,
                    StepEffects::RolledBack,
                    RunEffects::RunRolledBack,
                ),
            }
        }
        Err(e) => match session.transaction_intact() {
            // Aborted by its error, or the session is gone: the server
            // rolls the run back.
            Ok(true) => (
                e.message,
                StepEffects::RolledBack,
                RunEffects::RunRolledBack,
            ),
            Err(lost) if lost.connection_lost => (
                e.message,
                StepEffects::RolledBack,
                RunEffects::RunRolledBack,
            ),
            Ok(false) | Err(_) => (
                e.message,
                StepEffects::TransactionEndedByRevision,
                RunEffects::RunTransactionEnded,
            ),
        },
    };
    session.rollback();
    Err(run_failure(session, run, message, effects, run_effects))
}

/// A failure of the run transaction: nothing of this run stays applied
/// (or, for the `RunTransactionEnded` and `RunUnknown` cases, we cannot say).
fn run_failure(
    session: &mut impl Session,
    run: &StepRun<'_>,
    message: String,
    effects: StepEffects,
    run_effects: RunEffects,
) -> DbError {
    run.fail(session, message, &[], effects, run_effects, None)
}
