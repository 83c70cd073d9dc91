//! The database commands through the real `mergepoint` binary, against a
//! real server: concurrent processes, SIGKILL mid-revision, lock timeout
//! exit code, offline SQL piped into psql, passwords never printed.
//!
//! `pg_process.rs` runs the same scenarios through the library in separate
//! processes.

mod common;

use common::pg::{TestDb, TestRole};
use common::project::{bin, text, Project};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn linear_project(n: usize) -> Project {
    let p = Project::new();
    let ids: Vec<String> = (1..=n).map(|i| format!("{i:012x}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let parents: Vec<&str> = if i == 0 {
            vec![]
        } else {
            vec![ids[i - 1].as_str()]
        };
        p.rev(
            id,
            &parents,
            true,
            &format!("CREATE TABLE t_{id} (x int);"),
            &format!("DROP TABLE t_{id};"),
        );
    }
    p
}

#[test]
fn eight_cli_processes_upgrade_heads_at_once() {
    let db = TestDb::create();
    let p = linear_project(10);
    let children: Vec<Child> = (0..8)
        .map(|_| p.spawn(&["upgrade", "heads", "--database-url", &db.url]))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(db.rows(), vec![format!("{:012x}", 10)]);
    let audit = db.audit();
    assert_eq!(audit.len(), 10, "{audit:?}");
    let mut revs: Vec<String> = audit.into_iter().map(|a| a.0).collect();
    revs.sort();
    revs.dedup();
    assert_eq!(revs.len(), 10);
}

#[test]
fn cli_runner_killed_mid_revision_then_rerun_completes() {
    let db = TestDb::create();
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE one (x int);",
        "DROP TABLE one;",
    );
    p.rev(
        "aaaa00000002",
        &["aaaa00000001"],
        true,
        "CREATE TABLE two (x int);\nINSERT INTO two VALUES (1);\nSELECT pg_sleep(CASE WHEN current_setting('mp.slow', true) = 'on' THEN 60 ELSE 0 END);",
        "DROP TABLE two;",
    );
    p.rev(
        "aaaa00000003",
        &["aaaa00000002"],
        true,
        "CREATE TABLE three (x int);",
        "DROP TABLE three;",
    );
    let slow_url = common::pg::slow_url(&db);
    let mut child = p.spawn(&["upgrade", "heads", "--database-url", &slow_url]);
    common::pg::wait_until_inside_slow_revision(&db, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(db.rows(), vec!["aaaa00000001".to_string()]);
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--lock-timeout",
        "30",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(db.rows(), vec!["aaaa00000003".to_string()]);
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM two", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let ok: Vec<String> = db
        .audit()
        .into_iter()
        .filter(|a| a.2)
        .map(|a| a.0)
        .collect();
    assert_eq!(ok, vec!["aaaa00000001", "aaaa00000002", "aaaa00000003"]);
}

#[test]
fn cli_exits_4_when_the_lock_is_held() {
    let db = TestDb::create();
    let p = linear_project(2);
    let holder = db.database();
    let _lock = mergepoint::db::MigrationLock::acquire(
        &holder,
        &mergepoint::db::VersionTable::default(),
        Duration::from_secs(5),
    )
    .unwrap();
    let started = Instant::now();
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        &db.url,
        "--lock-timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(db.rows().is_empty());
}

#[test]
fn cli_connection_failure_exits_3_without_the_password() {
    let p = linear_project(1);
    let out = p.run(&[
        "upgrade",
        "heads",
        "--database-url",
        "postgresql://app:TopSecret99@127.0.0.1:1/app",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    assert!(!all.contains("TopSecret99"), "{all}");
}

#[test]
fn cli_never_prints_the_password() {
    let db = TestDb::create();
    let role = TestRole::create(&db);
    let base = common::pg::with_dbname(&common::pg::admin_url(), &db.name);
    let rest = base.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let url = format!("postgresql://{}:{}@{rest}", role.name, role.password);
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE one (x int);",
        "DROP TABLE one;",
    );
    p.rev(
        "aaaa00000002",
        &["aaaa00000001"],
        true,
        &format!("SELECT '{}'::int;", role.password),
        "",
    );
    let mut outputs = vec![
        p.run(&["upgrade", "aaaa00000001", "--database-url", &url]),
        p.run(&["current", "--verbose", "--database-url", &url]),
        p.run(&["current", "--json", "--database-url", &url]),
        p.run(&["upgrade", "heads", "--database-url", &url]),
        p.run(&[
            "upgrade",
            "heads",
            "--database-url",
            &url.replace(&db.name, "mp_nope"),
        ]),
    ];
    outputs.push(
        p.cmd(&["current"])
            .env("DATABASE_URL", &url)
            .output()
            .unwrap(),
    );
    assert!(outputs[0].status.success(), "{}", text(&outputs[0]));
    assert_eq!(outputs[3].status.code(), Some(3), "{}", text(&outputs[3]));
    for o in &outputs {
        let all = text(o);
        assert!(!all.contains(&role.password), "{all}");
    }
}

#[test]
fn cli_offline_sql_into_psql_matches_the_online_upgrade() {
    let p = Project::new();
    p.rev(
        "aaaa00000000",
        &[],
        true,
        "CREATE TABLE base_t (id serial PRIMARY KEY);",
        "DROP TABLE base_t;",
    );
    p.rev(
        "bbbb00000001",
        &["aaaa00000000"],
        true,
        "CREATE TABLE orders (id int REFERENCES base_t(id));",
        "DROP TABLE orders;",
    );
    p.rev(
        "cccc00000001",
        &["aaaa00000000"],
        false,
        "CREATE INDEX CONCURRENTLY base_t_id2 ON base_t (id);",
        "DROP INDEX CONCURRENTLY base_t_id2;",
    );
    p.rev(
        "dddd00000001",
        &["bbbb00000001", "cccc00000001"],
        true,
        "ALTER TABLE orders ADD COLUMN note text;",
        "ALTER TABLE orders DROP COLUMN note;",
    );
    let online = TestDb::create();
    let out = p.run(&["upgrade", "heads", "--database-url", &online.url]);
    assert!(out.status.success(), "{}", text(&out));

    let out = p.run(&["upgrade", "heads", "--sql"]);
    assert!(out.status.success(), "{}", text(&out));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("-- Running upgrade bbbb00000001, cccc00000001 -> dddd00000001"),
        "{script}"
    );
    let offline = TestDb::create();
    common::pg::psql_apply(&offline.url, &script);
    assert_eq!(offline.schema_dump(), online.schema_dump());
    assert_eq!(offline.rows(), online.rows());
    assert_eq!(online.rows(), vec!["dddd00000001".to_string()]);
}

#[test]
fn cli_custom_version_table_offline_matches_online() {
    let p = linear_project(3);
    let table = mergepoint::db::VersionTable::new("Deploy Versions", Some("ops")).unwrap();
    let flags = [
        "--version-table",
        "Deploy Versions",
        "--version-table-schema",
        "ops",
    ];
    let args = |base: &[&'static str]| -> Vec<&'static str> {
        let mut v = base.to_vec();
        v.extend_from_slice(&flags);
        v
    };
    let online = TestDb::create();
    online.client().batch_execute("CREATE SCHEMA ops").unwrap();
    let mut a = args(&["upgrade", "heads"]);
    a.extend(["--database-url", online.url.as_str()]);
    let out = p.run(&a);
    assert!(out.status.success(), "{}", text(&out));

    let out = p.run(&args(&["upgrade", "heads", "--sql"]));
    assert!(out.status.success(), "{}", text(&out));
    let script = String::from_utf8(out.stdout).unwrap();
    let offline = TestDb::create();
    offline.client().batch_execute("CREATE SCHEMA ops").unwrap();
    common::pg::psql_apply(&offline.url, &script);

    let rows = |db: &TestDb| mergepoint::db::current(&mut db.client(), &table).unwrap();
    assert_eq!(rows(&online), vec![format!("{:012x}", 3)]);
    assert_eq!(rows(&offline), rows(&online));
    assert_eq!(offline.schema_dump(), online.schema_dump());
    for db in [&online, &offline] {
        assert!(db.rows().is_empty(), "nothing in public.alembic_version");
        let n: i64 = db
            .client()
            .query_one("SELECT count(*) FROM ops.mergepoint_history", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 3);
    }
    // Downgrade offline from the same table.
    let out = p.run(&args(&["downgrade", "heads:base", "--sql"]));
    assert!(out.status.success(), "{}", text(&out));
    common::pg::psql_apply(&offline.url, &String::from_utf8(out.stdout).unwrap());
    assert!(rows(&offline).is_empty());
}

/// On an Alembic project rendered without Python (MERGEPOINT_ALEMBIC_SQL=
/// placeholders; the same for a step Alembic cannot render offline) the
/// offline script shows the plan, but its steps are placeholders that fail:
/// even psql WITHOUT ON_ERROR_STOP (which goes on after errors) must not
/// record any revision as applied.
#[test]
fn alembic_offline_script_never_records_a_revision_that_did_not_run() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alembic_shop");
    let out = Command::new(bin())
        .args([
            "--dir",
            fixture.to_str().unwrap(),
            "upgrade",
            "heads",
            "--sql",
        ])
        .env("MERGEPOINT_ALEMBIC_SQL", "placeholders")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("-- Running upgrade  -> aaaa"), "{script}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("placeholder"));
    let db = TestDb::create();
    // Without ON_ERROR_STOP: psql goes on after each error.
    let res = common::pg::psql(&db.url, &script, false);
    let errors = String::from_utf8_lossy(&res.stderr);
    assert!(errors.contains("is an Alembic revision"), "{errors}");
    assert_eq!(
        db.rows(),
        Vec::<String>::new(),
        "a placeholder step was recorded"
    );
}

/// `--no-audit` on a native project: transactional and non-transactional
/// steps, downgrade and the offline script keep to the version table; no
/// mergepoint_history is created or written.
#[test]
fn no_audit_writes_only_the_version_table() {
    let db = TestDb::create();
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE t (x int);",
        "DROP TABLE t;",
    );
    p.rev(
        "bbbb00000001",
        &["aaaa00000001"],
        false,
        "CREATE INDEX CONCURRENTLY t_x ON t (x);",
        "DROP INDEX CONCURRENTLY t_x;",
    );
    let history = |db: &TestDb| -> bool {
        db.client()
            .query_one("SELECT to_regclass('mergepoint_history') IS NOT NULL", &[])
            .unwrap()
            .get(0)
    };
    let up = p.run(&["upgrade", "heads", "--no-audit", "--database-url", &db.url]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(text(&up).contains("note: audit is off"), "{}", text(&up));
    assert_eq!(db.rows(), vec!["bbbb00000001".to_string()]);
    assert!(!history(&db), "mergepoint_history was created");
    let down = p.run(&["downgrade", "base", "--no-audit", "--database-url", &db.url]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(db.rows().is_empty());
    assert!(!history(&db));
    let offline = p.run(&["upgrade", "heads", "--sql", "--no-audit"]);
    assert!(offline.status.success(), "{}", text(&offline));
    let script = String::from_utf8_lossy(&offline.stdout);
    assert!(script.contains("CREATE INDEX CONCURRENTLY"), "{script}");
    assert!(!script.contains("mergepoint_history"), "{script}");
    // The same project with the audit on writes it.
    let up = p.run(&["upgrade", "heads", "--database-url", &db.url]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(history(&db));
}
