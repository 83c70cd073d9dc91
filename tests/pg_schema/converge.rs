//! Convergence on real databases: for a pair of schemas (a.sql, b.sql),
//! load each into its own database, read both, plan `diff(A, B)`, apply
//! the script to A with psql, and require that A now reads exactly as B,
//! that no table present on both sides was recreated (same pg_class oid),
//! and that a second diff is empty.
//!
//! Runs every pair of the migra fixtures (both directions) and the pairs
//! below, one per object kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mergepoint::schema::read::{read_catalog, ReadOptions};
use mergepoint::schema::{diff, render, Catalog, DiffOptions, ObjectId};

use super::{db_with, ensure_role};
use crate::common::pg::{psql, TestDb};

/// Pairs that do not converge yet, by name (`migra/NAME a->b`), each for
/// a reason reported to the diff's owner. The test prints them; any
/// failure not listed fails the test. Keep it short.
const KNOWN_FAILING: &[&str] = &[];

/// Roles the fixtures grant to or write policies for.
const ROLES: &[&str] = &["schemainspect_test_role", "mp_converge_role"];

fn table_oids(db: &TestDb) -> BTreeMap<String, u32> {
    db.client()
        .query(
            "SELECT n.nspname || '.' || c.relname, c.oid FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')",
            &[],
        )
        .expect("list tables")
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn read(db: &TestDb, side: &str) -> Result<Catalog, String> {
    read_catalog(&mut db.client(), &ReadOptions::default())
        .map_err(|e| format!("reading {side}: {e}"))
}

/// What differs between two models, object by object.
fn describe_difference(got: &Catalog, want: &Catalog) -> String {
    let mut out = String::new();
    for (id, object) in &got.objects {
        match want.objects.get(id) {
            None => out.push_str(&format!("  only after applying: {id}\n")),
            Some(w) if w != object => out.push_str(&format!(
                "  differs: {id}\n    got  {object:?}\n    want {w:?}\n"
            )),
            _ => {}
        }
    }
    for id in want
        .objects
        .keys()
        .filter(|id| !got.objects.contains_key(id))
    {
        out.push_str(&format!("  missing after applying: {id}\n"));
    }
    out
}

/// Converges A (from `a`) onto B (from `b`); `Err` says what went wrong.
pub fn converge(a: &str, b: &str) -> Result<(), String> {
    let db_a = TestDb::create();
    let db_b = TestDb::create();
    for (db, sql, side) in [(&db_a, a, "a"), (&db_b, b, "b")] {
        let out = psql(&db.url, sql, true);
        if !out.status.success() {
            return Err(format!(
                "loading {side}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let from = read(&db_a, "A")?;
    let to = read(&db_b, "B")?;
    let oids_before = table_oids(&db_a);
    let plan = diff(&from, &to, &DiffOptions::default()).map_err(|e| format!("diff: {e}"))?;
    let script = render::script(&plan);
    let out = psql(&db_a.url, &script, true);
    if !out.status.success() {
        return Err(format!(
            "applying the script: {}--- script ---\n{script}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let after = read(&db_a, "A after the script")?;
    if after.objects != to.objects {
        return Err(format!(
            "A does not read as B after the script:\n{}--- script ---\n{script}",
            describe_difference(&after, &to)
        ));
    }
    let oids_after = table_oids(&db_a);
    for id in to.objects.keys().filter(|id| from.objects.contains_key(id)) {
        if let ObjectId::Table { name } = id {
            let key = name.to_string();
            if oids_before.get(&key) != oids_after.get(&key) {
                return Err(format!(
                    "table {key} was recreated (oid changed)\n--- script ---\n{script}"
                ));
            }
        }
    }
    let again =
        diff(&after, &to, &DiffOptions::default()).map_err(|e| format!("second diff: {e}"))?;
    if !again.is_empty() {
        return Err(format!(
            "the second diff is not empty:\n{}\n--- first script ---\n{script}",
            render::script(&again)
        ));
    }
    if after.depends != to.depends {
        let extra: Vec<_> = after.depends.difference(&to.depends).collect();
        let missing: Vec<_> = to.depends.difference(&after.depends).collect();
        println!("note: objects equal, depends differ: extra {extra:?}, missing {missing:?}");
    }
    Ok(())
}

/// Runs the named pairs, prints every outcome, and fails on any failure
/// not in [`KNOWN_FAILING`].
fn run_all(pairs: Vec<(String, String, String)>) {
    for role in ROLES {
        ensure_role(role);
    }
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|s| {
        let chunks: Vec<_> = pairs.chunks(pairs.len().div_ceil(2).max(1)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(name, a, b)| (name.clone(), converge(a, b)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a convergence thread panicked"))
            .collect()
    });
    let mut unexpected = Vec::new();
    for (name, result) in &results {
        match result {
            Ok(()) if KNOWN_FAILING.contains(&name.as_str()) => {
                println!("converges (remove it from KNOWN_FAILING): {name}")
            }
            Ok(()) => println!("converges: {name}"),
            Err(e) if KNOWN_FAILING.contains(&name.as_str()) => {
                println!("KNOWN FAILING: {name}: {}", e.lines().next().unwrap_or(""))
            }
            Err(e) => {
                println!("FAILS: {name}: {e}\n");
                unexpected.push(name.clone());
            }
        }
    }
    println!(
        "{} pairs, {} converge, known failing: {KNOWN_FAILING:?}",
        results.len(),
        results.iter().filter(|(_, r)| r.is_ok()).count()
    );
    assert!(
        unexpected.is_empty(),
        "pairs that do not converge: {unexpected:?}"
    );
}

fn fixtures_dir() -> PathBuf {
    std::env::var_os("MP_MIGRA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schema-fixtures/migra")
        })
}

#[test]
fn every_migra_fixture_pair_converges_both_ways() {
    let dir = fixtures_dir();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the migra fixtures at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("a.sql").is_file() && p.join("b.sql").is_file())
        .collect();
    names.sort();
    assert!(
        names.len() >= 26,
        "expected the 26 migra pairs in {}",
        dir.display()
    );
    let mut pairs = Vec::new();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let a = std::fs::read_to_string(path.join("a.sql")).unwrap();
        let b = std::fs::read_to_string(path.join("b.sql")).unwrap();
        pairs.push((format!("migra/{name} a->b"), a.clone(), b.clone()));
        pairs.push((format!("migra/{name} b->a"), b, a));
    }
    run_all(pairs);
}

#[test]
fn every_object_kind_converges_both_ways() {
    let mut pairs = Vec::new();
    for (name, a, b) in super::converge_pairs::PAIRS {
        pairs.push((format!("{name} a->b"), a.to_string(), b.to_string()));
        pairs.push((format!("{name} b->a"), b.to_string(), a.to_string()));
    }
    run_all(pairs);
}

#[test]
fn identical_schemas_plan_nothing() {
    let sql = "CREATE TABLE t (id serial PRIMARY KEY, x text); CREATE VIEW v AS SELECT x FROM t;";
    let a = db_with(sql);
    let b = db_with(sql);
    let (ca, cb) = (read(&a, "A").unwrap(), read(&b, "B").unwrap());
    assert_eq!(ca, cb);
    assert!(diff(&ca, &cb, &DiffOptions::default()).unwrap().is_empty());
}
