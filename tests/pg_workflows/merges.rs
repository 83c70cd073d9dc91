//! `merge --verify` and `check --merges`: branches that cannot both apply
//! (the same column added twice) and branches whose order changes the
//! schema (a default, a view) are refused with what failed or differs;
//! independent branches are merged; the shipped example's merge commutes.

use crate::common::project::{text, Project};
use crate::{alembic_project, mp, mp_in, repo_path, stderr, stdout};

/// A base creating t (and view v), and two branches off it.
fn branches(a_up: &str, a_down: &str, b_up: &str, b_down: &str) -> Project {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE t (id int PRIMARY KEY, x int);\nCREATE VIEW v AS SELECT id FROM t;",
        "DROP VIEW v;\nDROP TABLE t;",
    );
    p.rev("bbbb00000002", &["aaaa00000001"], true, a_up, a_down);
    p.rev("cccc00000003", &["aaaa00000001"], true, b_up, b_down);
    p
}

fn revision_files(p: &Project) -> usize {
    std::fs::read_dir(p.path().join("revisions"))
        .unwrap()
        .count()
}

#[test]
fn branches_that_add_the_same_column_are_refused_naming_the_revision_and_order() {
    let p = branches(
        "ALTER TABLE t ADD COLUMN note text;",
        "ALTER TABLE t DROP COLUMN note;",
        "ALTER TABLE t ADD COLUMN note text;",
        "ALTER TABLE t DROP COLUMN note;",
    );
    let out = mp(&p, &["merge", "heads", "-m", "merge", "--verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let so = stdout(&out);
    assert!(
        so.contains(
            "bbbb00000002 then cccc00000003: failed while applying the branch of cccc00000003"
        ),
        "{}",
        text(&out)
    );
    assert!(
        so.contains(
            "cccc00000003 then bbbb00000002: failed while applying the branch of bbbb00000002"
        ),
        "{}",
        text(&out)
    );
    assert!(so.contains("already exists"), "{}", text(&out));
    assert!(stderr(&out).contains("do not commute"), "{}", text(&out));
    assert_eq!(revision_files(&p), 3, "nothing written: {}", text(&out));
}

#[test]
fn branches_whose_order_changes_a_default_or_a_view_are_refused() {
    for (a, b, object) in [
        (
            "ALTER TABLE t ALTER COLUMN x SET DEFAULT 1;",
            "ALTER TABLE t ALTER COLUMN x SET DEFAULT 2;",
            "table public.t",
        ),
        (
            "CREATE OR REPLACE VIEW v AS SELECT id, 1 AS k FROM t;",
            "CREATE OR REPLACE VIEW v AS SELECT id, 2 AS k FROM t;",
            "view public.v",
        ),
    ] {
        let p = branches(a, "SELECT 1;", b, "SELECT 1;");
        let out = mp(&p, &["merge", "heads", "-m", "merge", "--verify"]);
        assert_eq!(out.status.code(), Some(1), "{a} / {b}: {}", text(&out));
        let so = stdout(&out);
        assert!(so.contains("leaves another schema"), "{}", text(&out));
        assert!(
            so.contains(&format!("objects more than one branch changes: {object}")),
            "{}",
            text(&out)
        );
        assert_eq!(revision_files(&p), 3, "nothing written: {}", text(&out));
        // check --merges finds the same on a merge already written.
        p.rev(
            "dddd00000004",
            &["bbbb00000002", "cccc00000003"],
            true,
            "SELECT 1;",
            "SELECT 1;",
        );
        let out = mp(&p, &["check", "--merges", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            v["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["kind"] == "merge_not_commuting"
                    && p["message"].as_str().unwrap().contains("dddd00000004")),
            "{v}"
        );
        let m = &v["merges"][0];
        assert_eq!(m["merge"], "dddd00000004", "{v}");
        assert_eq!(m["commutes"], false, "{v}");
        assert_eq!(m["common"], serde_json::json!(["aaaa00000001"]), "{v}");
        assert!(
            !m["orders"][1]["difference"].as_array().unwrap().is_empty(),
            "{v}"
        );
    }
}

#[test]
fn independent_branches_are_merged() {
    let p = branches(
        "CREATE TABLE a (id int);\nALTER TABLE t ADD COLUMN a int;",
        "ALTER TABLE t DROP COLUMN a;\nDROP TABLE a;",
        "CREATE TABLE b (id int);\nALTER TABLE t ADD COLUMN b int;\nCREATE INDEX t_x ON t (x);",
        "DROP INDEX t_x;\nALTER TABLE t DROP COLUMN b;\nDROP TABLE b;",
    );
    let out = mp(&p, &["merge", "heads", "-m", "merge", "--verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let so = stdout(&out);
    assert!(so.contains("the branches commute"), "{}", text(&out));
    assert!(so.contains("Created merge revision"), "{}", text(&out));
    assert_eq!(revision_files(&p), 4, "{}", text(&out));
    // Both change table t (each adds its own column), and that is listed,
    // though the orders agree.
    assert!(so.contains("table public.t"), "{}", text(&out));
    let out = mp(&p, &["check", "--merges"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn the_shipped_examples_merge_commutes() {
    let out = mp_in(&repo_path(""), &["check", "--merges", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    // The example has two heads on purpose (multiple_heads); no merge
    // problem.
    let kinds: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["multiple_heads"], "{v}");
    let merges = v["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 1, "{v}");
    assert_eq!(merges[0]["merge"], "d3b62046f92e", "{v}");
    assert_eq!(merges[0]["commutes"], true, "{v}");
}

#[test]
fn merge_checks_on_an_alembic_project_say_they_need_running_alembic_revisions() {
    for args in [
        &["merge", "heads", "-m", "m", "--verify"][..],
        &["check", "--merges"][..],
    ] {
        let out = mp_in(&alembic_project(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(stderr(&out).contains("cannot run yet"), "{}", text(&out));
    }
}
