//! Building a [`RevisionGraph`]: validate declarations, resolve references,
//! detect cycles, derive the edge sets and propagate branch labels.

use super::{GraphErrors, GraphProblem, Ix, Revision, RevisionGraph};
use petgraph::graphmap::DiGraphMap;
use std::collections::{HashMap, HashSet};

impl RevisionGraph {
    /// Builds and validates the graph. Revisions must be in load order
    /// (sorted file names), which decides every tie later on.
    ///
    /// Every problem is collected, so `check` can report them all at once:
    /// invalid ids, duplicate ids and labels, missing parents and
    /// dependencies, self references and cycles.
    pub fn build(revisions: Vec<Revision>) -> Result<RevisionGraph, GraphErrors> {
        let mut problems = Vec::new();
        let (revs, index) = dedupe(revisions, &mut problems);
        let label_owner = collect_labels(&revs, &index, &mut problems);
        let (parents, deps) = resolve_references(&revs, &index, &label_owner, &mut problems);
        if !problems.is_empty() {
            return Err(GraphErrors { problems });
        }
        find_cycles(&revs, &parents, &deps, &mut problems);
        if !problems.is_empty() {
            return Err(GraphErrors { problems });
        }

        let n = revs.len();
        let mut children = vec![Vec::new(); n];
        let mut all_up = vec![Vec::new(); n];
        for ix in 0..n {
            for &p in &parents[ix] {
                children[p].push(ix);
            }
            for &d in &deps[ix] {
                if !parents[ix].contains(&d) {
                    all_up[d].push(ix);
                }
            }
            for &p in &parents[ix] {
                all_up[p].push(ix);
            }
        }
        for list in &mut all_up {
            list.sort_unstable();
            list.dedup();
        }
        let norm_down = normalize_dependencies(&parents, &deps);
        let mut norm_up = vec![Vec::new(); n];
        for (ix, downs) in norm_down.iter().enumerate() {
            for &d in downs {
                norm_up[d].push(ix);
            }
        }
        let heads = (0..n).filter(|&i| children[i].is_empty()).collect();
        let real_heads = (0..n).filter(|&i| all_up[i].is_empty()).collect();
        let bases = (0..n).filter(|&i| parents[i].is_empty()).collect();

        let mut graph = RevisionGraph {
            revs,
            index,
            label_owner,
            parents,
            children,
            deps,
            norm_down,
            norm_up,
            all_up,
            labels: vec![Vec::new(); n],
            heads,
            real_heads,
            bases,
        };
        graph.labels = propagate_labels(&graph);
        Ok(graph)
    }
}

/// Drops repeated ids (keeping the first) and invalid ids, reporting each.
fn dedupe(
    revisions: Vec<Revision>,
    problems: &mut Vec<GraphProblem>,
) -> (Vec<Revision>, HashMap<String, Ix>) {
    let mut revs = Vec::with_capacity(revisions.len());
    let mut index: HashMap<String, Ix> = HashMap::with_capacity(revisions.len());
    for rev in revisions {
        if let Some(reason) = super::id_problem(&rev.id) {
            problems.push(GraphProblem::InvalidName {
                what: "revision id",
                value: rev.id.clone(),
                reason,
                origin: rev.describe_origin(),
            });
            continue;
        }
        if let Some(&first) = index.get(&rev.id) {
            let first: &Revision = &revs[first];
            problems.push(GraphProblem::DuplicateId {
                id: rev.id.clone(),
                origin: rev.describe_origin(),
                other: first.describe_origin(),
            });
            continue;
        }
        index.insert(rev.id.clone(), revs.len());
        revs.push(rev);
    }
    (revs, index)
}

fn collect_labels(
    revs: &[Revision],
    index: &HashMap<String, Ix>,
    problems: &mut Vec<GraphProblem>,
) -> HashMap<String, Ix> {
    let mut owner: HashMap<String, Ix> = HashMap::new();
    for (ix, rev) in revs.iter().enumerate() {
        for label in &rev.branch_labels {
            if let Some(reason) = super::id_problem(label) {
                problems.push(GraphProblem::InvalidName {
                    what: "branch label",
                    value: label.clone(),
                    reason,
                    origin: rev.describe_origin(),
                });
            } else if index.contains_key(label) {
                problems.push(GraphProblem::LabelIsRevisionId {
                    label: label.clone(),
                    id: rev.id.clone(),
                    origin: rev.describe_origin(),
                });
            } else if let Some(&other) = owner.get(label) {
                if other != ix {
                    problems.push(GraphProblem::DuplicateLabel {
                        label: label.clone(),
                        id: rev.id.clone(),
                        origin: rev.describe_origin(),
                        other: revs[other].id.clone(),
                    });
                }
            } else {
                owner.insert(label.clone(), ix);
            }
        }
    }
    owner
}

type EdgeLists = Vec<Vec<Ix>>;

/// Turns parent ids and `depends_on` names into indices.
fn resolve_references(
    revs: &[Revision],
    index: &HashMap<String, Ix>,
    labels: &HashMap<String, Ix>,
    problems: &mut Vec<GraphProblem>,
) -> (EdgeLists, EdgeLists) {
    let mut parents = Vec::with_capacity(revs.len());
    let mut deps = Vec::with_capacity(revs.len());
    for (ix, rev) in revs.iter().enumerate() {
        let mut ps = Vec::with_capacity(rev.parents.len());
        for parent in &rev.parents {
            match index.get(parent) {
                Some(&p) if p == ix => problems.push(GraphProblem::SelfReference {
                    id: rev.id.clone(),
                    origin: rev.describe_origin(),
                    relation: "parent",
                }),
                Some(&p) => {
                    if !ps.contains(&p) {
                        ps.push(p)
                    }
                }
                None => problems.push(GraphProblem::MissingParent {
                    id: rev.id.clone(),
                    origin: rev.describe_origin(),
                    parent: parent.clone(),
                }),
            }
        }
        let mut ds = Vec::with_capacity(rev.depends_on.len());
        for target in &rev.depends_on {
            match index.get(target).or_else(|| labels.get(target)) {
                Some(&d) if d == ix => problems.push(GraphProblem::SelfReference {
                    id: rev.id.clone(),
                    origin: rev.describe_origin(),
                    relation: "dependency",
                }),
                Some(&d) => {
                    if !ds.contains(&d) {
                        ds.push(d)
                    }
                }
                None => problems.push(GraphProblem::MissingDependency {
                    id: rev.id.clone(),
                    origin: rev.describe_origin(),
                    target: target.clone(),
                }),
            }
        }
        parents.push(ps);
        deps.push(ds);
    }
    (parents, deps)
}

/// Reports one concrete cycle per strongly connected component, first over
/// parent edges, then (if those are acyclic) over parents plus dependencies.
fn find_cycles(
    revs: &[Revision],
    parents: &[Vec<Ix>],
    deps: &[Vec<Ix>],
    problems: &mut Vec<GraphProblem>,
) {
    let versioned = |ix: Ix| parents[ix].clone();
    for cycle in cycles(revs.len(), versioned) {
        problems.push(GraphProblem::Cycle {
            cycle: cycle.iter().map(|&i| revs[i].id.clone()).collect(),
        });
    }
    if !problems.is_empty() {
        return;
    }
    let all = |ix: Ix| {
        let mut v = parents[ix].clone();
        v.extend(deps[ix].iter().copied());
        v
    };
    for cycle in cycles(revs.len(), all) {
        problems.push(GraphProblem::DependencyCycle {
            cycle: cycle.iter().map(|&i| revs[i].id.clone()).collect(),
        });
    }
}

/// True if the graph given by `edges` has no cycle: Kahn's algorithm,
/// O(N + E) over plain vectors. Valid graphs (the common case) stop here.
fn is_acyclic(n: usize, edges: &impl Fn(Ix) -> Vec<Ix>) -> bool {
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<Ix>> = Vec::with_capacity(n);
    for ix in 0..n {
        let targets = edges(ix);
        for &t in &targets {
            indegree[t] += 1;
        }
        out.push(targets);
    }
    let mut ready: Vec<Ix> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut seen = 0;
    while let Some(ix) = ready.pop() {
        seen += 1;
        for &t in &out[ix] {
            indegree[t] -= 1;
            if indegree[t] == 0 {
                ready.push(t);
            }
        }
    }
    seen == n
}

/// One cycle (as a child -> parent path) for each non-trivial strongly
/// connected component of the graph given by `edges`.
fn cycles(n: usize, edges: impl Fn(Ix) -> Vec<Ix>) -> Vec<Vec<Ix>> {
    if is_acyclic(n, &edges) {
        return Vec::new();
    }
    let mut g: DiGraphMap<Ix, ()> = DiGraphMap::with_capacity(n, n);
    for ix in 0..n {
        g.add_node(ix);
    }
    for ix in 0..n {
        for p in edges(ix) {
            g.add_edge(ix, p, ());
        }
    }
    let mut found = Vec::new();
    for mut scc in petgraph::algo::kosaraju_scc(&g) {
        if scc.len() < 2 {
            continue;
        }
        scc.sort_unstable();
        let members: HashSet<Ix> = scc.iter().copied().collect();
        // Walk inside the component from its smallest member until a node
        // repeats; the repeated stretch is a cycle.
        let mut path = vec![scc[0]];
        let mut pos: HashMap<Ix, usize> = HashMap::from([(scc[0], 0)]);
        loop {
            let cur = *path.last().expect("path starts non-empty");
            let next = edges(cur)
                .into_iter()
                .filter(|m| members.contains(m))
                .min()
                .expect("every member of a cycle component has an edge inside it");
            if let Some(&start) = pos.get(&next) {
                found.push(path[start..].to_vec());
                break;
            }
            pos.insert(next, path.len());
            path.push(next);
        }
    }
    found.sort();
    found
}

/// Alembic's `_normalize_depends_on`: a revision's dependencies minus those
/// already declared by one of its (parent-chain) ancestors; then parents
/// first, dependencies after, without repeats.
fn normalize_dependencies(parents: &[Vec<Ix>], deps: &[Vec<Ix>]) -> Vec<Vec<Ix>> {
    let n = parents.len();
    let mut out = Vec::with_capacity(n);
    // Scratch marks reused across revisions; only revisions that declare
    // dependencies pay for an ancestor walk.
    let mut seen = vec![usize::MAX; n];
    for ix in 0..n {
        let mut down = parents[ix].clone();
        if !deps[ix].is_empty() {
            let mut inherited: HashSet<Ix> = HashSet::new();
            let mut stack: Vec<Ix> = parents[ix].clone();
            while let Some(a) = stack.pop() {
                if seen[a] == ix {
                    continue;
                }
                seen[a] = ix;
                inherited.extend(deps[a].iter().copied());
                stack.extend(parents[a].iter().copied());
            }
            for &d in &deps[ix] {
                if !inherited.contains(&d) && !down.contains(&d) {
                    down.push(d);
                }
            }
        }
        out.push(down);
    }
    out
}

/// Alembic's branch label rules: a label covers its revision and every
/// descendant; and when the labelled revision's descendants form one plain
/// chain, the label also extends down through its ancestors until a branch
/// point (counting dependents) or a merge point.
fn propagate_labels(g: &RevisionGraph) -> Vec<Vec<String>> {
    let n = g.len();
    let mut labels: Vec<Vec<String>> = vec![Vec::new(); n];
    let is_stop = |ix: Ix| g.all_up[ix].len() > 1 || g.parents[ix].len() > 1;
    for (ix, rev) in g.revs.iter().enumerate() {
        if rev.branch_labels.is_empty() {
            continue;
        }
        let covered = g.descendants(&[ix]);
        for (i, &c) in covered.iter().enumerate() {
            if c {
                labels[i].extend(rev.branch_labels.iter().cloned());
            }
        }
        // Does a stop-free chain lead from this revision to its tip?
        let mut node = ix;
        let plain_chain = loop {
            if is_stop(node) {
                break false;
            }
            match g.children[node].as_slice() {
                [] => break true,
                [only] => node = *only,
                _ => break false,
            }
        };
        if plain_chain {
            let mut below = g.parents[ix].first().copied();
            while let Some(p) = below {
                if is_stop(p) {
                    break;
                }
                labels[p].extend(rev.branch_labels.iter().cloned());
                below = g.parents[p].first().copied();
            }
        }
    }
    for list in &mut labels {
        list.sort();
        list.dedup();
    }
    labels
}
