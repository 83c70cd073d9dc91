//! 10,000-revision graphs build, order and plan correctly. Correctness
//! only: speed is measured by scripts/bench, not asserted here.

use mergepoint::graph::{Revision, RevisionGraph};
use std::time::Instant;

/// A "team" graph: a trunk that every ~10 revisions forks into three short
/// branches which a merge revision then joins.
fn team_graph(n: usize) -> Vec<Revision> {
    let id = |i: usize| {
        format!(
            "{:012x}",
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
        )
    };
    let mut revs: Vec<Revision> = Vec::with_capacity(n);
    let mut tip: Option<String> = None;
    let mut i = 0;
    while i < n {
        let parent: Vec<String> = tip.iter().cloned().collect();
        if n - i >= 8 && i % 10 == 0 && tip.is_some() {
            // Fork: three branches of two revisions, then a merge.
            let mut ends = Vec::new();
            for _ in 0..3 {
                let a = id(i);
                revs.push(Revision {
                    id: a.clone(),
                    parents: parent.clone(),
                    ..Default::default()
                });
                let b = id(i + 1);
                revs.push(Revision {
                    id: b.clone(),
                    parents: vec![a],
                    ..Default::default()
                });
                ends.push(b);
                i += 2;
            }
            let m = id(i);
            revs.push(Revision {
                id: m.clone(),
                parents: ends,
                ..Default::default()
            });
            tip = Some(m);
            i += 1;
        } else {
            let r = id(i);
            revs.push(Revision {
                id: r.clone(),
                parents: parent,
                ..Default::default()
            });
            tip = Some(r);
            i += 1;
        }
    }
    revs.sort_by(|a, b| a.id.cmp(&b.id));
    revs
}

fn linear_graph(n: usize) -> Vec<Revision> {
    (0..n)
        .map(|i| Revision {
            id: format!("{i:012x}"),
            parents: if i == 0 {
                vec![]
            } else {
                vec![format!("{:012x}", i - 1)]
            },
            ..Default::default()
        })
        .collect()
}

fn check(revs: Vec<Revision>) {
    let n = revs.len();
    let started = Instant::now();
    let g = RevisionGraph::build(revs).unwrap();
    assert_eq!(g.heads().len(), 1);
    let history = g.history(None).unwrap();
    assert_eq!(history.len(), n);
    let up = g.plan_upgrade(&[], "heads").unwrap();
    assert_eq!(up.steps.len(), n);
    let mut applied = vec![false; n];
    for step in &up.steps {
        let ix = g.find(&step.revision).unwrap();
        assert!(
            g.parents(ix).iter().all(|&p| applied[p]),
            "{} before a parent",
            step.revision
        );
        applied[ix] = true;
    }
    let down = g.plan_downgrade(&up.end_heads, "base").unwrap();
    assert!(down
        .steps
        .iter()
        .map(|s| &s.revision)
        .eq(up.steps.iter().rev().map(|s| &s.revision)));
    let mid = g.id(history[n / 2]).to_string();
    let partial = g.plan_upgrade(&[mid], "heads").unwrap();
    assert!(!partial.steps.is_empty() && partial.steps.len() < n);
    eprintln!(
        "{n} revisions: build + history + 3 plans in {:?}",
        started.elapsed()
    );
}

#[test]
fn ten_thousand_team_revisions_plan_correctly() {
    let revs = team_graph(10_000);
    assert_eq!(revs.len(), 10_000);
    check(revs);
}

#[test]
fn ten_thousand_linear_revisions_plan_correctly() {
    check(linear_graph(10_000));
}

#[test]
fn a_ten_thousand_long_cycle_is_reported_not_a_crash() {
    let mut revs = linear_graph(10_000);
    revs[0].parents = vec![format!("{:012x}", 9_999)];
    let err = RevisionGraph::build(revs).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    let text = err.to_string();
    assert!(
        text.starts_with("cycle in the revision graph: 000000000000 -> 00000000270f"),
        "{}",
        &text[..200]
    );
}
