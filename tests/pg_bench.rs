//! Benchmarks (ignored by default; run with
//! `cargo test --release --test pg_bench -- --ignored --nocapture`):
//! per-revision overhead of the runner over 1,000 trivial revisions, and a
//! no-op `upgrade heads` at 10,000 revisions.

mod common;

use common::pg::{FixtureBuilder, TestDb};
use mergepoint::db::{upgrade, RunOptions};
use std::time::Instant;

fn trivial_line(n: usize) -> common::pg::Fixture {
    let ids: Vec<String> = (1..=n).map(|i| format!("r{i:011}")).collect();
    let mut b = FixtureBuilder::default();
    for (i, id) in ids.iter().enumerate() {
        let parents: Vec<&str> = if i == 0 {
            vec![]
        } else {
            vec![ids[i - 1].as_str()]
        };
        b = b.rev(id, &parents, "SELECT 1;", "SELECT 1;");
    }
    b.build()
}

fn run_once(n: usize, per_run: bool, url_suffix: &str) -> (f64, f64) {
    let db = TestDb::create();
    let f = trivial_line(n);
    let url = format!("{}{url_suffix}", db.url);
    let mut conn = mergepoint::db::Database::connect(&url).unwrap();
    let opts = RunOptions {
        transaction_per_run: per_run,
        ..RunOptions::default()
    };
    let started = Instant::now();
    upgrade(
        &mut conn,
        &f.graph,
        "heads",
        &f.sql,
        &opts,
        |_: &mergepoint::graph::Step, _: std::time::Duration| {},
    )
    .unwrap();
    let total = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(db.audit().len(), n);
    // A bare write transaction per revision on the same server: the floor
    // set by the server's commit (WAL flush), whatever the client does.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("CREATE TABLE bare (x int)").unwrap();
    let raw = Instant::now();
    let commits = if per_run { 1 } else { n };
    for _ in 0..commits {
        c.batch_execute("BEGIN; INSERT INTO bare VALUES (1); COMMIT;")
            .unwrap();
    }
    let raw = raw.elapsed().as_secs_f64() * 1e3;
    (total / n as f64, raw / n as f64)
}

#[test]
#[ignore]
fn bench_per_revision_overhead() {
    let n = 1000;
    for (label, per_run, suffix) in [
        ("one transaction per revision", false, ""),
        (
            "one transaction per revision, synchronous_commit=off",
            false,
            "?options=-c%20synchronous_commit%3Doff",
        ),
        ("--transaction-per-run", true, ""),
    ] {
        let (per_rev, floor) = run_once(n, per_run, suffix);
        println!(
            "{n} trivial revisions, {label}: {per_rev:.3} ms per revision; a bare commit costs {floor:.3} ms per revision; mergepoint overhead {:.3} ms",
            per_rev - floor
        );
    }
}

#[test]
#[ignore]
fn bench_noop_upgrade_at_10000() {
    let n = 10_000;
    let db = TestDb::create();
    let f = trivial_line(n);
    let head = format!("r{n:011}");
    let mut conn = db.database();
    mergepoint::db::stamp(&mut conn, &f.graph, &RunOptions::default(), false, |_| {
        Ok(vec![head.clone()])
    })
    .unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut c2 = db.database();
        let out = upgrade(
            &mut c2,
            &f.graph,
            "heads",
            &f.sql,
            &RunOptions::default(),
            |_: &mergepoint::graph::Step, _: std::time::Duration| {},
        )
        .unwrap();
        assert!(out.plan.steps.is_empty());
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "no-op upgrade heads at {n} revisions (connect + lock + read + plan): median {:.1} ms, min {:.1} ms",
        times[2], times[0]
    );
}
