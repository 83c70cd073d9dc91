//! Property tests of the graph core on random DAGs: structure, plans,
//! version-table bookkeeping and relative identifiers.

use mergepoint::graph::{Direction, Revision, RevisionGraph};
use proptest::prelude::*;
use std::collections::HashSet;

/// A random DAG: revision `i` may only have parents and dependencies among
/// revisions created before it, so it is acyclic by construction. Ids are
/// random hex so load order (sorted ids) differs from creation order.
fn arb_dag() -> impl Strategy<Value = Vec<Revision>> {
    (1usize..28)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(any::<u64>(), n),
                prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()), n),
            )
        })
        .prop_map(|(seeds, shape)| {
            let mut ids: Vec<String> = Vec::new();
            for s in seeds {
                let mut id = format!("{:012x}", s & 0xffff_ffff_ffff);
                while ids.contains(&id) {
                    id.push('a');
                }
                ids.push(id);
            }
            let mut revs = Vec::new();
            for (i, (kind, p1, p2, dep)) in shape.into_iter().enumerate() {
                let mut parents = Vec::new();
                if i > 0 && kind % 10 != 0 {
                    parents.push(ids[(p1 as usize) % i].clone());
                    // Mostly chains: prefer the previous revision.
                    if kind % 3 == 0 {
                        parents[0] = ids[i - 1].clone();
                    }
                    if kind % 4 == 1 {
                        let other = ids[(p2 as usize) % i].clone();
                        if !parents.contains(&other) {
                            parents.push(other);
                        }
                    }
                }
                let mut depends_on = Vec::new();
                if i > 1 && dep % 7 == 0 {
                    let d = ids[(dep as usize / 7) % i].clone();
                    if !parents.contains(&d) {
                        depends_on.push(d);
                    }
                }
                revs.push(Revision {
                    id: ids[i].clone(),
                    parents,
                    depends_on,
                    ..Revision::default()
                });
            }
            revs.sort_by(|a, b| a.id.cmp(&b.id));
            revs
        })
}

fn ancestors(g: &RevisionGraph, ixs: &[usize]) -> HashSet<String> {
    let marks = g.ancestors_with_deps(ixs);
    (0..g.len())
        .filter(|&i| marks[i])
        .map(|i| g.id(i).to_string())
        .collect()
}

/// Cases per property: 300, or `MERGEPOINT_PROPTEST_CASES` (scripts/soak).
fn cases() -> u32 {
    std::env::var("MERGEPOINT_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn heads_are_exactly_the_childless_revisions(revs in arb_dag()) {
        let g = RevisionGraph::build(revs.clone()).unwrap();
        let parents: HashSet<&str> = revs.iter().flat_map(|r| r.parents.iter().map(String::as_str)).collect();
        let expected: Vec<&str> = revs.iter().map(|r| r.id.as_str()).filter(|id| !parents.contains(id)).collect();
        prop_assert_eq!(g.ids(g.heads()), expected);
        for &h in g.heads() {
            prop_assert!(g.children(h).is_empty());
        }
        let bases: Vec<&str> = revs.iter().filter(|r| r.parents.is_empty()).map(|r| r.id.as_str()).collect();
        prop_assert_eq!(g.ids(g.bases()), bases);
    }

    /// An upgrade applies exactly the revisions the target needs that are
    /// not applied yet, each after everything it needs, and the version
    /// table after each step holds the heads of what is applied.
    #[test]
    fn upgrade_is_a_topological_order_of_exactly_the_missing_revisions(
        revs in arb_dag(), from_pick in any::<prop::sample::Index>(), to_pick in any::<prop::sample::Index>()
    ) {
        let g = RevisionGraph::build(revs).unwrap();
        let from = from_pick.index(g.len());
        let to = to_pick.index(g.len());
        let rows = vec![g.id(from).to_string()];
        let plan = match g.plan_upgrade(&rows, g.id(to)) {
            Ok(p) => p,
            Err(_) => return Ok(()), // e.g. overlapping targets: refused, fine
        };
        prop_assert_eq!(plan.direction, Direction::Upgrade);
        let need = ancestors(&g, &[to]);
        let have = ancestors(&g, &[from]);
        let expected: HashSet<String> = need.difference(&have).cloned().collect();
        let got: Vec<String> = plan.steps.iter().map(|s| s.revision.clone()).collect();
        prop_assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), expected);
        prop_assert_eq!(got.len(), got.iter().collect::<HashSet<_>>().len(), "a revision twice");
        let mut applied = vec![false; g.len()];
        for ix in g.ancestors_with_deps(&[from]).iter().enumerate().filter(|(_, &a)| a).map(|(i, _)| i) {
            applied[ix] = true;
        }
        let mut table: HashSet<String> = rows.iter().cloned().collect();
        for step in &plan.steps {
            let ix = g.find(&step.revision).unwrap();
            for &d in g.down_edges(ix) {
                prop_assert!(applied[d], "{} before its parent/dependency {}", step.revision, g.id(d));
            }
            applied[ix] = true;
            for op in &step.version_ops {
                match op {
                    mergepoint::graph::plan::VersionOp::Insert { version } => { prop_assert!(table.insert(version.clone())); }
                    mergepoint::graph::plan::VersionOp::Delete { version } => { prop_assert!(table.remove(version)); }
                    mergepoint::graph::plan::VersionOp::Update { from, to } => {
                        prop_assert!(table.remove(from));
                        prop_assert!(table.insert(to.clone()));
                    }
                }
            }
            let heads: HashSet<String> = g.ids(&g.heads_of(&applied)).into_iter().collect();
            prop_assert_eq!(&table, &heads, "version table after {}", step.revision);
        }
        let end: HashSet<String> = plan.end_heads.iter().cloned().collect();
        prop_assert_eq!(table, end);
    }

    /// Downgrading back to base runs exactly the reverse of the upgrade from
    /// base, and empties the version table.
    #[test]
    fn downgrade_reverses_upgrade(revs in arb_dag(), pick in any::<prop::sample::Index>()) {
        let g = RevisionGraph::build(revs).unwrap();
        let target = g.id(pick.index(g.len())).to_string();
        let up = g.plan_upgrade(&[], &target).unwrap();
        let down = g.plan_downgrade(&up.end_heads, "base").unwrap();
        let mut up_order: Vec<&str> = up.steps.iter().map(|s| s.revision.as_str()).collect();
        up_order.reverse();
        let down_order: Vec<&str> = down.steps.iter().map(|s| s.revision.as_str()).collect();
        prop_assert_eq!(down_order, up_order);
        prop_assert!(down.end_heads.is_empty());
    }

    /// `rev+1` and `rev-1` agree with parents and children: they resolve
    /// when there is exactly one way to go, and are refused otherwise.
    #[test]
    fn relative_steps_agree_with_ancestry(revs in arb_dag(), pick in any::<prop::sample::Index>()) {
        let g = RevisionGraph::build(revs).unwrap();
        let ix = pick.index(g.len());
        let id = g.id(ix);
        match (g.parents(ix), g.resolve_one(&format!("{id}-1"))) {
            ([], Ok(None)) => {}
            ([p], Ok(Some(got))) => prop_assert_eq!(got, *p),
            (ps, Err(e)) if ps.len() > 1 => prop_assert!(e.to_string().contains("ambiguous"), "{}", e),
            (ps, other) => prop_assert!(false, "{}-1 with parents {:?} gave {:?}", id, g.ids(ps), other),
        }
        match (g.children(ix), g.resolve_one(&format!("{id}+1"))) {
            ([], Err(e)) => prop_assert!(e.to_string().contains("walks past"), "{}", e),
            ([c], Ok(Some(got))) => prop_assert_eq!(got, *c),
            (cs, Err(e)) if cs.len() > 1 => prop_assert!(e.to_string().contains("ambiguous"), "{}", e),
            (cs, other) => prop_assert!(false, "{}+1 with children {:?} gave {:?}", id, g.ids(cs), other),
        }
    }

    /// History lists every revision once, each before its parents and
    /// dependencies (newest first).
    #[test]
    fn history_lists_everything_newest_first(revs in arb_dag()) {
        let g = RevisionGraph::build(revs).unwrap();
        let order = g.history(None).unwrap();
        prop_assert_eq!(order.len(), g.len());
        let mut pos = vec![usize::MAX; g.len()];
        for (i, &ix) in order.iter().enumerate() {
            pos[ix] = i;
        }
        for ix in 0..g.len() {
            for &d in g.down_edges(ix) {
                prop_assert!(pos[ix] < pos[d]);
            }
        }
    }
}
