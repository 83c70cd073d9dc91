//! Fleets through the real `mergepoint` binary against the real server:
//! `upgrade` / `downgrade` / `current` with `--targets FILE`,
//! `--targets-query`, `--schemas`, `--jobs`, `--fail-fast`; a broken
//! target, an unreachable one, a bad target file, lock timeouts.

mod common;

use common::pg::{admin_url, with_dbname, TestDb};
use common::project::{text, Project};
use std::process::Output;

/// Three small revisions: a, b, c (each a table).
fn project() -> Project {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE fleet_a (x int);",
        "DROP TABLE fleet_a;",
    );
    p.rev(
        "aaaa00000002",
        &["aaaa00000001"],
        true,
        "CREATE TABLE fleet_b (x int);",
        "DROP TABLE fleet_b;",
    );
    p.rev(
        "aaaa00000003",
        &["aaaa00000002"],
        true,
        "CREATE TABLE fleet_c (x int);",
        "DROP TABLE fleet_c;",
    );
    p
}

/// `n` databases, created (and later dropped) in parallel.
fn databases(n: usize) -> Vec<TestDb> {
    let handles: Vec<_> = (0..n).map(|_| std::thread::spawn(TestDb::create)).collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn drop_all(dbs: Vec<TestDb>) {
    let handles: Vec<_> = dbs
        .into_iter()
        .map(|d| std::thread::spawn(move || drop(d)))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn write_targets(p: &Project, text: &str) -> String {
    let path = p.path().join("targets.txt");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn table_exists(db: &TestDb, name: &str) -> bool {
    db.client()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .unwrap()
        .get(0)
}

#[test]
fn fifty_databases_one_broken_jobs_8_the_rest_at_head_the_broken_one_consistent() {
    let p = project();
    let dbs = databases(50);
    let broken = 17;
    // The second revision cannot run there: its table already exists.
    dbs[broken]
        .client()
        .batch_execute("CREATE TABLE fleet_b (y int)")
        .unwrap();
    // All three ways to name a database: a URL, a label, a bare name.
    let mut list = String::from("# the fleet\n\n");
    for (i, d) in dbs.iter().enumerate() {
        match i % 3 {
            0 => list.push_str(&format!("{}\n", d.url)),
            1 => list.push_str(&format!("tenant-{i}: {}\n", d.url)),
            _ => list.push_str(&format!("{}\n", d.name)),
        }
    }
    let file = write_targets(&p, &list);
    let out = p.run(&[
        "upgrade",
        "heads",
        "--targets",
        &file,
        "--jobs",
        "8",
        "--database-url",
        &admin_url(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let so = stdout(&out);
    let ok_lines = so.lines().filter(|l| l.starts_with("ok  ")).count();
    assert_eq!(ok_lines, 49, "{}", text(&out));
    let broken_name = if broken % 3 == 1 {
        format!("tenant-{broken}")
    } else {
        dbs[broken].name.clone()
    };
    let failed: Vec<&str> = so.lines().filter(|l| l.starts_with("FAILED ")).collect();
    assert_eq!(failed.len(), 1, "{}", text(&out));
    assert!(
        failed[0].starts_with(&format!("FAILED {broken_name}: "))
            && failed[0].contains("already exists"),
        "{}",
        text(&out)
    );
    assert!(
        so.contains("base -> aaaa00000003  3 steps"),
        "{}",
        text(&out)
    );
    // The summary table: a header, one row per target in list order, counts.
    let header = so
        .lines()
        .position(|l| l.starts_with("target") && l.contains("outcome"))
        .expect("a summary table");
    let rows: Vec<&str> = so.lines().skip(header + 1).take(50).collect();
    assert!(rows[broken].starts_with(&broken_name), "{}", text(&out));
    assert!(rows[broken].contains("FAILED"), "{}", rows[broken]);
    assert!(
        rows[broken].contains("base") && rows[broken].contains("aaaa00000001"),
        "{}",
        rows[broken]
    );
    assert!(
        so.contains("50 target(s): 49 ok, 1 failed, 0 skipped"),
        "{so}"
    );
    let se = stderr(&out);
    assert!(
        se.contains("1 of 50 targets failed") && se.contains(&broken_name),
        "{se}"
    );
    for (i, d) in dbs.iter().enumerate() {
        if i == broken {
            // Consistent: at the step before the failing one, recorded so.
            assert_eq!(d.rows(), vec!["aaaa00000001"]);
            assert!(table_exists(d, "fleet_a") && !table_exists(d, "fleet_c"));
            let audit = d.audit();
            assert_eq!(audit.len(), 2, "{audit:?}");
            assert_eq!((audit[0].0.as_str(), audit[0].2), ("aaaa00000001", true));
            assert_eq!((audit[1].0.as_str(), audit[1].2), ("aaaa00000002", false));
        } else {
            assert_eq!(d.rows(), vec!["aaaa00000003"], "target {i}");
        }
    }
    // Fixed, a second run finishes the broken one; the others have nothing to do.
    dbs[broken]
        .client()
        .batch_execute("DROP TABLE fleet_b")
        .unwrap();
    let out = p.run(&[
        "upgrade",
        "heads",
        "--targets",
        &file,
        "--jobs",
        "8",
        "--database-url",
        &admin_url(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let so = stdout(&out);
    assert_eq!(
        so.lines()
            .filter(|l| l.contains("aaaa00000003 -> aaaa00000003  0 steps"))
            .count(),
        49,
        "{so}"
    );
    assert!(so.contains("aaaa00000001 -> aaaa00000003  2 steps"), "{so}");
    assert!(dbs.iter().all(|d| d.rows() == vec!["aaaa00000003"]));
    drop_all(dbs);
}

#[test]
fn a_broken_line_is_exit_2_naming_the_file_and_line_and_nothing_runs() {
    let p = project();
    let db = TestDb::create();
    let file = write_targets(
        &p,
        &format!(
            "{}\n# fine\nmysql://app:hunter2@db/shop\nnot a target\n",
            db.url
        ),
    );
    let out = p.run(&["upgrade", "heads", "--targets", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let se = stderr(&out);
    assert!(se.contains(&format!("{file}:line 3: ")), "{se}");
    assert!(se.contains(&format!("{file}:line 4: ")), "{se}");
    assert!(se.contains("not a PostgreSQL URL"), "{se}");
    assert!(!se.contains("hunter2"), "{se}");
    assert!(db.rows().is_empty(), "nothing may run on a bad list");
    // A bare database name needs a database URL to go into.
    let file = write_targets(&p, "shop\n");
    let out = p.run(&["upgrade", "heads", "--targets", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("line 1: 'shop' is a database name"),
        "{}",
        text(&out)
    );
    // An empty list, and fleet options without a list.
    let file = write_targets(&p, "# nobody yet\n\n");
    let out = p.run(&["upgrade", "heads", "--targets", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("lists no targets"), "{}", text(&out));
    let out = p.run(&["upgrade", "heads", "--jobs", "4", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("--jobs only apply to a fleet run"),
        "{}",
        text(&out)
    );
    // A target no database could reach is refused before any is contacted.
    let file = write_targets(&p, &format!("{}\n", db.url));
    let out = p.run(&["upgrade", "ffff", "--targets", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(db.rows().is_empty());
}

#[test]
fn an_unreachable_target_is_reported_masked_and_the_rest_continue() {
    let p = project();
    let dbs = databases(2);
    let file = write_targets(
        &p,
        &format!(
            "{}\ndown: postgresql://app:sekrit99@127.0.0.1:1/nowhere?connect_timeout=3\n{}\n",
            dbs[0].url, dbs[1].url
        ),
    );
    let out = p.run(&["upgrade", "heads", "--targets", &file, "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let all = text(&out);
    assert!(!all.contains("sekrit99"), "{all}");
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("FAILED down: ") && l.contains("cannot connect")),
        "{all}"
    );
    assert!(
        stderr(&out).contains("postgresql://app:***@127.0.0.1:1/nowhere"),
        "{all}"
    );
    assert!(
        dbs.iter().all(|d| d.rows() == vec!["aaaa00000003"]),
        "{all}"
    );
    drop_all(dbs);
}

#[test]
fn fail_fast_starts_no_target_after_the_first_failure() {
    let p = project();
    let dbs = databases(4);
    dbs[1]
        .client()
        .batch_execute("CREATE TABLE fleet_a (y int)")
        .unwrap();
    let list: String = dbs.iter().map(|d| format!("{}\n", d.url)).collect();
    let file = write_targets(&p, &list);
    let out = p.run(&[
        "upgrade",
        "heads",
        "--targets",
        &file,
        "--jobs",
        "1",
        "--fail-fast",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(dbs[0].rows(), vec!["aaaa00000003"]);
    assert!(dbs[1].rows().is_empty());
    assert!(dbs[2].rows().is_empty() && dbs[3].rows().is_empty());
    let so = stdout(&out);
    assert_eq!(so.matches("skipped (--fail-fast)").count(), 2, "{so}");
    assert!(
        so.contains("4 target(s): 1 ok, 1 failed, 2 skipped"),
        "{so}"
    );
    assert!(
        stderr(&out).contains("2 not started (--fail-fast)"),
        "{}",
        text(&out)
    );
    // Without it, the others go on.
    let out = p.run(&["upgrade", "heads", "--targets", &file]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(dbs[2].rows() == vec!["aaaa00000003"] && dbs[3].rows() == vec!["aaaa00000003"]);
    drop_all(dbs);
}

#[test]
fn schemas_of_one_database_each_get_their_tables_and_version_table() {
    let p = project();
    let db = TestDb::create();
    db.client()
        .batch_execute("CREATE SCHEMA t1; CREATE SCHEMA t2; CREATE SCHEMA \"Tenant 3\";")
        .unwrap();
    let file = write_targets(&p, "t1\nt2\nthird: Tenant 3\n");
    let args = [
        "upgrade",
        "heads",
        "--targets",
        &file,
        "--schemas",
        "--jobs",
        "3",
        "--database-url",
        &db.url,
    ];
    let out = p.run(&args);
    assert!(out.status.success(), "{}", text(&out));
    let mut c = db.client();
    for schema in ["t1", "t2", "Tenant 3"] {
        let tables: Vec<String> = c
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
                &[&schema],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            tables,
            vec![
                "alembic_version",
                "fleet_a",
                "fleet_b",
                "fleet_c",
                "mergepoint_history"
            ],
            "schema {schema}"
        );
        let rows: Vec<String> = c
            .query(
                &format!(
                    "SELECT version_num::text FROM \"{}\".alembic_version",
                    schema
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(rows, vec!["aaaa00000003"]);
    }
    let public: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(public, 0, "nothing may land in public");
    // current shows each schema; a second run has nothing to do.
    let out = p.run(&[
        "current",
        "--targets",
        &file,
        "--schemas",
        "--database-url",
        &db.url,
        "--check-heads",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let so = stdout(&out);
    assert!(so.contains("3 target(s): 3 at heads"), "{so}");
    assert!(
        so.lines()
            .any(|l| l.starts_with("third") && l.contains("aaaa00000003")),
        "{so}"
    );
    let out = p.run(&args);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out).matches("0 steps").count(), 3, "{}", text(&out));
    // Down one step in every schema.
    let mut down = args;
    down[0] = "downgrade";
    down[1] = "-1";
    let out = p.run(&down);
    assert!(out.status.success(), "{}", text(&out));
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'fleet_c'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // A schema that does not exist fails alone.
    let file = write_targets(&p, "t1\nmissing\n");
    let out = p.run(&[
        "upgrade",
        "heads",
        "--targets",
        &file,
        "--schemas",
        "--database-url",
        &db.url,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stdout(&out).contains("FAILED missing: "), "{}", text(&out));
    assert!(
        stdout(&out).contains("ok  t1  aaaa00000002 -> aaaa00000003  1 step"),
        "{}",
        text(&out)
    );
}

#[test]
fn targets_query_lists_database_names_and_json_has_one_event_per_target() {
    let p = project();
    let dbs = databases(3);
    let names: Vec<String> = dbs.iter().map(|d| format!("'{}'", d.name)).collect();
    let query = format!(
        "SELECT datname FROM pg_database WHERE datname IN ({}) ORDER BY datname",
        names.join(", ")
    );
    let out = p.run(&[
        "upgrade",
        "aaaa00000002",
        "--targets-query",
        &query,
        "--database-url",
        &admin_url(),
        "--jobs",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{}", text(&out));
    let mut sorted: Vec<String> = dbs.iter().map(|d| d.name.clone()).collect();
    sorted.sort();
    for e in &events[..3] {
        assert_eq!(e["type"], "target");
        assert_eq!(e["outcome"], "ok");
        assert_eq!(e["steps"], 2);
        assert_eq!(e["from"], serde_json::json!([]));
        assert_eq!(e["to"], serde_json::json!(["aaaa00000002"]));
        assert!(e["error"].is_null());
        let name = e["target"].as_str().unwrap();
        let line = e["line"].as_u64().unwrap() as usize;
        assert_eq!(sorted[line - 1], name);
        assert_eq!(
            e["database"].as_str().unwrap(),
            with_dbname(&admin_url(), name)
        );
    }
    let s = &events[3];
    assert_eq!(s["type"], "summary");
    assert_eq!(
        (
            s["targets"].as_u64(),
            s["ok"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(s["command"], "upgrade");
    assert!(dbs.iter().all(|d| d.rows() == vec!["aaaa00000002"]));
    // A query of two columns is refused, naming the problem.
    let out = p.run(&[
        "upgrade",
        "heads",
        "--targets-query",
        "SELECT 1, 2",
        "--database-url",
        &admin_url(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stderr(&out).contains("returns 2 columns"), "{}", text(&out));
    drop_all(dbs);
}

#[test]
fn current_targets_shows_where_every_target_stands() {
    let p = project();
    let dbs = databases(3);
    let one = p.run(&["upgrade", "aaaa00000001", "--database-url", &dbs[1].url]);
    assert!(one.status.success(), "{}", text(&one));
    let all = p.run(&["upgrade", "heads", "--database-url", &dbs[2].url]);
    assert!(all.status.success(), "{}", text(&all));
    let file = write_targets(
        &p,
        &format!(
            "zero: {}\none: {}\nall: {}\n",
            dbs[0].url, dbs[1].url, dbs[2].url
        ),
    );
    let out = p.run(&["current", "--targets", &file, "--jobs", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let so = stdout(&out);
    let line = |name: &str| {
        so.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {so}"))
            .to_string()
    };
    assert!(
        line("zero ").contains("base") && line("zero ").contains("not at heads"),
        "{so}"
    );
    assert!(line("one ").contains("aaaa00000001"), "{so}");
    assert!(
        line("all ").contains("aaaa00000003") && line("all ").contains("at heads"),
        "{so}"
    );
    assert!(
        so.contains("3 target(s): 1 at heads (aaaa00000003), 2 not at heads, 0 failed"),
        "{so}"
    );
    let out = p.run(&["current", "--targets", &file, "--check-heads"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("2 of 3 targets are not at the graph's heads"),
        "{}",
        text(&out)
    );
    let out = p.run(&["current", "--targets", &file, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["heads"], serde_json::json!(["aaaa00000003"]));
    let t = v["targets"].as_array().unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t[0]["target"], "zero");
    assert_eq!(t[0]["rows"], serde_json::json!([]));
    assert_eq!(t[0]["at_heads"], false);
    assert_eq!(t[2]["at_heads"], true);
    // An unreachable target: listed, exit 3.
    let file = write_targets(
        &p,
        &format!("{}\npostgresql://x:pw9@127.0.0.1:1/db\n", dbs[2].url),
    );
    let out = p.run(&["current", "--targets", &file]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout(&out).contains("FAILED: cannot connect"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("pw9"), "{}", text(&out));
    drop_all(dbs);
}

#[test]
fn lock_timeouts_alone_are_exit_4() {
    let p = project();
    let dbs = databases(2);
    // Another runner holds the migration lock of the first target.
    let key = mergepoint::db::lock_key("public", "alembic_version");
    let mut holder = dbs[0].client();
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let file = write_targets(&p, &format!("{}\n{}\n", dbs[0].url, dbs[1].url));
    let out = p.run(&[
        "upgrade",
        "heads",
        "--targets",
        &file,
        "--lock-timeout",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let locked = events
        .iter()
        .find(|e| e["line"] == 1)
        .expect("an event for the locked target");
    assert_eq!(locked["outcome"], "failed");
    assert_eq!(locked["exit_code"], 4);
    assert!(locked["error"].as_str().unwrap().contains("migration lock"));
    assert_eq!(dbs[1].rows(), vec!["aaaa00000003"]);
    assert!(dbs[0].rows().is_empty());
    drop(holder);
    drop_all(dbs);
}
