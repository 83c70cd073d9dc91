//! Regression tests for the hostile-user report (issue 10), through the
//! real binary against the real server: a lost lock, broken version
//! tables, transaction control in revisions, `search_path` and settings
//! changed by revisions, temporary schemas, long names, interrupted
//! non-transactional steps, the lock holder's name, downgrade drift.

mod common;

use common::pg::TestDb;
use common::project::{text, Project};
use std::process::Output;
use std::time::{Duration, Instant};

const R1: &str = "aaaa00000001";
const R2: &str = "aaaa00000002";
const R3: &str = "aaaa00000003";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.client().query_one(sql, &[]).unwrap().get(0)
}

/// Waits (at most 60 s) until a session of `db` runs a query containing
/// `needle`.
fn wait_for_query(db: &TestDb, needle: &str, child: &mut std::process::Child) {
    let on_activity = format!(
        "position({} in query) > 0",
        mergepoint::db::quote_literal(needle)
    );
    common::pg::wait_for_activity(
        db,
        &on_activity,
        &format!("`{needle}`"),
        child,
        Duration::from_secs(60),
    );
}

/// r1 creates `log`; r2 (non-transactional) logs, sleeps, logs again.
fn logging_project(sleep: &str) -> Project {
    let p = Project::new();
    p.rev(
        R1,
        &[],
        true,
        "CREATE TABLE log (msg text);",
        "DROP TABLE log;",
    );
    p.rev(
        R2,
        &[R1],
        false,
        &format!("INSERT INTO log VALUES ('r2');\nSELECT pg_sleep({sleep});\nINSERT INTO log VALUES ('r2 end');"),
        "DELETE FROM log;",
    );
    p
}

#[test]
fn r10_1_a_lost_lock_is_noticed_and_a_second_runner_never_overlaps() {
    let db = TestDb::create();
    let p = logging_project("3");
    let mut first = p.spawn(&["upgrade", "heads", "--database-url", &db.url]);
    wait_for_query(&db, "pg_sleep(3)", &mut first);
    // Terminate the session holding the migration lock.
    let key = mergepoint::db::lock_key("public", "alembic_version");
    let killed = count(
        &db,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objsubid = 1 AND classid = (({key}::bigint >> 32) & 4294967295)::oid \
             AND objid = ({key}::bigint & 4294967295)::oid"
        ),
    );
    assert_eq!(killed, 1, "the lock session was not found");
    let second = p.spawn(&["upgrade", "heads", "--database-url", &db.url]);
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    // The first run finished the step it was in (its step guard kept the
    // second one out), recorded it, and then failed with exit 4.
    assert_eq!(first.status.code(), Some(4), "{}", text(&first));
    assert!(
        stderr(&first).contains("migration lock"),
        "{}",
        text(&first)
    );
    assert!(stderr(&first).contains("lost"), "{}", text(&first));
    assert!(second.status.success(), "{}", text(&second));
    assert_eq!(count(&db, "SELECT count(*) FROM log WHERE msg = 'r2'"), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM log WHERE msg = 'r2 end'"),
        1
    );
    assert_eq!(db.rows(), vec![R2.to_string()]);
}

#[test]
fn r10_1_idle_session_timeout_shorter_than_a_step_keeps_the_lock() {
    let db = TestDb::create();
    let p = logging_project("2");
    let url = format!("{}?options=-c%20idle_session_timeout%3D500", db.url);
    let out = p.run(&["upgrade", "heads", "--database-url", &url]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(db.rows(), vec![R2.to_string()]);
}

fn three_step_project() -> Project {
    let p = Project::new();
    p.rev(R1, &[], true, "CREATE TABLE t (x int);", "DROP TABLE t;");
    p.rev(
        R2,
        &[R1],
        false,
        "CREATE INDEX CONCURRENTLY t_x ON t (x);",
        "DROP INDEX CONCURRENTLY t_x;",
    );
    p.rev(R3, &[R2], true, "CREATE TABLE u (x int);", "DROP TABLE u;");
    p
}

#[test]
fn r10_2_overlapping_rows_are_refused_by_every_move() {
    let db = TestDb::create();
    let p = three_step_project();
    assert!(p
        .run(&["upgrade", "heads", "--database-url", &db.url])
        .status
        .success());
    db.client()
        .batch_execute(&format!("INSERT INTO alembic_version VALUES ('{R1}')"))
        .unwrap();
    let before = db.schema_dump();
    for args in [
        vec!["downgrade", "base"],
        vec!["downgrade", R2],
        vec!["upgrade", "heads"],
        vec!["stamp", R2],
    ] {
        let mut full = args.clone();
        full.extend(["--database-url", &db.url]);
        let out = p.run(&full);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{R1} is an ancestor of {R3}")),
            "{args:?}: {err}"
        );
        assert!(err.contains("nothing was changed"), "{err}");
        assert!(err.contains("check --database --repair"), "{err}");
    }
    assert_eq!(db.schema_dump(), before);
    // The repair the message names works, and then the move does.
    let out = p.run(&["check", "--database", "--repair", "--database-url", &db.url]);
    assert!(out.status.code() != Some(3), "{}", text(&out));
    assert_eq!(db.rows(), vec![R3.to_string()]);
    assert!(p
        .run(&["downgrade", "base", "--database-url", &db.url])
        .status
        .success());
}

#[test]
fn r10_2_repeated_rows_are_refused_before_a_non_transactional_step() {
    let db = TestDb::create();
    let p = three_step_project();
    assert!(p
        .run(&["upgrade", "heads", "--database-url", &db.url])
        .status
        .success());
    db.client()
        .batch_execute(&format!(
            "ALTER TABLE alembic_version DROP CONSTRAINT alembic_version_pkc; INSERT INTO alembic_version VALUES ('{R3}')"
        ))
        .unwrap();
    let out = p.run(&["downgrade", "base", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("{R3} is there 2 times")),
        "{}",
        text(&out)
    );
    // The index of the non-transactional step is still there.
    assert!(db.schema_dump().contains("t_x"), "{}", db.schema_dump());
    let check = p.run(&["check", "--database", "--json", "--database-url", &db.url]);
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(report.contains("duplicate_row"), "{report}");
    assert!(report.contains("missing_primary_key"), "{report}");
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let fixed = p.run(&["check", "--database", "--repair", "--database-url", &db.url]);
    assert!(fixed.status.code() != Some(3), "{}", text(&fixed));
    assert_eq!(db.rows(), vec![R3.to_string()]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'alembic_version_pkc'"
        ),
        1
    );
    assert!(p
        .run(&["downgrade", "base", "--database-url", &db.url])
        .status
        .success());
}

#[test]
fn r10_3_transaction_control_in_a_transactional_revision_is_refused() {
    let db = TestDb::create();
    let p = Project::new();
    p.rev(
        R1,
        &[],
        true,
        "create table c1(x int); commit; create table c2(); select 1/0;",
        "",
    );
    let out = p.run(&["upgrade", "heads", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("transactional: false"), "{err}");
    assert!(!err.contains("rolled back"), "{err}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM pg_class WHERE relname = 'c1'"),
        0
    );
    let check = p.run(&["check"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    assert!(
        text(&check).contains("COMMIT at the top level"),
        "{}",
        text(&check)
    );
}

#[test]
fn r10_4_a_revision_changing_search_path_cannot_move_the_bookkeeping() {
    let db = TestDb::create();
    db.client()
        .batch_execute("CREATE SCHEMA app; CREATE SCHEMA other; CREATE TABLE other.alembic_version (version_num varchar(32) primary key)")
        .unwrap();
    let p = Project::new();
    p.rev(
        R1,
        &[],
        true,
        "SET LOCAL search_path = app;\nCREATE TABLE widgets (id int);",
        "DROP TABLE app.widgets;",
    );
    p.rev(
        R2,
        &[R1],
        true,
        "SET search_path = other;\nCREATE TABLE w2 (id int);",
        "DROP TABLE other.w2;",
    );
    let out = p.run(&["upgrade", "heads", "--database-url", &db.url]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(db.rows(), vec![R2.to_string()]);
    assert_eq!(count(&db, "SELECT count(*) FROM other.alembic_version"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM public.mergepoint_history WHERE success"
        ),
        2
    );
    assert!(p
        .run(&["downgrade", "base", "--database-url", &db.url])
        .status
        .success());
}

#[test]
fn r10_5_session_settings_do_not_leak_into_the_next_revision() {
    let db = TestDb::create();
    let role = common::pg::TestRole::create(&db);
    let p = Project::new();
    p.rev(
        R1,
        &[],
        true,
        &format!(
            "SET statement_timeout = 1;\nSET default_transaction_read_only = on;\nSET ROLE {};",
            role.name
        ),
        "",
    );
    p.rev(
        R2,
        &[R1],
        true,
        "SELECT pg_sleep(0.05);\nCREATE TABLE t2 (x int);",
        "DROP TABLE t2;",
    );
    p.rev(R3, &[R2], true, "SELECT 1/0;", "");
    let out = p.run(&["upgrade", "heads", "--database-url", &db.url]);
    // r3 fails on its own; r1's settings broke neither r2 nor the audit.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stderr(&out).contains("division by zero"), "{}", text(&out));
    assert_eq!(db.rows(), vec![R2.to_string()]);
    let audit = db.audit();
    let outcome: Vec<(&str, bool)> = audit.iter().map(|a| (a.0.as_str(), a.2)).collect();
    assert_eq!(
        outcome,
        vec![(R1, true), (R2, true), (R3, false)],
        "{audit:?}"
    );
}

#[test]
fn temporary_schemas_and_names_too_long_for_their_constraint_are_refused() {
    let db = TestDb::create();
    let p = three_step_project();
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--version-table-schema",
        "pg_temp",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("temporary schema"), "{}", text(&out));
    let long = "v".repeat(61);
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--version-table",
        &long,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("_pkc"), "{}", text(&out));
    assert_eq!(db.schema_dump(), "");
}

#[test]
fn an_interrupted_non_transactional_step_is_reported_by_the_next_run() {
    let db = TestDb::create();
    let p = logging_project("60");
    let mut child = p.spawn(&["upgrade", "heads", "--database-url", &db.url]);
    wait_for_query(&db, "pg_sleep(60)", &mut child);
    child.kill().unwrap();
    let _ = child.wait();
    let p2 = logging_project("0");
    let out = p2.run(&["upgrade", "heads", "--database-url", &db.url]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains(R2), "{err}");
    // The first attempt's audit row says what happened to it.
    let log = p2.run(&["log", "--database-url", &db.url]);
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("interrupted"),
        "{}",
        text(&log)
    );
}

#[test]
fn the_lock_timeout_names_the_holder() {
    let db = TestDb::create();
    let p = three_step_project();
    let holder = db.database();
    let _lock = mergepoint::db::MigrationLock::acquire(
        &holder,
        &mergepoint::db::VersionTable::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    let pid = count(
        &db,
        "SELECT l.pid::bigint FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
    );
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--lock-timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(err.contains("application 'mergepoint'"), "{err}");
}

#[test]
fn check_database_reports_a_changed_downgrade() {
    let db = TestDb::create();
    let p = three_step_project();
    assert!(p
        .run(&["upgrade", "heads", "--database-url", &db.url])
        .status
        .success());
    p.rev(
        R3,
        &[R2],
        true,
        "CREATE TABLE u (x int);",
        "DROP TABLE u CASCADE;",
    );
    let out = p.run(&["check", "--database", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("downgrade SQL changed"), "{all}");
    assert!(!all.contains("upgrade SQL changed"), "{all}");
    // Accepting it records the new checksum: clean afterwards.
    assert!(
        p.run(&["check", "--database", "--repair", "--database-url", &db.url])
            .status
            .code()
            != Some(3)
    );
    let again = p.run(&["check", "--database", "--database-url", &db.url]);
    assert!(again.status.success(), "{}", text(&again));
}

/// The session's own checks, straight against the server: a version-table
/// change that matches no row stops the batch before COMMIT, and a
/// transaction ended by the revision is noticed before any bookkeeping.
#[test]
fn the_postgres_session_checks_its_bookkeeping_on_the_server() {
    use mergepoint::db::{
        AuditRecord, AuditWrite, CommitError, MigrationLock, PgSession, Session, VersionTable,
    };
    use mergepoint::graph::VersionOp;
    let db = TestDb::create();
    let mut database = db.database();
    let table = mergepoint::db::resolve_table(database.client(), &VersionTable::default()).unwrap();
    let lock = MigrationLock::acquire(&database, &table, Duration::from_secs(5)).unwrap();
    let mut s = PgSession::open(
        &mut database,
        &table,
        &lock,
        Instant::now(),
        Duration::from_secs(5),
    )
    .unwrap();
    s.ensure_tables().unwrap();
    let record = AuditRecord {
        revision: R1,
        direction: "upgrade",
        sql_sha256: Some("x"),
        downgrade_sha256: None,
        started_at: std::time::SystemTime::now(),
        duration_ms: 1.0,
        success: true,
        error: None,
    };
    // DELETE of a row that is not there: refused, nothing committed.
    s.begin().unwrap();
    let missing = [VersionOp::Delete {
        version: R2.to_string(),
    }];
    let e = s
        .commit_step(&missing, &AuditWrite::Insert(record.clone()), true)
        .unwrap_err();
    match e {
        CommitError::Failed(e) => assert!(
            e.message.contains("expected to match one row"),
            "{}",
            e.message
        ),
        other => panic!("{other:?}"),
    }
    s.rollback();
    assert_eq!(count(&db, "SELECT count(*) FROM mergepoint_history"), 0);
    // A revision's own COMMIT: the bookkeeping does not run at all.
    s.begin().unwrap();
    s.execute("CREATE TABLE c1 (x int); COMMIT").unwrap();
    let insert = [VersionOp::Insert {
        version: R1.to_string(),
    }];
    let e = s
        .commit_step(&insert, &AuditWrite::Insert(record), true)
        .unwrap_err();
    assert_eq!(e, CommitError::TransactionEnded);
    s.rollback();
    assert!(db.rows().is_empty());
    assert_eq!(count(&db, "SELECT count(*) FROM mergepoint_history"), 0);
    s.close();
    lock.release();
}

#[test]
fn copy_through_the_client_is_refused_before_anything_runs() {
    let db = TestDb::create();
    let p = Project::new();
    p.rev(R1, &[], true, "CREATE TABLE t (x int);", "DROP TABLE t;");
    p.rev(R2, &[R1], false, "COPY t (x) FROM STDIN;", "");
    let out = p.run(&["upgrade", "heads", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("COPY ... FROM STDIN"),
        "{}",
        text(&out)
    );
    assert_eq!(db.schema_dump(), "");
    // The runner refuses it too, for SQL that did not come from a file.
    let f = common::pg::FixtureBuilder::default()
        .rev(
            R1,
            &[],
            "CREATE TABLE t (x int);\nCOPY t TO STDOUT;",
            "DROP TABLE t;",
        )
        .build();
    let mut conn = db.database();
    let e = mergepoint::db::upgrade(
        &mut conn,
        &f.graph,
        "heads",
        &f.sql,
        &mergepoint::db::RunOptions::default(),
        |_: &mergepoint::graph::Step, _: Duration| {},
    )
    .unwrap_err();
    assert!(
        matches!(e, mergepoint::db::DbError::ClientCopy { line: 2, .. }),
        "{e:?}"
    );
    assert!(db.rows().is_empty());
}

/// A revision that lets go of the step guard (`pg_advisory_unlock_all()`)
/// is never committed, in either commit pattern: the guard is checked on
/// the server in the same round trip as the COMMIT (one per step, or the
/// run's one), even though the check before each step is skipped while
/// nothing could have released it.
#[test]
fn a_revision_releasing_the_step_guard_is_never_committed() {
    let p = Project::new();
    p.rev(R1, &[], true, "CREATE TABLE g1 (x int);", "DROP TABLE g1;");
    p.rev(
        R2,
        &[R1],
        true,
        "CREATE TABLE g2 (x int); SELECT pg_advisory_unlock_all();",
        "DROP TABLE g2;",
    );
    p.rev(
        R3,
        &[R2],
        true,
        "CREATE TABLE g3 (x int);",
        "DROP TABLE g3;",
    );
    let tables = "SELECT count(*) FROM pg_class WHERE relname IN ('g1', 'g2', 'g3')";
    for (extra, committed) in [(None, 1), (Some("--transaction-per-run"), 0)] {
        let db = TestDb::create();
        let mut args = vec!["upgrade", "heads", "--database-url", &db.url];
        args.extend(extra);
        let out = p.run(&args);
        assert_ne!(out.status.code(), Some(0), "{extra:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(err.contains("step guard"), "{extra:?}: {err}");
        assert_eq!(count(&db, tables), committed, "{extra:?}: {err}");
        let rows = if committed == 1 {
            vec![R1.to_string()]
        } else {
            vec![]
        };
        assert_eq!(db.rows(), rows, "{extra:?}");
    }
}
