//! Process-level tests: several OS processes run the library's upgrade on
//! one database at once, and a runner killed with SIGKILL mid-revision is
//! recovered by a rerun. The child processes are this test binary itself,
//! re-run with `--exact child_runner` and the job in environment variables,
//! so these tests need no CLI. (When the CLI binary exists, the same
//! scenarios should also be run through it.)

mod common;

use common::pg::{linear, Fixture, FixtureBuilder, TestDb};
use mergepoint::db::{upgrade, Database, RunOptions};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn slow_fixture() -> Fixture {
    FixtureBuilder::default()
        .rev("aaaa00000001", &[], "CREATE TABLE one (x int);", "DROP TABLE one;")
        .rev(
            "aaaa00000002",
            &["aaaa00000001"],
            // Slow only when the session says so, so that a rerun is fast.
            "CREATE TABLE two (x int);\nINSERT INTO two VALUES (1);\nSELECT pg_sleep(CASE WHEN current_setting('mp.slow', true) = 'on' THEN 60 ELSE 0 END);",
            "DROP TABLE two;",
        )
        .rev("aaaa00000003", &["aaaa00000002"], "CREATE TABLE three (x int);", "DROP TABLE three;")
        .build()
}

/// Not a test on its own: the body of a child process. Does nothing unless
/// `MP_CHILD_URL` is set; then upgrades to `heads` and exits with the
/// error's exit code (0 on success).
#[test]
fn child_runner() {
    let Ok(url) = std::env::var("MP_CHILD_URL") else {
        return;
    };
    let fixture = match std::env::var("MP_CHILD_FIXTURE").as_deref() {
        Ok("slow") => slow_fixture(),
        _ => linear(12),
    };
    let timeout_ms: u64 = std::env::var("MP_CHILD_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60_000);
    let opts = RunOptions {
        lock_timeout: Duration::from_millis(timeout_ms),
        ..RunOptions::default()
    };
    let code = match Database::connect(&url).and_then(|mut db| {
        upgrade(
            &mut db,
            &fixture.graph,
            "heads",
            &fixture.sql,
            &opts,
            |s: &mergepoint::graph::Step, d: std::time::Duration| {
                println!("ran {} in {d:?}", s.revision)
            },
        )
    }) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("{e}");
            i32::from(mergepoint::cli::error::db_error_kind(&e).0.exit_code())
        }
    };
    std::process::exit(code);
}

fn spawn_child(url: &str, fixture: &str, lock_timeout_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_runner", "--nocapture", "--test-threads=1"])
        .env("MP_CHILD_URL", url)
        .env("MP_CHILD_FIXTURE", fixture)
        .env("MP_CHILD_LOCK_TIMEOUT_MS", lock_timeout_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child runner")
}

#[test]
fn eight_processes_upgrade_at_once_and_apply_each_revision_once() {
    let db = TestDb::create();
    let children: Vec<Child> = (0..8)
        .map(|_| spawn_child(&db.url, "linear", 60_000))
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(db.rows(), vec!["r00000000012".to_string()]);
    let audit = db.audit();
    assert_eq!(audit.len(), 12, "{audit:?}");
    let mut revs: Vec<String> = audit.iter().map(|a| a.0.clone()).collect();
    revs.sort();
    revs.dedup();
    assert_eq!(revs.len(), 12);
}

#[test]
fn a_process_waiting_for_a_held_lock_exits_4() {
    let db = TestDb::create();
    let holder = db.database();
    let _lock = mergepoint::db::MigrationLock::acquire(
        &holder,
        &mergepoint::db::VersionTable::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    let out = spawn_child(&db.url, "linear", 300)
        .wait_with_output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("lock"));
    assert!(db.rows().is_empty());
}

#[test]
fn a_runner_killed_mid_revision_is_completed_by_a_rerun() {
    let db = TestDb::create();
    let slow_url = common::pg::slow_url(&db);
    let mut child = spawn_child(&slow_url, "slow", 60_000);
    common::pg::wait_until_inside_slow_revision(&db, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(db.rows(), vec!["aaaa00000001".to_string()]);

    // The rerun gets the lock (the dead session freed it), waits for the
    // server to abort the dead transaction, and completes.
    let started = Instant::now();
    let out = spawn_child(&db.url, "slow", 30_000)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "rerun failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        // Well under the 60 s sleep: the dead transaction was aborted.
        started.elapsed() < Duration::from_secs(45),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(db.rows(), vec!["aaaa00000003".to_string()]);
    // Nothing applied twice.
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM two", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let audit = db.audit();
    let ok: Vec<&str> = audit.iter().filter(|a| a.2).map(|a| a.0.as_str()).collect();
    assert_eq!(ok, vec!["aaaa00000001", "aaaa00000002", "aaaa00000003"]);
}
