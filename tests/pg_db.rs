//! Database-layer tests that need no path planning: connection errors and
//! password masking, the migration lock, stamp, drift, custom version
//! tables. Each test has its own fresh database on a real server.

mod common;

use common::pg::{two_branches, TestDb, TestRole};
use mergepoint::db::{
    check_drift, classify_rows, current, history, repair, stamp, stamp_rows, Database, DbError,
    DriftFinding, MigrationLock, RunOptions, VersionTable,
};
use std::time::{Duration, Instant};

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn connection_failure_is_exit_3_and_masks_the_password() {
    let url = "postgresql://someone:hunter2secret@127.0.0.1:1/nowhere";
    let err = Database::connect(url).unwrap_err();
    assert!(matches!(err, DbError::Connect { .. }), "{err:?}");
    assert_eq!(mergepoint::cli::error::db_error_kind(&err).0.exit_code(), 3);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(text.contains("someone:***@127.0.0.1:1/nowhere"), "{text}");

    // A bad value in the settings is an input error (exit 2), named.
    let bad = "postgresql://someone:hunter2secret@127.0.0.1:notaport/x";
    let err = Database::connect(bad).unwrap_err();
    assert_eq!(mergepoint::cli::error::db_error_kind(&err).0.exit_code(), 2);
    assert!(err.to_string().contains("invalid port"), "{err}");
    assert!(!format!("{err} {err:?}").contains("hunter2secret"));
}

#[test]
fn password_url_never_shows_the_password() {
    let db = TestDb::create();
    let role = TestRole::create(&db);
    let base = common::pg::with_dbname(&common::pg::admin_url(), &db.name);
    // Put the role and password into the URL (replacing any user info).
    let rest = base.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let url = format!("postgresql://{}:{}@{rest}", role.name, role.password);
    let mut conn = Database::connect(&url).expect("connect with password");
    assert!(!conn.masked_url().contains(&role.password));
    assert!(!format!("{conn:?}").contains(&role.password));
    // A driver error that echoes the password text is scrubbed.
    let err = conn
        .client()
        .batch_execute(&format!("SELECT '{}'::int", role.password))
        .unwrap_err();
    assert!(
        err.to_string().contains(&role.password) || format!("{err:?}").contains(&role.password)
    );
    assert!(!conn.scrub(&format!("{err:?}")).contains(&role.password));
    // Connecting to a missing database with the password URL.
    let missing = url.replace(&db.name, "mp_no_such_db");
    let err = Database::connect(&missing).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&role.password), "{text}");
    assert!(text.contains(":***@"), "{text}");
    drop(conn);
}

#[test]
fn lock_timeout_returns_the_lock_error_with_exit_4() {
    let db = TestDb::create();
    let holder = db.database();
    let table = VersionTable::default();
    let held = MigrationLock::acquire(&holder, &table, Duration::from_secs(5)).unwrap();

    let mut other = db.database();
    let started = Instant::now();
    let opts = RunOptions {
        lock_timeout: Duration::from_millis(300),
        ..RunOptions::default()
    };
    let f = two_branches();
    let err = mergepoint::db::run(
        &mut other,
        &f.graph,
        &f.sql,
        &opts,
        |_, _| panic!("the plan must not be computed without the lock"),
        |_: &mergepoint::graph::Step, _: std::time::Duration| {},
    )
    .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, DbError::LockTimeout { .. }), "{err:?}");
    assert_eq!(mergepoint::cli::error::db_error_kind(&err).0.exit_code(), 4);
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(err.to_string().contains("alembic_version"), "{err}");
    // Another version table has another lock.
    let t2 = VersionTable::new("other_version", None).unwrap();
    let l2 = MigrationLock::acquire(&other, &t2, Duration::from_millis(300)).unwrap();
    drop(l2);
    // Released on drop: the next runner gets it at once.
    drop(held);
    let started = Instant::now();
    MigrationLock::acquire(&other, &table, Duration::from_secs(5)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn held_lock_does_not_block_create_index_concurrently() {
    let db = TestDb::create();
    let mut work = db.database();
    work.client()
        .batch_execute("CREATE TABLE t (x int)")
        .unwrap();
    let _lock =
        MigrationLock::acquire(&work, &VersionTable::default(), Duration::from_secs(5)).unwrap();
    work.client()
        .batch_execute("SET statement_timeout = '10s'")
        .unwrap();
    work.client()
        .batch_execute("CREATE INDEX CONCURRENTLY t_x ON t (x)")
        .expect("CREATE INDEX CONCURRENTLY runs while the lock is held");
}

#[test]
fn current_on_a_fresh_database_is_empty_and_creates_nothing() {
    let db = TestDb::create();
    let mut c = db.client();
    assert!(current(&mut c, &VersionTable::default())
        .unwrap()
        .is_empty());
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN ('alembic_version', 'mergepoint_history')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn stamp_rows_follows_alembic_lineage_rules() {
    let f = two_branches();
    let g = &f.graph;
    let r = |rows: &[&str], targets: &[&str], purge: bool| {
        stamp_rows(g, &ids(rows), &ids(targets), purge).unwrap()
    };
    // New branch when nothing shares lineage.
    assert_eq!(r(&[], &["bbbb00000002"], false), ids(&["bbbb00000002"]));
    assert_eq!(
        r(&["bbbb00000002"], &["cccc00000001"], false),
        ids(&["bbbb00000002", "cccc00000001"])
    );
    // Up and down along a branch replace the row.
    assert_eq!(
        r(&["bbbb00000002", "cccc00000001"], &["cccc00000002"], false),
        ids(&["bbbb00000002", "cccc00000002"])
    );
    assert_eq!(
        r(&["bbbb00000002", "cccc00000002"], &["bbbb00000001"], false),
        ids(&["bbbb00000001", "cccc00000002"])
    );
    // The base shares lineage with both rows: both are replaced.
    assert_eq!(
        r(&["bbbb00000002", "cccc00000002"], &["aaaa00000000"], false),
        ids(&["aaaa00000000"])
    );
    // base clears; purge clears first; already there is a no-op.
    assert!(r(&["bbbb00000002", "cccc00000002"], &[], false).is_empty());
    assert_eq!(
        r(&["zzzz", "bbbb00000002"], &["cccc00000001"], true),
        ids(&["cccc00000001"])
    );
    assert_eq!(
        r(&["bbbb00000002"], &["bbbb00000002"], false),
        ids(&["bbbb00000002"])
    );
}

#[test]
fn stamp_sets_rows_under_the_lock_and_is_audited() {
    let db = TestDb::create();
    let f = two_branches();
    let mut conn = db.database();
    let opts = RunOptions::default();
    let out = stamp(&mut conn, &f.graph, &opts, false, |rows| {
        assert!(rows.is_empty());
        Ok(ids(&["bbbb00000002"]))
    })
    .unwrap();
    assert!(out.before.is_empty());
    assert_eq!(db.rows(), ids(&["bbbb00000002"]));
    stamp(&mut conn, &f.graph, &opts, false, |_| {
        Ok(ids(&["cccc00000001"]))
    })
    .unwrap();
    assert_eq!(db.rows(), ids(&["bbbb00000002", "cccc00000001"]));
    stamp(&mut conn, &f.graph, &opts, false, |_| Ok(vec![])).unwrap();
    assert!(db.rows().is_empty());
    // No SQL ran: no user table exists.
    assert_eq!(db.schema_dump(), "");
    let audit = db.audit();
    let stamps: Vec<(&str, &str, bool)> = audit
        .iter()
        .map(|(r, d, s, _)| (r.as_str(), d.as_str(), *s))
        .collect();
    assert_eq!(
        stamps,
        vec![
            ("bbbb00000002", "stamp", true),
            ("cccc00000001", "stamp", true),
            ("base", "stamp", true)
        ]
    );
}

#[test]
fn drift_reports_checksums_unknown_ids_and_non_heads_and_repairs_on_request() {
    let db = TestDb::create();
    let f = two_branches();
    let mut conn = db.database();
    let opts = RunOptions::default();
    stamp(&mut conn, &f.graph, &opts, false, |_| {
        Ok(ids(&["bbbb00000002"]))
    })
    .unwrap();
    let table = VersionTable::default();
    // Stamped revisions have no checksum: nothing to report.
    let report = check_drift(conn.client(), &f.graph, &f.sql, &table).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.repair_sql.is_empty());

    // Pretend bbbb00000001 ran with other SQL, and damage the version table.
    conn.client()
        .batch_execute(
            "INSERT INTO mergepoint_history (revision, direction, sql_sha256, success) \
               VALUES ('bbbb00000001', 'upgrade', 'deadbeef', true);
             INSERT INTO alembic_version VALUES ('ffffffffffff'), ('aaaa00000000');",
        )
        .unwrap();
    let report = check_drift(conn.client(), &f.graph, &f.sql, &table).unwrap();
    assert_eq!(report.findings.len(), 3, "{report:#?}");
    assert!(matches!(
        &report.findings[0],
        DriftFinding::ChecksumChanged { revision, recorded, .. } if revision == "bbbb00000001" && recorded == "deadbeef"
    ));
    assert_eq!(
        report.findings[1],
        DriftFinding::UnknownRevision {
            revision: "ffffffffffff".into()
        }
    );
    assert_eq!(
        report.findings[2],
        DriftFinding::NotAHead {
            revision: "aaaa00000000".into(),
            ancestor_of: "bbbb00000002".into()
        }
    );
    assert!(report
        .repair_sql
        .contains("DELETE FROM \"alembic_version\" WHERE version_num = 'aaaa00000000';"));
    assert!(report
        .repair_sql
        .contains("-- DELETE FROM \"alembic_version\" WHERE version_num = 'ffffffffffff';"));
    for finding in &report.findings {
        assert!(!finding.to_string().is_empty());
    }
    // Checking changed nothing.
    assert_eq!(
        db.rows(),
        ids(&["aaaa00000000", "bbbb00000002", "ffffffffffff"])
    );

    repair(&mut conn, &f.graph, &f.sql, &opts).unwrap();
    assert_eq!(db.rows(), ids(&["bbbb00000002", "ffffffffffff"]));
    let report = check_drift(conn.client(), &f.graph, &f.sql, &table).unwrap();
    assert_eq!(
        report.findings,
        vec![DriftFinding::UnknownRevision {
            revision: "ffffffffffff".into()
        }]
    );
    let log = history(conn.client(), &table, Some(1)).unwrap();
    assert_eq!(log[0].direction, "accept");
    assert_eq!(log[0].revision, "bbbb00000001");
}

#[test]
fn classify_rows_finds_unknown_and_redundant_rows() {
    let f = two_branches();
    let rep = classify_rows(&f.graph, &ids(&["aaaa00000000", "cccc00000002", "nope"]));
    assert_eq!(rep.unknown, ids(&["nope"]));
    assert_eq!(
        rep.redundant,
        vec![("aaaa00000000".to_string(), "cccc00000002".to_string())]
    );
    assert!(classify_rows(&f.graph, &ids(&["bbbb00000002", "cccc00000002"])).is_clean());
}

#[test]
fn custom_version_table_name_and_schema_are_quoted() {
    let db = TestDb::create();
    db.client()
        .batch_execute("CREATE SCHEMA \"mp Schema\"")
        .unwrap();
    let f = two_branches();
    let mut conn = db.database();
    let table = VersionTable::new("Ver\"sions", Some("mp Schema")).unwrap();
    let opts = RunOptions {
        table: table.clone(),
        ..RunOptions::default()
    };
    stamp(&mut conn, &f.graph, &opts, false, |_| {
        Ok(ids(&["cccc00000001"]))
    })
    .unwrap();
    assert_eq!(
        current(conn.client(), &table).unwrap(),
        ids(&["cccc00000001"])
    );
    let n: i64 = conn
        .client()
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'mp Schema' AND c.relname IN ('Ver\"sions', 'mergepoint_history')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    // The default table is untouched.
    assert!(db.rows().is_empty());
    let err = VersionTable::new("", None).unwrap_err();
    assert_eq!(mergepoint::cli::error::db_error_kind(&err).0.exit_code(), 2);
}

#[test]
fn unix_socket_urls_work() {
    let db = TestDb::create();
    let dir = "/var/run/postgresql";
    if !std::path::Path::new(dir).join(".s.PGSQL.5432").exists() {
        // The server under test is not local (DATABASE_URL points elsewhere):
        // there is no socket to try. Say so rather than pass silently.
        eprintln!("unix_socket_urls_work: no socket in {dir}; only the TCP URL was tested");
        return;
    }
    let url = format!("postgresql:///{}?host={dir}&user=postgres", db.name);
    let mut conn = Database::connect(&url).expect("connect over the unix socket");
    let host: Option<String> = conn
        .client()
        .query_one("SELECT inet_client_addr()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(host, None, "a unix-socket session has no client address");
    let f = two_branches();
    stamp(&mut conn, &f.graph, &RunOptions::default(), false, |_| {
        Ok(ids(&["aaaa00000000"]))
    })
    .unwrap();
    let h = history(conn.client(), &VersionTable::default(), None).unwrap();
    assert_eq!(h[0].client_host, "local");
    assert_eq!(conn.masked_url(), url);
}
