//! Runner tests against a real server: round trips, partial targets on
//! branches, failures, concurrency, transactions, offline SQL via psql,
//! password scrubbing. Each test has its own fresh database.

mod common;

use common::pg::{linear, two_branches, Fixture, FixtureBuilder, TestDb, TestRole};
use mergepoint::db::{
    downgrade, history, render_offline, upgrade, Database, DbError, RunOptions, VersionTable,
};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn up(conn: &mut Database, f: &Fixture, target: &str) -> Result<Vec<String>, DbError> {
    let mut seen = Vec::new();
    upgrade(
        conn,
        &f.graph,
        target,
        &f.sql,
        &RunOptions::default(),
        |s: &mergepoint::graph::Step, _: std::time::Duration| seen.push(s.revision.clone()),
    )?;
    Ok(seen)
}

fn down(conn: &mut Database, f: &Fixture, target: &str) -> Result<Vec<String>, DbError> {
    let mut seen = Vec::new();
    downgrade(
        conn,
        &f.graph,
        target,
        &f.sql,
        &RunOptions::default(),
        |s: &mergepoint::graph::Step, _: std::time::Duration| seen.push(s.revision.clone()),
    )?;
    Ok(seen)
}

#[test]
fn upgrade_to_heads_and_back_to_base_restores_the_schema() {
    let db = TestDb::create();
    let f = two_branches();
    let before = db.schema_dump();
    assert_eq!(before, "");
    let mut conn = db.database();
    let ran = up(&mut conn, &f, "heads").unwrap();
    assert_eq!(ran.len(), 5);
    assert_eq!(db.rows(), ids(&["bbbb00000002", "cccc00000002"]));
    let at_heads = db.schema_dump();
    assert!(at_heads.contains("customers_email_lower"), "{at_heads}");
    assert!(at_heads.contains("col orders.status text"), "{at_heads}");
    // Nothing left to do.
    assert!(up(&mut conn, &f, "heads").unwrap().is_empty());

    let ran = down(&mut conn, &f, "base").unwrap();
    assert_eq!(ran.len(), 5);
    assert!(db.rows().is_empty());
    assert_eq!(db.schema_dump(), before);

    // And up again gives the same schema as the first time.
    up(&mut conn, &f, "heads").unwrap();
    assert_eq!(db.schema_dump(), at_heads);
    let audit = db.audit();
    assert_eq!(audit.len(), 15);
    assert!(audit.iter().all(|(_, _, ok, _)| *ok));
}

#[test]
fn partial_targets_on_two_branches_and_downgrading_one_branch() {
    let db = TestDb::create();
    let f = two_branches();
    let mut conn = db.database();
    assert_eq!(
        up(&mut conn, &f, "bbbb00000001").unwrap(),
        ids(&["aaaa00000000", "bbbb00000001"])
    );
    assert_eq!(db.rows(), ids(&["bbbb00000001"]));
    let only_b1 = db.schema_dump();
    assert_eq!(
        up(&mut conn, &f, "cccc00000002").unwrap(),
        ids(&["cccc00000001", "cccc00000002"])
    );
    assert_eq!(db.rows(), ids(&["bbbb00000001", "cccc00000002"]));
    assert_eq!(
        up(&mut conn, &f, "bbbb00000002").unwrap(),
        ids(&["bbbb00000002"])
    );
    assert_eq!(db.rows(), ids(&["bbbb00000002", "cccc00000002"]));

    // Down the c branch only (relative, anchored on its head).
    assert_eq!(
        down(&mut conn, &f, "cccc00000002@-2").unwrap(),
        ids(&["cccc00000002", "cccc00000001"])
    );
    assert_eq!(db.rows(), ids(&["bbbb00000002"]));
    let schema = db.schema_dump();
    assert!(!schema.contains("customers"), "{schema}");
    assert!(schema.contains("orders"), "{schema}");
    // Then b down to b1: exactly the schema we had at b1 alone.
    down(&mut conn, &f, "bbbb00000001").unwrap();
    assert_eq!(db.rows(), ids(&["bbbb00000001"]));
    assert_eq!(db.schema_dump(), only_b1);
}

#[test]
fn a_failing_revision_leaves_schema_and_version_table_as_before() {
    let db = TestDb::create();
    let f = FixtureBuilder::default()
        .rev("aaaa00000001", &[], "CREATE TABLE one (x int);", "DROP TABLE one;")
        .rev("aaaa00000002", &["aaaa00000001"], "CREATE TABLE two (x int);", "DROP TABLE two;")
        .rev(
            "aaaa00000003",
            &["aaaa00000002"],
            "CREATE TABLE three (x int);\nALTER TABLE one ADD COLUMN y int;\nINSERT INTO three VALUES (1);\nSELECT 1/0;\nCREATE TABLE never (x int);",
            "DROP TABLE three; ALTER TABLE one DROP COLUMN y;",
        )
        .build();
    let mut conn = db.database();
    up(&mut conn, &f, "aaaa00000001").unwrap();
    // Upgrade to the failing head: aaaa00000002 commits, aaaa00000003 fails.
    let err = up(&mut conn, &f, "heads").unwrap_err();
    match &err {
        DbError::StepFailed(f) => {
            assert_eq!(f.revision, "aaaa00000003");
            assert_eq!(f.applied, ids(&["aaaa00000002"]));
            assert!(!f.may_have_partial_effects());
            assert!(f.message.contains("division by zero"), "{}", f.message);
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert_eq!(mergepoint::cli::error::db_error_kind(&err).0.exit_code(), 3);
    assert!(text.contains("rolled back"), "{text}");
    assert!(text.contains("aaaa00000002"), "{text}");
    assert_eq!(db.rows(), ids(&["aaaa00000002"]));

    // Exactly the schema of a database upgraded to aaaa00000002 only.
    let reference = TestDb::create();
    up(&mut reference.database(), &f, "aaaa00000002").unwrap();
    assert_eq!(db.schema_dump(), reference.schema_dump());

    let audit = db.audit();
    let last = audit.last().unwrap();
    assert_eq!(last.0, "aaaa00000003");
    assert_eq!(last.1, "upgrade");
    assert!(!last.2);
    assert!(last.3.as_deref().unwrap().contains("division by zero"));
    assert_eq!(audit.iter().filter(|a| a.2).count(), 2);
}

#[test]
fn concurrent_runners_apply_each_revision_exactly_once() {
    let db = TestDb::create();
    let f = Arc::new(linear(12));
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let url = db.url.clone();
            let f = Arc::clone(&f);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut conn = Database::connect(&url).unwrap();
                barrier.wait();
                let mut ran = 0;
                upgrade(
                    &mut conn,
                    &f.graph,
                    "heads",
                    &f.sql,
                    &RunOptions::default(),
                    |_: &mergepoint::graph::Step, _: std::time::Duration| ran += 1,
                )
                .map(|_| ran)
            })
        })
        .collect();
    let ran: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("every runner succeeds"))
        .collect();
    assert_eq!(ran.iter().sum::<usize>(), 12, "{ran:?}");
    assert_eq!(db.rows(), ids(&["r00000000012"]));
    let audit = db.audit();
    assert_eq!(audit.len(), 12);
    let mut revs: Vec<String> = audit.into_iter().map(|a| a.0).collect();
    revs.dedup();
    assert_eq!(revs.len(), 12);
}

#[test]
fn non_transactional_revision_runs_outside_a_transaction_and_failure_warns() {
    let db = TestDb::create();
    let f = FixtureBuilder::default()
        .rev("aaaa00000001", &[], "CREATE TABLE t (x int, y int);", "DROP TABLE t;")
        .nontx(
            "aaaa00000002",
            &["aaaa00000001"],
            "CREATE INDEX CONCURRENTLY t_x ON t (x);\nCREATE INDEX CONCURRENTLY t_y ON t (y);",
            "DROP INDEX CONCURRENTLY t_y;\nDROP INDEX CONCURRENTLY t_x;",
        )
        .nontx(
            "aaaa00000003",
            &["aaaa00000002"],
            "CREATE INDEX CONCURRENTLY t_xy ON t (x, y);\nCREATE INDEX CONCURRENTLY t_bad ON t (no_such_column);",
            "DROP INDEX CONCURRENTLY t_xy;",
        )
        .build();
    let mut conn = db.database();
    up(&mut conn, &f, "aaaa00000002").unwrap();
    assert_eq!(db.rows(), ids(&["aaaa00000002"]));
    let dump = db.schema_dump();
    assert!(
        dump.contains("t_y ON public.t USING btree (y) valid=t"),
        "{dump}"
    );
    let err = up(&mut conn, &f, "aaaa00000003").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("partial effects may remain"), "{text}");
    assert!(text.contains("statement 2 of 2"), "{text}");
    // The version table was not moved; the first index did get built.
    assert_eq!(db.rows(), ids(&["aaaa00000002"]));
    assert!(db.schema_dump().contains("t_xy"));
    down(&mut conn, &f, "base").unwrap();
}

#[test]
fn transaction_per_run_rolls_back_the_whole_run() {
    let db = TestDb::create();
    let f = FixtureBuilder::default()
        .rev(
            "aaaa00000001",
            &[],
            "CREATE TABLE one (x int);",
            "DROP TABLE one;",
        )
        .rev(
            "aaaa00000002",
            &["aaaa00000001"],
            "CREATE TABLE two (x int);",
            "DROP TABLE two;",
        )
        .rev("aaaa00000003", &["aaaa00000002"], "SELECT 1/0;", "")
        .build();
    let mut conn = db.database();
    let opts = RunOptions {
        transaction_per_run: true,
        ..RunOptions::default()
    };
    let err = upgrade(
        &mut conn,
        &f.graph,
        "heads",
        &f.sql,
        &opts,
        |_: &mergepoint::graph::Step, _: std::time::Duration| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, DbError::StepFailed(f) if f.run == mergepoint::db::RunEffects::RunRolledBack && f.applied.is_empty())
    );
    assert!(db.rows().is_empty());
    assert_eq!(db.schema_dump(), "");
    let audit = db.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(!audit[0].2);
    // The good part alone works as one transaction.
    upgrade(
        &mut conn,
        &f.graph,
        "aaaa00000002",
        &f.sql,
        &opts,
        |_: &mergepoint::graph::Step, _: std::time::Duration| {},
    )
    .unwrap();
    assert_eq!(db.rows(), ids(&["aaaa00000002"]));
    // A non-transactional step is refused up front.
    let g = two_branches();
    let fresh = TestDb::create();
    let err = upgrade(
        &mut fresh.database(),
        &g.graph,
        "cccc00000002",
        &g.sql,
        &opts,
        |_: &mergepoint::graph::Step, _: std::time::Duration| {},
    )
    .unwrap_err();
    let shown = err.to_string();
    assert_eq!(
        mergepoint::cli::error::db_error_kind(&err).0.exit_code(),
        2,
        "{shown}"
    );
}

#[test]
fn revisions_without_sql_are_refused_before_touching_the_database() {
    let db = TestDb::create();
    let mut f = two_branches();
    f.sql.remove("cccc00000001");
    let mut conn = db.database();
    let err = up(&mut conn, &f, "heads").unwrap_err();
    assert!(
        matches!(&err, DbError::MissingSql { revisions } if revisions == &ids(&["cccc00000001"]))
    );
    assert!(err
        .to_string()
        .contains("Alembic revisions can't be run by mergepoint"));
    let n: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing may be created");
}

#[test]
fn offline_sql_through_psql_equals_the_online_run() {
    let f = two_branches();
    let table = VersionTable::default();
    let online = TestDb::create();
    up(&mut online.database(), &f, "heads").unwrap();

    let plan = f.graph.plan_upgrade(&[], "heads").unwrap();
    let script = render_offline(&plan, &f.sql, &table).unwrap();
    assert!(
        script.contains("-- Running upgrade  -> aaaa00000000\n"),
        "{script}"
    );
    assert!(script.contains("-- Running upgrade aaaa00000000 -> bbbb00000001\n"));
    assert!(
        script.contains("INSERT INTO \"alembic_version\" (version_num) VALUES ('aaaa00000000');")
    );
    assert!(
        script.contains("INSERT INTO \"alembic_version\" (version_num) VALUES ('bbbb00000001');")
    );
    assert!(script.contains(
        "UPDATE \"alembic_version\" SET version_num = 'cccc00000001' WHERE version_num = 'aaaa00000000';"
    ));
    // The non-transactional step has no BEGIN/COMMIT around it.
    let nontx = script
        .split("-- Running upgrade cccc00000001 -> cccc00000002")
        .nth(1)
        .unwrap();
    let nontx = nontx.split("-- Running").next().unwrap();
    assert!(!nontx.contains("BEGIN;"), "{nontx}");
    assert_eq!(script.matches("BEGIN;").count(), 4);

    let offline = TestDb::create();
    common::pg::psql_apply(&offline.url, &script);
    assert_eq!(offline.schema_dump(), online.schema_dump());
    assert_eq!(offline.rows(), online.rows());

    // Downgrade offline too, from those heads to base.
    let plan = f.graph.plan_downgrade(&online.rows(), "base").unwrap();
    let script = render_offline(&plan, &f.sql, &table).unwrap();
    assert!(
        script.contains("-- Running downgrade bbbb00000002 -> bbbb00000001\n"),
        "{script}"
    );
    common::pg::psql_apply(&offline.url, &script);
    down(&mut online.database(), &f, "base").unwrap();
    assert_eq!(offline.schema_dump(), online.schema_dump());
    assert!(offline.rows().is_empty());

    // And a range A:B (from bbbb00000001 to bbbb00000002).
    let plan = f
        .graph
        .plan_upgrade(&ids(&["bbbb00000001"]), "bbbb00000002")
        .unwrap();
    let script = render_offline(&plan, &f.sql, &table).unwrap();
    assert!(!script.contains("CREATE TABLE IF NOT EXISTS \"alembic_version\""));
    assert_eq!(script.matches("-- Running").count(), 1);
}

#[test]
fn a_password_never_appears_in_runner_errors() {
    let db = TestDb::create();
    let role = TestRole::create(&db);
    let base = common::pg::with_dbname(&common::pg::admin_url(), &db.name);
    let rest = base.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let url = format!("postgresql://{}:{}@{rest}", role.name, role.password);
    // A revision whose failure message echoes the password text.
    let f = FixtureBuilder::default()
        .rev(
            "aaaa00000001",
            &[],
            &format!("SELECT '{}'::int;", role.password),
            "",
        )
        .build();
    let mut conn = Database::connect(&url).unwrap();
    let err = up(&mut conn, &f, "heads").unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&role.password), "{text}");
    assert!(text.contains("invalid input syntax"), "{text}");
    // Lock timeouts name the table, not the URL.
    let holder = Database::connect(&url).unwrap();
    let _lock = mergepoint::db::MigrationLock::acquire(
        &holder,
        &VersionTable::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    let opts = RunOptions {
        lock_timeout: Duration::from_millis(100),
        ..RunOptions::default()
    };
    let err = upgrade(
        &mut conn,
        &f.graph,
        "heads",
        &f.sql,
        &opts,
        |_: &mergepoint::graph::Step, _: std::time::Duration| {},
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&role.password));
    drop(conn);
}

#[test]
fn history_lists_steps_oldest_first_with_checksums() {
    let db = TestDb::create();
    let f = linear(3);
    let mut conn = db.database();
    up(&mut conn, &f, "heads").unwrap();
    down(&mut conn, &f, "-1").unwrap();
    let h = history(conn.client(), &VersionTable::default(), None).unwrap();
    let got: Vec<(&str, &str)> = h
        .iter()
        .map(|e| (e.revision.as_str(), e.direction.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("r00000000001", "upgrade"),
            ("r00000000002", "upgrade"),
            ("r00000000003", "upgrade"),
            ("r00000000003", "downgrade"),
        ]
    );
    let e = &h[0];
    assert_eq!(e.sql_sha256.as_deref().unwrap().len(), 64);
    assert!(e.success && e.error.is_none());
    assert!(e.duration_ms.unwrap() >= 0.0);
    assert!(!e.db_user.is_empty() && !e.client_host.is_empty());
    assert!(e.started_at.ends_with('Z'));
    assert_eq!(
        history(conn.client(), &VersionTable::default(), Some(1))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn merge_revisions_update_the_version_table_like_alembic_online_and_offline() {
    let f = FixtureBuilder::default()
        .rev(
            "aaaa00000000",
            &[],
            "CREATE TABLE a (x int);",
            "DROP TABLE a;",
        )
        .rev(
            "bbbb00000001",
            &["aaaa00000000"],
            "CREATE TABLE b (x int);",
            "DROP TABLE b;",
        )
        .rev(
            "cccc00000001",
            &["aaaa00000000"],
            "CREATE TABLE c (x int);",
            "DROP TABLE c;",
        )
        .rev(
            "dddd00000001",
            &["bbbb00000001", "cccc00000001"],
            "CREATE TABLE d (x int);",
            "DROP TABLE d;",
        )
        .rev(
            "eeee00000001",
            &["dddd00000001"],
            "CREATE TABLE e (x int);",
            "DROP TABLE e;",
        )
        .build();
    let db = TestDb::create();
    let mut conn = db.database();
    up(&mut conn, &f, "bbbb00000001").unwrap();
    up(&mut conn, &f, "cccc00000001").unwrap();
    assert_eq!(db.rows(), ids(&["bbbb00000001", "cccc00000001"]));
    up(&mut conn, &f, "heads").unwrap();
    assert_eq!(db.rows(), ids(&["eeee00000001"]));
    // Down through the merge: the version table gets both parents back.
    assert_eq!(
        down(&mut conn, &f, "bbbb00000001").unwrap(),
        ids(&["eeee00000001", "dddd00000001"])
    );
    assert_eq!(db.rows(), ids(&["bbbb00000001", "cccc00000001"]));
    down(&mut conn, &f, "base").unwrap();
    assert!(db.rows().is_empty());
    assert_eq!(db.schema_dump(), "");

    // Offline, base -> heads -> base, through psql, ends where it started.
    let table = VersionTable::default();
    let offline = TestDb::create();
    let plan = f.graph.plan_upgrade(&[], "heads").unwrap();
    common::pg::psql_apply(
        &offline.url,
        &render_offline(&plan, &f.sql, &table).unwrap(),
    );
    assert_eq!(offline.rows(), ids(&["eeee00000001"]));
    let plan = f
        .graph
        .plan_downgrade(&ids(&["eeee00000001"]), "aaaa00000000")
        .unwrap();
    let script = render_offline(&plan, &f.sql, &table).unwrap();
    assert!(
        script.contains("-- Running downgrade dddd00000001 -> bbbb00000001, cccc00000001"),
        "{script}"
    );
    common::pg::psql_apply(&offline.url, &script);
    assert_eq!(offline.rows(), ids(&["aaaa00000000"]));
}
