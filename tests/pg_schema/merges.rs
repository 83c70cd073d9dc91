//! Merges proven safe: `merge --verify` and `check --merges` through the
//! real binary, on the dev server of the tests: branches that fail in one
//! order, branches whose order changes a default or a view (refused, the
//! objects named, no file written), independent branches (merged), and
//! the shipped example.

use crate::common::pg::admin_url;
use crate::common::project::{text, Project};
use std::process::Output;

fn mp(project: &Project, args: &[&str]) -> Output {
    let mut c = project.cmd(args);
    c.env_remove("MERGEPOINT_DEV_URL");
    c.output().unwrap()
}

fn merge_verify(project: &Project) -> Output {
    let dev = admin_url();
    mp(
        project,
        &[
            "merge",
            "heads",
            "-m",
            "join",
            "--verify",
            "--dev-url",
            &dev,
        ],
    )
}

fn revision_files(project: &Project) -> usize {
    std::fs::read_dir(project.path().join("revisions"))
        .unwrap()
        .count()
}

/// A base table and two branches on it: `a` and `b`, each one revision.
fn two_branches(a_up: &str, a_down: &str, b_up: &str, b_down: &str) -> Project {
    let p = Project::new();
    p.rev(
        "000000000001",
        &[],
        true,
        "CREATE TABLE items (id int PRIMARY KEY, price int DEFAULT 0);",
        "DROP TABLE items;",
    );
    p.rev("aaaaaaaaaaaa", &["000000000001"], true, a_up, a_down);
    p.rev("bbbbbbbbbbbb", &["000000000001"], true, b_up, b_down);
    p
}

#[test]
fn branches_adding_the_same_column_are_refused_naming_the_failing_revision() {
    let p = two_branches(
        "ALTER TABLE items ADD COLUMN note text;",
        "ALTER TABLE items DROP COLUMN note;",
        "ALTER TABLE items ADD COLUMN note varchar(20);",
        "ALTER TABLE items DROP COLUMN note;",
    );
    let out = merge_verify(&p);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    // Each order fails at the second branch's revision.
    assert!(
        t.contains("aaaaaaaaaaaa then bbbbbbbbbbbb: FAILED: revision bbbbbbbbbbbb failed:"),
        "{t}"
    );
    assert!(
        t.contains("bbbbbbbbbbbb then aaaaaaaaaaaa: FAILED: revision aaaaaaaaaaaa failed:"),
        "{t}"
    );
    assert!(
        t.contains("column \"note\" of relation \"items\" already exists"),
        "{t}"
    );
    assert!(t.contains("2 of 2 orders"), "{t}");
    assert!(t.contains("no merge revision was written"), "{t}");
    assert_eq!(revision_files(&p), 3, "no merge file: {t}");
}

#[test]
fn branches_whose_order_changes_a_default_are_refused_naming_the_table() {
    let p = two_branches(
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 1;",
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 0;",
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 2;",
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 0;",
    );
    let out = merge_verify(&p);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("leaves a different schema"), "{t}");
    assert!(
        t.contains("SET DEFAULT 1"),
        "the difference is printed: {t}"
    );
    assert!(
        t.contains("the branches do not commute: the order changes table public.items"),
        "{t}"
    );
    assert!(
        t.contains("objects more than one branch changes: table public.items"),
        "{t}"
    );
    assert_eq!(revision_files(&p), 3, "no merge file: {t}");
}

#[test]
fn branches_whose_order_changes_a_view_are_refused() {
    let p = two_branches(
        "CREATE OR REPLACE VIEW priced AS SELECT id, price FROM items WHERE price > 0;",
        "DROP VIEW priced;",
        "CREATE OR REPLACE VIEW priced AS SELECT id, price FROM items WHERE price > 10;",
        "DROP VIEW priced;",
    );
    let out = merge_verify(&p);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("the order changes view public.priced"), "{t}");
    assert_eq!(revision_files(&p), 3, "no merge file: {t}");
}

#[test]
fn independent_branches_are_merged() {
    let p = two_branches(
        "ALTER TABLE items ADD COLUMN note text;\nCREATE INDEX items_note ON items (note);",
        "ALTER TABLE items DROP COLUMN note;",
        "CREATE TABLE tags (id int PRIMARY KEY, item_id int REFERENCES items (id));",
        "DROP TABLE tags;",
    );
    let out = merge_verify(&p);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("applied from 000000000001 in 2 orders"), "{t}");
    assert!(t.contains("ok: the branches commute"), "{t}");
    assert!(t.contains("Created merge revision"), "{t}");
    assert_eq!(revision_files(&p), 4, "{t}");
    // The merge is a revision like any other: one head now, and the check
    // of every merge in the graph passes.
    let dev = admin_url();
    let check = mp(&p, &["check", "--merges", "--dev-url", &dev]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).contains("ok: the branches commute"),
        "{}",
        text(&check)
    );
}

#[test]
fn check_merges_reports_a_merge_revision_whose_branches_do_not_commute() {
    let p = two_branches(
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 1;",
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 0;",
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 2;",
        "ALTER TABLE items ALTER COLUMN price SET DEFAULT 0;",
    );
    // Merged without --verify, as a team would before this check existed.
    p.rev(
        "cccccccccccc",
        &["aaaaaaaaaaaa", "bbbbbbbbbbbb"],
        true,
        "",
        "",
    );
    let dev = admin_url();
    let out = mp(&p, &["check", "--merges", "--json", "--dev-url", &dev]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect(&t);
    assert_eq!(report["ok"], false, "{t}");
    assert_eq!(report["problems"][0]["kind"], "merge_not_commuting", "{t}");
    let merge = &report["merges"][0];
    assert_eq!(merge["revision"], "cccccccccccc", "{t}");
    assert_eq!(merge["commutes"], false, "{t}");
    assert_eq!(merge["differing"][0], "table public.items", "{t}");
    assert_eq!(merge["orders"].as_array().unwrap().len(), 2, "{t}");
}

#[test]
fn merge_verify_without_a_dev_server_says_how_to_configure_one() {
    let p = two_branches("SELECT 1;", "SELECT 1;", "SELECT 2;", "SELECT 2;");
    let out = mp(&p, &["merge", "heads", "-m", "join", "--verify"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("none is configured; nothing was checked"), "{t}");
    assert!(t.contains("--dev-url"), "{t}");
    assert_eq!(revision_files(&p), 3, "{t}");
}

#[test]
fn the_shipped_example_merge_commutes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dev = admin_url();
    let out = std::process::Command::new(crate::common::project::bin())
        .current_dir(root)
        .env_remove("MERGEPOINT_DEV_URL")
        .env_remove("DATABASE_URL")
        .args(["check", "--merges", "--json", "--dev-url", &dev])
        .output()
        .unwrap();
    let t = text(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect(&t);
    let merges = report["merges"].as_array().expect(&t);
    assert!(!merges.is_empty(), "the example has a merge revision: {t}");
    for m in merges {
        assert_eq!(m["commutes"], true, "{t}");
    }
    // Its only problem is the two heads the README's tour merges.
    for p in report["problems"].as_array().unwrap() {
        assert_eq!(p["kind"], "multiple_heads", "{t}");
    }
}
