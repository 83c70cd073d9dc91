//! `mergepoint verify`: every kind of failing revision is found and
//! reported (exit 1), a correct project passes (exit 0), the shipped
//! example passes, `--from` checks only what comes after it, `--json`, and
//! Alembic projects are refused (exit 2).

use crate::common::pg::admin_client;
use crate::common::project::{text, Project};
use crate::{alembic_project, mp, mp_in, repo_path, stderr, stdout};

/// aaaa creates t; bbbb adds an index and a column, and its downgrade
/// forgets the index; cccc is correct.
fn forgotten_index() -> Project {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE t (id int PRIMARY KEY, x int);",
        "DROP TABLE t;",
    );
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "CREATE INDEX t_x_idx ON t (x);\nALTER TABLE t ADD COLUMN y int;",
        "ALTER TABLE t DROP COLUMN y;",
    );
    p.rev(
        "cccc00000003",
        &["bbbb00000002"],
        true,
        "CREATE TABLE u (id int PRIMARY KEY);",
        "DROP TABLE u;",
    );
    p
}

#[test]
fn a_downgrade_that_forgets_an_index_is_reported_and_exits_1() {
    let p = forgotten_index();
    let out = mp(&p, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let so = stdout(&out);
    let line = |id: &str| {
        so.lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no line for {id}: {}", text(&out)))
            .to_string()
    };
    assert!(line("aaaa00000001").starts_with("ok "), "{}", text(&out));
    assert!(
        line("bbbb00000002").starts_with("FAILED "),
        "{}",
        text(&out)
    );
    // The walk goes on after the failure, on a rebuilt database.
    assert!(line("cccc00000003").starts_with("ok "), "{}", text(&out));
    // Each line has its times.
    assert!(line("aaaa00000001").contains(" ms"), "{}", text(&out));
    // The difference: what the downgrade lacks.
    assert!(so.contains("does not restore the schema"), "{}", text(&out));
    assert!(so.contains("DROP INDEX public.t_x_idx"), "{}", text(&out));
    assert!(so.contains("2 of 3 revisions passed"), "{}", text(&out));
    assert!(
        stderr(&out).contains("bbbb00000002 (not_restored)"),
        "{}",
        text(&out)
    );

    // Fixed, the project passes.
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "CREATE INDEX t_x_idx ON t (x);\nALTER TABLE t ADD COLUMN y int;",
        "ALTER TABLE t DROP COLUMN y;\nDROP INDEX t_x_idx;",
    );
    let out = mp(&p, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("3 of 3 revisions passed"),
        "{}",
        text(&out)
    );
}

#[test]
fn every_kind_of_failure_is_reported_in_json() {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE t (id int);",
        "DROP TABLE t;",
    );
    // A downgrade that sets another default instead of dropping it.
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "ALTER TABLE t ALTER COLUMN id SET DEFAULT 1;",
        "ALTER TABLE t ALTER COLUMN id SET DEFAULT 2;",
    );
    // No downgrade at all.
    p.rev(
        "cccc00000003",
        &["bbbb00000002"],
        true,
        "CREATE TABLE c (x int);",
        "",
    );
    // A downgrade that fails.
    p.rev(
        "dddd00000004",
        &["cccc00000003"],
        true,
        "CREATE TABLE d (x int);",
        "DROP TABLE no_such_table;",
    );
    // A correct one after the failures, checked on a rebuilt database.
    p.rev(
        "eeee00000005",
        &["dddd00000004"],
        true,
        "CREATE TABLE e (x int);",
        "DROP TABLE e;",
    );
    // An upgrade that fails: the walk stops, gggg is not checked.
    p.rev(
        "ffff00000006",
        &["eeee00000005"],
        true,
        "ALTER TABLE nope ADD x int;",
        "SELECT 1;",
    );
    p.rev(
        "aaaa00000007",
        &["ffff00000006"],
        true,
        "SELECT 1;",
        "SELECT 1;",
    );
    let out = mp(&p, &["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(v["ok"], false, "{v}");
    let outcome = |id: &str| {
        v["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["revision"] == id)
            .unwrap_or_else(|| panic!("no {id} in {v}"))
            .clone()
    };
    assert_eq!(outcome("aaaa00000001")["outcome"], "ok", "{v}");
    let b = outcome("bbbb00000002");
    assert_eq!(b["outcome"], "not_restored", "{v}");
    let diff = b["difference"].as_array().unwrap();
    assert!(
        diff.iter().any(|s| s["sql"]
            .as_str()
            .unwrap()
            .contains("ALTER COLUMN id DROP DEFAULT")),
        "{v}"
    );
    assert_eq!(
        outcome("cccc00000003")["outcome"],
        "missing_downgrade",
        "{v}"
    );
    let d = outcome("dddd00000004");
    assert_eq!(d["outcome"], "downgrade_failed", "{v}");
    assert!(
        d["error"].as_str().unwrap().contains("no_such_table"),
        "{v}"
    );
    assert_eq!(outcome("eeee00000005")["outcome"], "ok", "{v}");
    let f = outcome("ffff00000006");
    assert_eq!(f["outcome"], "upgrade_failed", "{v}");
    assert!(f["error"].as_str().unwrap().contains("nope"), "{v}");
    assert_eq!(v["not_checked"], serde_json::json!(["aaaa00000007"]), "{v}");
    // A failed step's error is that step's, not a summary of the walk's
    // run (which applied and undid many steps before it).
    for r in [&d, &f] {
        let error = r["error"].as_str().unwrap();
        assert!(!error.contains("this run"), "{error}");
        assert!(error.lines().count() <= 2, "{error}");
    }
    assert_eq!(v["checked"], 6, "{v}");
    assert_eq!(v["failed"], 4, "{v}");
    for r in v["revisions"].as_array().unwrap() {
        assert!(
            r["upgrade_ms"].is_number() && r["total_ms"].is_number(),
            "{r}"
        );
    }
}

#[test]
fn an_upgrade_that_cannot_run_twice_is_reported() {
    // The downgrade restores the schema but leaves a row behind that makes
    // the second upgrade fail.
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE t (id int);",
        "DROP TABLE t;",
    );
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "CREATE TABLE marker (x int);\nINSERT INTO t VALUES (1);\nCREATE UNIQUE INDEX t_id ON t (id);",
        "DROP TABLE marker;\nDROP INDEX t_id;",
    );
    let out = mp(&p, &["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &v["revisions"][1];
    assert_eq!(b["outcome"], "reupgrade_failed", "{v}");
    assert!(b["error"].as_str().unwrap().contains("t_id"), "{v}");
}

#[test]
fn from_checks_only_the_revisions_after_it() {
    let p = forgotten_index();
    let out = mp(&p, &["verify", "--from", "bbbb00000002"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let so = stdout(&out);
    assert!(!so.contains("bbbb00000002 "), "{}", text(&out));
    assert!(
        so.contains("1 of 1 revision passed (2 built first, unchecked)"),
        "{}",
        text(&out)
    );
    // --to stops early: the bad revision is the last one checked.
    let out = mp(&p, &["verify", "--to", "bbbb"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!stdout(&out).contains("cccc00000003"), "{}", text(&out));
    // An identifier that does not resolve: exit 2, naming it.
    let out = mp(&p, &["verify", "--from", "ffff"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("ffff"), "{}", text(&out));
}

#[test]
fn the_shipped_example_passes_and_leaves_no_temporary_database() {
    let dev = crate::common::pg::admin_url();
    let child = std::process::Command::new(crate::common::project::bin())
        .arg("--dir")
        .arg(repo_path(""))
        .args(["verify", "--dev-url", dev.as_str()])
        .env_remove("MERGEPOINT_DEV_URL")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let files = std::fs::read_dir(repo_path("revisions")).unwrap().count();
    let oks = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("ok "))
        .count();
    assert_eq!(oks, files, "{}", text(&out));
    let left: i64 = admin_client()
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE $1",
            &[&format!("mergepoint_tmp_{pid}_%")],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn verify_on_an_alembic_project_says_it_needs_running_alembic_revisions() {
    let out = mp_in(&alembic_project(), &["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("cannot run yet"), "{}", text(&out));
}
