//! The example shop project in revisions/ does what the README says: two
//! merged feature branches and one open branch, SQL that applies and
//! reverses cleanly on a real PostgreSQL, and `coupons@-2` removing the open
//! branch only.

mod common;

use common::pg::TestDb;
use std::path::Path;
use std::process::{Command, Output};

fn mergepoint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mergepoint"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = mergepoint(args);
    assert!(
        out.status.success(),
        "mergepoint {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_example_graph_has_merged_and_open_branches() {
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mergepoint.yaml")
        .exists());
    let history: serde_json::Value = serde_json::from_str(&ok(&["history", "--json"])).unwrap();
    let revs = history.as_array().unwrap();
    assert!(revs.len() >= 10, "a small but real schema");
    let count = |flag: &str| revs.iter().filter(|r| r[flag] == true).count();
    assert_eq!(count("is_head"), 2, "one open branch beside the trunk");
    assert!(count("is_mergepoint") >= 1, "feature branches were merged");
    assert!(count("is_branchpoint") >= 2);
    // The CI gate fails on it, with the documented exit code.
    assert_eq!(mergepoint(&["heads", "--check"]).status.code(), Some(1));
    assert_eq!(mergepoint(&["check"]).status.code(), Some(1));
    // A transactional: false revision (CREATE INDEX CONCURRENTLY) is there.
    let files = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("revisions")).unwrap();
    let non_tx = files
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .filter(|t| t.contains("transactional: false") && t.contains("CONCURRENTLY"))
        .count();
    assert_eq!(non_tx, 1);
}

#[test]
fn the_example_applies_and_reverses_on_postgresql() {
    let db = TestDb::create();
    let url = db.url.as_str();
    ok(&["upgrade", "heads", "--database-url", url]);
    let at_heads = db.schema_dump();
    assert!(at_heads.contains("rel coupons"), "{at_heads}");
    let heads: Vec<String> = {
        let v: serde_json::Value = serde_json::from_str(&ok(&["heads", "--json"])).unwrap();
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["revision"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(db.rows(), heads);
    assert_eq!(
        mergepoint(&["current", "--check-heads", "--database-url", url])
            .status
            .code(),
        Some(0)
    );

    // The README's "remove the open coupons branch only".
    ok(&["downgrade", "coupons@-2", "--database-url", url]);
    let without_coupons = db.schema_dump();
    assert!(
        !without_coupons.contains("rel coupons"),
        "{without_coupons}"
    );
    assert!(
        without_coupons.contains("rel payments"),
        "{without_coupons}"
    );
    assert_eq!(db.rows().len(), 1);
    assert_eq!(
        mergepoint(&["current", "--check-heads", "--database-url", url])
            .status
            .code(),
        Some(1)
    );

    // Back up, then all the way down: every downgrade reverses its upgrade.
    ok(&["upgrade", "heads", "--database-url", url]);
    assert_eq!(db.schema_dump(), at_heads);
    ok(&["downgrade", "base", "--database-url", url]);
    assert_eq!(
        db.schema_dump(),
        "",
        "downgrade to base leaves an empty schema"
    );
    assert!(db.rows().is_empty());
}
