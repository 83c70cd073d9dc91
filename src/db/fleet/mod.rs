//! Fleets: one plan applied to many targets (databases, or schemas of one
//! database), several at once.
//!
//! [`targets`] reads the target list (pure). [`for_each`] runs a job per
//! target on `jobs` threads and hands each result back, as it finishes, to
//! the caller's thread (so output is never interleaved); with `fail_fast`
//! no target starts after the first failure. [`move_target`] and
//! [`read_target`] are the jobs: each opens its own sessions and runs
//! under its own migration lock through [`super::move_to`] /
//! [`super::current`], exactly as a single run would, so a fleet of one is
//! the plain command. A failing target never stops the others.

pub mod targets;

use super::conn::Database;
use super::error::DbError;
use super::runner::{move_to, Notice, RunObserver, RunOptions};
use super::step_sql::StepSql;
use super::version::current;
use crate::graph::{Direction, RevisionGraph, Step};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
pub use targets::{Target, TargetKind};

/// What one target's run did.
#[derive(Debug)]
pub struct TargetRun {
    /// Version-table rows before the run (`None`: never read, e.g. no
    /// connection).
    pub from: Option<Vec<String>>,
    /// Version-table rows after the run, read again after a failure, so
    /// they are what stayed committed (`None`: could not be read).
    pub to: Option<Vec<String>>,
    /// Steps that stayed committed.
    pub steps: usize,
    pub took: Duration,
    /// Why it failed, if it did.
    pub error: Option<DbError>,
}

/// The run options of `target`: a schema target keeps its version table
/// (and the audit table) in its own schema, so each schema has its own
/// migration lock too.
pub fn options_for(target: &Target, opts: &RunOptions) -> Result<RunOptions, DbError> {
    let mut opts = opts.clone();
    if let Some(schema) = &target.schema {
        opts.table = opts.table.in_schema(schema)?;
    }
    Ok(opts)
}

/// Passes a run's notices on; steps are not reported one by one.
struct Notices<'a>(&'a (dyn Fn(&Notice) + Sync));

impl RunObserver for Notices<'_> {
    fn step_done(&mut self, _step: &Step, _took: Duration) {}

    fn notice(&mut self, notice: &Notice) {
        (self.0)(notice)
    }
}

/// Moves one target to `ident` in `direction` ([`move_to`]), on sessions
/// of its own, telling `notice` what a single run would tell (called on
/// the target's thread).
pub fn move_target(
    target: &Target,
    graph: &RevisionGraph,
    direction: Direction,
    ident: &str,
    sql: &impl StepSql,
    opts: &RunOptions,
    notice: &(dyn Fn(&Notice) + Sync),
) -> TargetRun {
    let started = Instant::now();
    let failed = |from, to, steps, e| TargetRun {
        from,
        to,
        steps,
        took: started.elapsed(),
        error: Some(e),
    };
    let opts = match options_for(target, opts) {
        Ok(o) => o,
        Err(e) => return failed(None, None, 0, e),
    };
    let mut db = match Database::connect(&target.url) {
        Ok(db) => db,
        Err(e) => return failed(None, None, 0, e),
    };
    // For the report only: the run itself reads the rows again under the
    // lock and plans from those.
    let before = current(db.client(), &opts.table).ok();
    match move_to(
        &mut db,
        graph,
        direction,
        ident,
        sql,
        &opts,
        Notices(notice),
    ) {
        Ok(outcome) => TargetRun {
            from: Some(outcome.plan.start_heads),
            to: Some(outcome.plan.end_heads),
            steps: outcome.plan.steps.len(),
            took: started.elapsed(),
            error: None,
        },
        Err(e) => {
            let steps = match &e {
                DbError::StepFailed(f) => f.applied.len(),
                DbError::LockLost { applied, .. } => applied.len(),
                _ => 0,
            };
            let after = current(db.client(), &opts.table).ok();
            failed(before, after, steps, e)
        }
    }
}

/// The version-table rows of one target ([`current`]), sorted.
pub fn read_target(target: &Target, opts: &RunOptions) -> Result<Vec<String>, DbError> {
    let opts = options_for(target, opts)?;
    let mut db = Database::connect(&target.url)?;
    let mut rows = current(db.client(), &opts.table).map_err(|e| db.scrub_err(e))?;
    rows.sort();
    Ok(rows)
}

/// Runs the targets query `sql` on the admin session, read-only, and
/// returns its one column, row by row, as text (any type; a NULL is
/// refused with its row number).
pub fn query_targets(db: &mut Database, sql: &str) -> Result<Vec<String>, DbError> {
    use postgres::SimpleQueryMessage;
    let context = "running --targets-query";
    let result = (|| {
        let mut tx = db
            .client()
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(|e| DbError::query(context, &e))?;
        let messages = tx
            .simple_query(sql)
            .map_err(|e| DbError::query(context, &e))?;
        let mut values = Vec::new();
        for m in messages {
            let SimpleQueryMessage::Row(row) = m else {
                continue;
            };
            if row.len() != 1 {
                return Err(DbError::Query {
                    context: context.to_string(),
                    message: format!(
                        "the query returns {} columns; it must return one: the URL, settings or database name of each target",
                        row.len()
                    ),
                });
            }
            match row.get(0) {
                Some(v) => values.push(v.to_string()),
                None => {
                    return Err(DbError::Query {
                        context: context.to_string(),
                        message: format!("row {} is NULL", values.len() + 1),
                    })
                }
            }
        }
        tx.rollback().map_err(|e| DbError::query(context, &e))?;
        Ok(values)
    })();
    result.map_err(|e| db.scrub_err(e))
}

/// How many targets run at once, and whether the first failure stops
/// the rest from starting.
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    pub jobs: usize,
    pub fail_fast: bool,
}

/// Runs `work(i)` for every `i` in `0..count`, at most `jobs` at a time,
/// in order of `i` as threads come free. Each result goes to `done(i,
/// &result)` on the calling thread as soon as it is there. With
/// `fail_fast`, once a result is `failed`, no further `i` starts (those
/// running finish). Returns every result by `i`; `None` for those never
/// started.
pub fn for_each<R, W, F, D>(
    count: usize,
    opts: FleetOptions,
    work: W,
    failed: F,
    mut done: D,
) -> Vec<Option<R>>
where
    R: Send,
    W: Fn(usize) -> R + Sync,
    F: Fn(&R) -> bool + Sync,
    D: FnMut(usize, &R),
{
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, count.max(1)) {
            let tx = tx.clone();
            let (next, stop, work, failed) = (&next, &stop, &work, &failed);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    return;
                }
                let result = work(i);
                if opts.fail_fast && failed(&result) {
                    stop.store(true, Ordering::SeqCst);
                }
                if tx.send((i, result)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            done(i, &result);
            results[i] = Some(result);
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_item_runs_once_and_results_come_back_by_index() {
        let seen = Mutex::new(Vec::new());
        let mut order = Vec::new();
        let opts = FleetOptions {
            jobs: 4,
            fail_fast: false,
        };
        let results = for_each(
            20,
            opts,
            |i| {
                seen.lock().unwrap().push(i);
                i * 10
            },
            |r| *r == 30,
            |i, r| {
                assert_eq!(*r, i * 10);
                order.push(i);
            },
        );
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
        assert_eq!(order.len(), 20);
        assert_eq!(results, (0..20).map(|i| Some(i * 10)).collect::<Vec<_>>());
    }

    #[test]
    fn fail_fast_starts_nothing_after_the_first_failure() {
        let opts = FleetOptions {
            jobs: 1,
            fail_fast: true,
        };
        let results = for_each(10, opts, |i| i, |r| *r == 3, |_, _| {});
        assert_eq!(
            results,
            vec![
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
        // Without it, everything runs.
        let opts = FleetOptions {
            jobs: 3,
            fail_fast: false,
        };
        let results = for_each(10, opts, |i| i, |r| *r == 3, |_, _| {});
        assert!(results.iter().all(Option::is_some));
    }

    #[test]
    fn runs_jobs_at_once_and_no_more() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let opts = FleetOptions {
            jobs: 3,
            fail_fast: false,
        };
        for_each(
            12,
            opts,
            |_| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            },
            |_| false,
            |_, _| {},
        );
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        // Zero items: no thread, no result.
        let none: Vec<Option<()>> = for_each(0, opts, |_| (), |_| false, |_, _| {});
        assert!(none.is_empty());
    }
}
