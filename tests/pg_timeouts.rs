//! DDL that does not stall production (issue 11, item 4), through the real
//! binary against the real server: `lock_timeout` / `statement_timeout`
//! per run, per revision and per project; a step that gives up waiting for
//! a lock is rolled back and tried again, each attempt shown and audited;
//! when it still fails, nothing of it remains and the message names the
//! session it waited for.

mod common;

use common::pg::TestDb;
use common::project::{text, Project};
use std::time::{Duration, Instant};

const R1: &str = "aaaa00000001";
const R2: &str = "aaaa00000002";

/// r1 creates `t`; r2 alters it (needs an ACCESS EXCLUSIVE lock).
fn alter_project() -> Project {
    let p = Project::new();
    p.rev(R1, &[], true, "CREATE TABLE t (x int);", "DROP TABLE t;");
    p.rev(
        R2,
        &[R1],
        true,
        "ALTER TABLE t ADD COLUMN y int;",
        "ALTER TABLE t DROP COLUMN y;",
    );
    p
}

/// A session holding a lock on `t` (in an open transaction) until dropped
/// or committed; its application_name is `blocker`.
fn hold_lock_on_t(db: &TestDb) -> postgres::Client {
    let mut c = db.client();
    c.batch_execute("SET application_name = 'blocker'; BEGIN; LOCK TABLE t IN ACCESS SHARE MODE")
        .unwrap();
    c
}

fn columns_of_t(db: &TestDb) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'y'",
            &[],
        )
        .unwrap()
        .get(0)
}

fn audit_of(db: &TestDb, rev: &str) -> Vec<(bool, Option<String>)> {
    db.client()
        .query(
            "SELECT success, error FROM mergepoint_history WHERE revision = $1 ORDER BY id",
            &[&rev],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn a_step_blocked_by_a_lock_is_retried_and_applied_once_the_lock_is_released() {
    let db = TestDb::create();
    let p = alter_project();
    assert!(p
        .run(&["upgrade", R1, "--database-url", &db.url])
        .status
        .success());
    let holder = hold_lock_on_t(&db);
    let child = p.spawn(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--ddl-lock-timeout",
        "200ms",
        "--retries",
        "8",
    ]);
    // Let it fail at least once, then let go of the lock.
    std::thread::sleep(Duration::from_millis(1200));
    drop(holder);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("retry  upgrade  {R2}")),
        "{stdout}"
    );
    assert!(stdout.contains("blocked by pid"), "{stdout}");
    assert_eq!(columns_of_t(&db), 1);
    assert_eq!(db.rows(), vec![R2.to_string()]);
    // Every failed attempt is recorded, then the one that worked.
    let audit = audit_of(&db, R2);
    assert!(audit.len() >= 2, "{audit:?}");
    assert!(audit[..audit.len() - 1]
        .iter()
        .all(|(ok, e)| !ok && e.as_deref().unwrap_or("").contains("lock timeout")));
    assert!(audit.last().unwrap().0, "{audit:?}");
}

#[test]
fn a_step_still_blocked_after_its_retries_leaves_nothing_and_names_the_blocker() {
    let db = TestDb::create();
    let p = alter_project();
    assert!(p
        .run(&["upgrade", R1, "--database-url", &db.url])
        .status
        .success());
    let mut holder = hold_lock_on_t(&db);
    let blocker_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let started = Instant::now();
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--ddl-lock-timeout",
        "300ms",
        "--retries",
        "1",
    ]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lock timeout"), "{err}");
    assert!(err.contains("2 attempts"), "{err}");
    assert!(err.contains(&format!("pid {blocker_pid}")), "{err}");
    assert!(err.contains("application 'blocker'"), "{err}");
    assert!(err.contains("Its transaction was rolled back"), "{err}");
    drop(holder);
    assert_eq!(columns_of_t(&db), 0);
    assert_eq!(db.rows(), vec![R1.to_string()]);
}

#[test]
fn a_revisions_own_lock_timeout_and_the_projects_apply_without_flags() {
    let db = TestDb::create();
    let p = alter_project();
    assert!(p
        .run(&["upgrade", R1, "--database-url", &db.url])
        .status
        .success());
    // The project default fails the blocked ALTER fast instead of hanging.
    std::fs::write(
        p.path().join("mergepoint.yaml"),
        "format: native\nddl_lock_timeout: 200ms\n",
    )
    .unwrap();
    let holder = hold_lock_on_t(&db);
    let out = p.run(&["upgrade", "heads", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lock timeout"),
        "{}",
        text(&out)
    );
    // A revision's own setting wins over the project's: 0 waits forever, so
    // it only succeeds once the lock is gone.
    let file = p.path().join(format!("revisions/{R2}_rev.yaml"));
    let own = std::fs::read_to_string(&file).unwrap().replace(
        "transactional: true\n",
        "transactional: true\nlock_timeout: 0\n",
    );
    std::fs::write(&file, own).unwrap();
    let child = p.spawn(&["upgrade", "heads", "--database-url", &db.url]);
    std::thread::sleep(Duration::from_millis(600));
    drop(holder);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(columns_of_t(&db), 1);
}

#[test]
fn statement_timeout_stops_a_long_step_and_does_not_reach_the_bookkeeping() {
    let db = TestDb::create();
    let p = Project::new();
    p.rev(R1, &[], true, "SELECT pg_sleep(3);", "");
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--statement-timeout",
        "200ms",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("statement timeout"),
        "{}",
        text(&out)
    );
    assert!(db.rows().is_empty());
    // The failure was recorded (the bookkeeping runs without the timeout).
    assert_eq!(audit_of(&db, R1).len(), 1);
}

#[test]
fn bad_durations_are_refused_naming_where_they_came_from() {
    let db = TestDb::create();
    let p = alter_project();
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--ddl-lock-timeout",
        "five",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--ddl-lock-timeout 'five'"),
        "{}",
        text(&out)
    );
    let file = p.path().join(format!("revisions/{R2}_rev.yaml"));
    let bad = std::fs::read_to_string(&file).unwrap().replace(
        "transactional: true\n",
        "transactional: true\nstatement_timeout: 5 sec\n",
    );
    std::fs::write(&file, bad).unwrap();
    let out = p.run(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("statement_timeout: '5 sec' is not a duration"),
        "{all}"
    );
    assert!(all.contains(&format!("{R2}_rev.yaml")), "{all}");
    assert!(db.rows().is_empty());
}
