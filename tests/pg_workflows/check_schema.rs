//! `mergepoint check --schema`: changes made by hand in a database (an
//! added index, a dropped column, an altered default) are found (exit 1)
//! and printed as SQL with hazards; a clean database is reported clean; the
//! schema compared is the one the database's own rows build.

use crate::common::pg::{psql_apply, TestDb};
use crate::common::project::{text, Project};
use crate::{alembic_project, mp, mp_in, stderr, stdout};

fn shop() -> Project {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text DEFAULT 'none');",
        "DROP TABLE customers;",
    );
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id), note text);\nCREATE INDEX orders_customer_idx ON orders (customer_id);",
        "DROP TABLE orders;",
    );
    p
}

fn upgraded(p: &Project, target: &str) -> TestDb {
    let db = TestDb::create();
    let up = p.run(&["upgrade", target, "--database-url", &db.url]);
    assert!(up.status.success(), "{}", text(&up));
    db
}

/// `check --schema --json` on `db`: the report, after asserting the exit
/// code.
fn check_schema_json(p: &Project, db: &TestDb, code: i32) -> serde_json::Value {
    let out = mp(
        p,
        &["check", "--schema", "--json", "--database-url", &db.url],
    );
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_clean_database_is_reported_clean() {
    let p = shop();
    let db = upgraded(&p, "head");
    let out = mp(&p, &["check", "--schema", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).starts_with("ok:"), "{}", text(&out));
    let v = check_schema_json(&p, &db, 0);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        v["schema"]["rows"],
        serde_json::json!(["bbbb00000002"]),
        "{v}"
    );
    assert_eq!(v["schema"]["statements"], serde_json::json!([]), "{v}");
    // A database at an older revision is compared with that revision's
    // schema, not the head's.
    let older = upgraded(&p, "aaaa00000001");
    let out = mp(&p, &["check", "--schema", "--database-url", &older.url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn hand_changes_are_found_and_printed_as_sql_with_hazards() {
    let p = shop();
    let db = upgraded(&p, "head");
    psql_apply(
        &db.url,
        "CREATE INDEX customers_name_by_hand ON customers (name);\n\
         ALTER TABLE orders DROP COLUMN note;\n\
         ALTER TABLE customers ALTER COLUMN email SET DEFAULT 'changed';\n",
    );
    let out = mp(&p, &["check", "--schema", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let so = stdout(&out);
    assert!(so.contains("schema_drift:"), "{}", text(&out));
    assert!(
        so.contains("CREATE INDEX customers_name_by_hand"),
        "{}",
        text(&out)
    );
    assert!(so.contains("DROP COLUMN note"), "{}", text(&out));
    assert!(so.contains("-- hazard: data_loss"), "{}", text(&out));
    assert!(so.contains("SET DEFAULT 'changed'"), "{}", text(&out));
    // mergepoint's own tables are not drift.
    assert!(!so.contains("alembic_version"), "{}", text(&out));
    assert!(!so.contains("mergepoint_history"), "{}", text(&out));

    let v = check_schema_json(&p, &db, 1);
    assert_eq!(v["ok"], false, "{v}");
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "schema_drift"),
        "{v}"
    );
    let statements = v["schema"]["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 3, "{v}");
    let drop = statements
        .iter()
        .find(|s| s["sql"].as_str().unwrap().contains("DROP COLUMN note"))
        .expect("the dropped column");
    assert!(
        drop["hazards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "data_loss"),
        "{v}"
    );

    // --schema-name limits the comparison.
    psql_apply(
        &db.url,
        "CREATE SCHEMA other; CREATE TABLE other.x (a int);\n",
    );
    let out = mp(
        &p,
        &[
            "check",
            "--schema",
            "--schema-name",
            "other",
            "--database-url",
            &db.url,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("other.x"), "{}", text(&out));
    assert!(!stdout(&out).contains("customers"), "{}", text(&out));
}

#[test]
fn a_version_row_that_is_not_a_revision_exits_2_naming_it() {
    let p = shop();
    let db = upgraded(&p, "head");
    psql_apply(
        &db.url,
        "UPDATE alembic_version SET version_num = 'ffff0000ffff';\n",
    );
    let out = mp(&p, &["check", "--schema", "--database-url", &db.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("ffff0000ffff"), "{}", text(&out));
}

#[test]
fn check_schema_on_an_alembic_project_says_it_needs_running_alembic_revisions() {
    let db = TestDb::create();
    let out = mp_in(
        &alembic_project(),
        &["check", "--schema", "--database-url", &db.url],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("cannot run yet"), "{}", text(&out));
}

/// The model the applied revisions build is kept between runs (the
/// built-schema cache) and used only while nothing it depends on changed:
/// a planted entry is what the next run compares with (so the cache is
/// really read), `MERGEPOINT_CACHE=off` builds afresh, and an edited
/// revision is built again instead of answered from the old entry.
#[test]
fn the_built_schema_is_kept_between_runs_and_rebuilt_when_a_revision_changes() {
    let p = shop();
    let db = upgraded(&p, "head");
    check_schema_json(&p, &db, 0);
    let entries: Vec<_> = std::fs::read_dir(p.cache_dir().join("schemas"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "one built schema kept: {entries:?}");
    // Plant the empty database's model under that key: the next run must
    // answer from it, so every table of the live database is drift.
    let empty =
        mergepoint::schema::built_cache::encode(&mergepoint::schema::Catalog::empty_database())
            .unwrap();
    std::fs::write(&entries[0], empty).unwrap();
    let v = check_schema_json(&p, &db, 1);
    let sql = v["schema"]["statements"].to_string();
    assert!(sql.contains("CREATE TABLE public.orders"), "{v}");
    // Off: built again on the dev server, clean.
    let mut c = p.cmd(&[
        "check",
        "--schema",
        "--database-url",
        &db.url,
        "--dev-url",
        &crate::common::pg::admin_url(),
    ]);
    let off = c.env("MERGEPOINT_CACHE", "off").output().unwrap();
    assert_eq!(off.status.code(), Some(0), "{}", text(&off));
    // An edited revision is a new key: built, and the live database (made
    // by the old SQL) now differs from it.
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id), note text, total int);\nCREATE INDEX orders_customer_idx ON orders (customer_id);",
        "DROP TABLE orders;",
    );
    let v = check_schema_json(&p, &db, 1);
    assert!(
        v["schema"]["statements"].to_string().contains("total"),
        "{v}"
    );
}
