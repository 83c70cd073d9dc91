//! The runner's failure paths, on the in-memory session: what stays
//! committed, what the version table and the audit table say, and what the
//! error claims, for every way a step can fail.

use super::memory::{Call, MemorySession};
use super::runner::{run_on, Notice, RunObserver, RunOptions};
use super::session::{LockState, INTERRUPTED, UNFINISHED};
use super::stamp::stamp_on;
use super::step_sql::RevisionSql;
use super::{DbError, RunEffects, StepEffects, StepFailure, VersionTableProblem};
use crate::graph::{Revision, RevisionGraph, Step};
use std::collections::HashMap;
use std::time::Duration;

const A: &str = "aaaa00000001";
const B: &str = "bbbb00000002";
const C: &str = "cccc00000003";

/// a <- b <- c, each creating one table; `sql` overrides per revision.
fn chain(overrides: &[(&str, &str, bool)]) -> (RevisionGraph, HashMap<String, RevisionSql>) {
    let graph = RevisionGraph::build(vec![
        Revision::new(A, &[]),
        Revision::new(B, &[A]),
        Revision::new(C, &[B]),
    ])
    .unwrap();
    let mut sql = HashMap::new();
    for id in [A, B, C] {
        sql.insert(
            id.to_string(),
            RevisionSql {
                upgrade: format!("create table t_{id}"),
                downgrade: format!("drop table t_{id}"),
                transactional: true,
                timeouts: Default::default(),
            },
        );
    }
    for (id, up, transactional) in overrides {
        let rs = sql.get_mut(*id).unwrap();
        rs.upgrade = up.to_string();
        rs.transactional = *transactional;
    }
    (graph, sql)
}

#[derive(Default)]
struct Seen {
    steps: Vec<String>,
    notices: Vec<Notice>,
}

impl RunObserver for &mut Seen {
    fn step_done(&mut self, step: &Step, _took: Duration) {
        self.steps.push(step.revision.clone());
    }
    fn notice(&mut self, notice: &Notice) {
        self.notices.push(notice.clone());
    }
}

fn upgrade(
    s: &mut MemorySession,
    graph: &RevisionGraph,
    sql: &HashMap<String, RevisionSql>,
    per_run: bool,
    seen: &mut Seen,
) -> Result<(), DbError> {
    run_on(
        s,
        graph,
        sql,
        &RunOptions {
            transaction_per_run: per_run,
            ..RunOptions::default()
        },
        |g, rows| g.plan_upgrade(rows, "heads"),
        seen,
    )
    .map(|_| ())
}

fn failure(e: DbError) -> StepFailure {
    match e {
        DbError::StepFailed(f) => *f,
        other => panic!("expected a step failure, got {other:?}"),
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_clean_run_applies_records_and_restores_settings_before_each_step() {
    let (g, sql) = chain(&[]);
    let mut s = MemorySession::default();
    let mut seen = Seen::default();
    upgrade(&mut s, &g, &sql, false, &mut seen).unwrap();
    assert_eq!(s.committed.rows, ids(&[C]));
    assert_eq!(seen.steps, ids(&[A, B, C]));
    assert_eq!(s.committed.schema.len(), 3);
    let audit: Vec<_> = s
        .committed
        .audit
        .iter()
        .map(|a| (a.revision.as_str(), a.success))
        .collect();
    assert_eq!(audit, vec![(A, true), (B, true), (C, true)]);
    // The downgrade's checksum is recorded with each upgrade.
    assert!(s
        .committed
        .audit
        .iter()
        .all(|a| a.downgrade_sha256.is_some()));
    // Before each step and again before its bookkeeping.
    assert_eq!(s.settings_restored, 6);
    assert!(!s.in_transaction());
}

#[test]
fn a_failing_transactional_step_is_rolled_back_and_audited() {
    let (g, sql) = chain(&[(B, "create table x; FAIL", true)]);
    let mut s = MemorySession::default();
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(f.revision, B);
    assert_eq!(f.effects, StepEffects::RolledBack);
    assert_eq!(f.run, RunEffects::PerStep);
    assert_eq!(f.applied, ids(&[A]));
    assert_eq!(f.audit_error, None);
    assert_eq!(s.committed.rows, ids(&[A]));
    assert_eq!(s.committed.schema, vec![format!("create table t_{A}")]);
    let last = s.committed.audit.last().unwrap();
    assert_eq!((last.revision.as_str(), last.success), (B, false));
    assert!(f.to_string().contains("Its transaction was rolled back"));
}

#[test]
fn a_failing_commit_is_rolled_back_and_a_lost_connection_is_unknown() {
    let (g, sql) = chain(&[]);
    let mut s = MemorySession::default().fail(Call::Commit, 2, "ERROR: deferred constraint", false);
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(
        (f.revision.as_str(), f.effects),
        (B, StepEffects::RolledBack)
    );
    assert_eq!(s.committed.rows, ids(&[A]));

    let mut s = MemorySession::default().fail(Call::Commit, 1, "connection closed", true);
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(f.effects, StepEffects::Unknown);
    // The failure could not be recorded, and the error says so.
    assert!(f.audit_error.is_some());
    let text = f.to_string();
    assert!(
        text.contains("may or may not have been committed"),
        "{text}"
    );
    assert!(!text.contains("rolled back"), "{text}");
}

#[test]
fn a_failing_version_update_or_audit_row_rolls_the_step_back() {
    for call in [Call::VersionOps, Call::WriteAudit] {
        let (g, sql) = chain(&[]);
        let mut s = MemorySession::default().fail(call, 1, "ERROR: permission denied", false);
        let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
        assert_eq!(
            (f.revision.as_str(), f.effects),
            (A, StepEffects::RolledBack),
            "{call:?}"
        );
        assert!(s.committed.rows.is_empty());
        assert!(s.committed.schema.is_empty());
    }
}

#[test]
fn a_revision_that_ends_the_transaction_never_claims_a_rollback() {
    let (g, sql) = chain(&[(
        B,
        "create table c1; CALL sneaky_commit(); create table c2; FAIL",
        true,
    )]);
    let mut s = MemorySession::default();
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(f.effects, StepEffects::TransactionEndedByRevision);
    assert!(f.may_have_partial_effects());
    assert!(!f.to_string().contains("rolled back"), "{f}");
    // c1 did commit, and the version table does not claim b.
    assert!(s.committed.schema.contains(&"create table c1".to_string()));
    assert_eq!(s.committed.rows, ids(&[A]));
}

#[test]
fn transaction_per_run_rolls_everything_back_or_says_it_could_not() {
    let (g, sql) = chain(&[(C, "FAIL", true)]);
    let mut s = MemorySession::default();
    let f = failure(upgrade(&mut s, &g, &sql, true, &mut Seen::default()).unwrap_err());
    assert_eq!(f.run, RunEffects::RunRolledBack);
    assert!(s.committed.rows.is_empty() && s.committed.schema.is_empty());
    assert!(f.to_string().contains("nothing from this run was applied"));

    let (g, sql) = chain(&[(B, "create table b; CALL sneaky_commit()", true)]);
    let mut s = MemorySession::default();
    let f = failure(upgrade(&mut s, &g, &sql, true, &mut Seen::default()).unwrap_err());
    assert_eq!(f.run, RunEffects::RunTransactionEnded);
    assert!(
        !f.to_string().contains("nothing from this run was applied"),
        "{f}"
    );
    assert!(!s.committed.schema.is_empty());
}

#[test]
fn transaction_control_in_a_transactional_step_is_refused_before_any_change() {
    let (g, sql) = chain(&[(B, "create table c1;\ncommit;\ncreate table c2", true)]);
    let mut s = MemorySession::default();
    let e = upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err();
    match e {
        DbError::TransactionControl {
            revision,
            keyword,
            line,
            ..
        } => {
            assert_eq!(
                (revision.as_str(), keyword.as_str(), line),
                (B, "COMMIT", 2)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(s.committed.schema.is_empty() && s.committed.audit.is_empty());
}

#[test]
fn transaction_per_run_refuses_non_transactional_steps_before_any_change() {
    let (g, sql) = chain(&[(C, "create index concurrently i on t (x)", false)]);
    let mut s = MemorySession::default();
    let e = upgrade(&mut s, &g, &sql, true, &mut Seen::default()).unwrap_err();
    assert!(
        matches!(e, DbError::NotOneTransaction { ref revision } if revision == C),
        "{e:?}"
    );
    assert!(s.committed.schema.is_empty() && s.committed.audit.is_empty());
}

#[test]
fn a_failing_non_transactional_step_reports_what_committed() {
    let (g, sql) = chain(&[(
        B,
        "create table x; create table y; FAIL; create table z",
        false,
    )]);
    let mut s = MemorySession::default();
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(
        f.effects,
        StepEffects::PartlyCommitted {
            committed: 2,
            total: 4
        }
    );
    assert!(s.committed.schema.contains(&"create table y".to_string()));
    assert_eq!(s.committed.rows, ids(&[A]));
    // One audit row for the attempt: written before, finished as failed.
    let rows: Vec<_> = s
        .committed
        .audit
        .iter()
        .filter(|a| a.revision == B)
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].success);
    assert!(rows[0]
        .error
        .as_deref()
        .unwrap()
        .contains("statement 3 of 4"));
}

#[test]
fn a_non_transactional_step_that_cannot_be_recorded_says_so() {
    let (g, sql) = chain(&[(A, "create table x", false)]);
    let mut s = MemorySession::default().fail(Call::VersionOps, 1, "ERROR: value too long", false);
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(f.effects, StepEffects::CommittedNotRecorded);
    assert_eq!(s.committed.schema, vec!["create table x".to_string()]);
    assert!(s.committed.rows.is_empty());
    let a = &s.committed.audit[0];
    assert!(
        !a.success && a.error.as_deref() != Some(UNFINISHED),
        "{a:?}"
    );
}

#[test]
fn a_non_transactional_step_leaving_a_transaction_open_is_a_failure() {
    let (g, sql) = chain(&[(A, "create table x; BEGIN; create table y", false)]);
    let mut s = MemorySession::default();
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert!(
        f.message.contains("left a transaction open"),
        "{}",
        f.message
    );
    assert_eq!(s.committed.schema, vec!["create table x".to_string()]);
    assert!(s.committed.rows.is_empty());
}

#[test]
fn a_lost_lock_stops_before_the_next_step() {
    // Checks: before a (1), before a's commit (2), before b (3).
    let (g, sql) = chain(&[]);
    let mut s = MemorySession::default().lose_lock(3, LockState::LockLost("terminated".into()));
    let mut seen = Seen::default();
    let e = upgrade(&mut s, &g, &sql, false, &mut seen).unwrap_err();
    match e {
        DbError::LockLost {
            applied,
            stopped_before,
            ..
        } => {
            assert_eq!(applied, ids(&[A]));
            assert_eq!(stopped_before.as_deref(), Some(B));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.committed.rows, ids(&[A]));
    assert_eq!(seen.steps, ids(&[A]));
}

#[test]
fn a_lock_lost_during_the_last_step_still_fails_the_run_truthfully() {
    let (g, sql) = chain(&[]);
    let mut s =
        MemorySession::with_rows(&[B]).lose_lock(2, LockState::LockLost("terminated".into()));
    let e = upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err();
    // The guard still held, so c committed; the run says so and fails.
    assert_eq!(s.committed.rows, ids(&[C]));
    match e {
        DbError::LockLost {
            applied,
            stopped_before,
            ..
        } => {
            assert_eq!(applied, ids(&[C]));
            assert_eq!(stopped_before, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_lost_step_guard_rolls_back_the_step_in_progress() {
    let (g, sql) = chain(&[]);
    let mut s = MemorySession::default().lose_lock(2, LockState::GuardLost("unlocked".into()));
    let e = upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err();
    assert!(matches!(e, DbError::LockLost { .. }), "{e:?}");
    assert!(s.committed.rows.is_empty() && s.committed.schema.is_empty());

    // Between statements of a non-transactional step.
    let (g, sql) = chain(&[(A, "create table x; create table y", false)]);
    let mut s = MemorySession::default().lose_lock(2, LockState::GuardLost("unlocked".into()));
    let e = upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err();
    assert!(matches!(e, DbError::LockLost { .. }), "{e:?}");
    assert_eq!(s.committed.schema, vec!["create table x".to_string()]);
    assert!(s.committed.audit[0]
        .error
        .as_deref()
        .unwrap()
        .contains("stopped after statement 1 of 2"));
}

#[test]
fn a_broken_version_table_is_refused_before_anything_runs() {
    let (g, sql) = chain(&[]);
    for (rows, expected) in [
        (
            vec![A, B],
            VersionTableProblem::NotAHead {
                revision: A.into(),
                ancestor_of: B.into(),
            },
        ),
        (
            vec![B, B],
            VersionTableProblem::Duplicate {
                revision: B.into(),
                count: 2,
            },
        ),
        (
            vec!["ffff00000000"],
            VersionTableProblem::UnknownRevision {
                revision: "ffff00000000".into(),
            },
        ),
    ] {
        let mut s = MemorySession::with_rows(&rows);
        for plan in ["up", "down"] {
            let e = run_on(
                &mut s,
                &g,
                &sql,
                &RunOptions::default(),
                |g, r| {
                    if plan == "up" {
                        g.plan_upgrade(r, "heads")
                    } else {
                        g.plan_downgrade(r, "base")
                    }
                },
                &mut Seen::default(),
            )
            .unwrap_err();
            match e {
                DbError::BrokenVersionTable { problems, .. } => {
                    assert_eq!(problems, vec![expected.clone()])
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(s.committed.schema.is_empty() && s.committed.audit.is_empty());
    }
}

#[test]
fn stamp_refuses_a_broken_table_unless_purging() {
    let (g, _) = chain(&[]);
    let mut s = MemorySession::with_rows(&[B, B]);
    let e = stamp_on(&mut s, &g, false, |_| Ok(ids(&[C]))).unwrap_err();
    assert!(matches!(e, DbError::BrokenVersionTable { .. }), "{e:?}");
    stamp_on(&mut s, &g, true, |_| Ok(ids(&[C]))).unwrap();
    assert_eq!(s.committed.rows, ids(&[C]));
}

#[test]
fn an_interrupted_attempt_is_reported_before_the_retry() {
    let (g, sql) = chain(&[]);
    let mut s = MemorySession::default().with_unfinished(A);
    let mut seen = Seen::default();
    upgrade(&mut s, &g, &sql, false, &mut seen).unwrap();
    assert!(matches!(&seen.notices[..], [Notice::Interrupted(a)] if a[0].revision == A));
    assert_eq!(s.committed.audit[0].error.as_deref(), Some(INTERRUPTED));
}

#[test]
fn a_lock_timeout_is_retried_with_a_notice_and_recorded_per_attempt() {
    let (g, sql) = chain(&[]);
    // Executes: a (1), b (2: times out), b again (3).
    let mut s = MemorySession::default().fail(
        Call::Execute,
        2,
        "ERROR: canceling statement due to lock timeout",
        false,
    );
    let mut seen = Seen::default();
    let opts = RunOptions {
        retries: 2,
        retry_backoff: Duration::from_millis(1),
        ..RunOptions::default()
    };
    run_on(
        &mut s,
        &g,
        &sql,
        &opts,
        |g, r| g.plan_upgrade(r, "heads"),
        &mut seen,
    )
    .unwrap();
    assert_eq!(s.committed.rows, ids(&[C]));
    assert!(
        matches!(&seen.notices[..], [Notice::Retrying { revision, attempt: 1, of: 3, .. }] if revision == B)
    );
    let b: Vec<bool> = s
        .committed
        .audit
        .iter()
        .filter(|a| a.revision == B)
        .map(|a| a.success)
        .collect();
    assert_eq!(b, vec![false, true]);

    // Without retries the failure says it was a lock timeout.
    let mut s = MemorySession::default().fail(
        Call::Execute,
        1,
        "ERROR: canceling statement due to lock timeout",
        false,
    );
    let f = failure(upgrade(&mut s, &g, &sql, false, &mut Seen::default()).unwrap_err());
    assert_eq!(f.lock_timeout_attempts, Some(1));
    assert!(
        f.to_string()
            .contains("gave up waiting for a lock (1 attempt)"),
        "{f}"
    );
}

#[test]
fn a_non_transactional_statement_is_retried_alone() {
    let (g, sql) = chain(&[(A, "create table x; create table y", false)]);
    let mut s = MemorySession::default().fail(
        Call::Execute,
        2,
        "ERROR: canceling statement due to lock timeout",
        false,
    );
    let opts = RunOptions {
        retries: 1,
        retry_backoff: Duration::from_millis(1),
        ..RunOptions::default()
    };
    let mut seen = Seen::default();
    run_on(
        &mut s,
        &g,
        &sql,
        &opts,
        |g, r| g.plan_upgrade(r, A),
        &mut seen,
    )
    .unwrap();
    // x ran once, y once (after one failed try); nothing twice.
    assert_eq!(
        s.committed.schema,
        vec!["create table x".to_string(), "create table y".to_string()]
    );
    assert!(matches!(
        &seen.notices[..],
        [Notice::Retrying {
            statement: Some((2, 2)),
            ..
        }]
    ));
}

/// Stops the run after `after` steps ([`RunObserver::go_on`]).
struct StopAfter {
    after: usize,
    steps: Vec<String>,
}

impl RunObserver for &mut StopAfter {
    fn step_done(&mut self, step: &Step, _took: Duration) {
        self.steps.push(step.revision.clone());
    }
    fn go_on(&mut self) -> bool {
        self.steps.len() < self.after
    }
}

#[test]
fn an_observer_that_stops_the_run_leaves_the_later_steps_unapplied_and_unrecorded() {
    let (g, sql) = chain(&[]);
    let mut s = MemorySession::default();
    let mut stop = StopAfter {
        after: 1,
        steps: Vec::new(),
    };
    let outcome = run_on(
        &mut s,
        &g,
        &sql,
        &RunOptions::default(),
        |g, rows| g.plan_upgrade(rows, "heads"),
        &mut stop,
    )
    .unwrap();
    assert_eq!(stop.steps, ids(&[A]));
    assert_eq!(outcome.plan.steps.len(), 3, "the plan as computed");
    assert_eq!(outcome.durations.len(), 1, "one step applied");
    assert_eq!(s.committed.rows, ids(&[A]));
    assert_eq!(s.committed.schema.len(), 1);
    let audit: Vec<_> = s
        .committed
        .audit
        .iter()
        .map(|a| a.revision.as_str())
        .collect();
    assert_eq!(audit, vec![A]);
}
