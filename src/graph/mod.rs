//! The pure revision graph: build and validate a DAG from declared
//! revisions, answer structural questions, resolve identifiers and plan
//! paths. No I/O happens here: callers hand in [`Revision`]s and get
//! answers back, which is what makes this module property-testable.
//!
//! Node indices are positions in load order (the sorted file names of the
//! revisions directory). Alembic breaks every tie by that order, and so do we.

mod build;
mod error;
mod ident;
mod order;
pub mod plan;
mod revision;
mod target;

pub use error::{GraphErrors, GraphProblem, LookedUp, ResolveError};
pub use ident::{parse_ident, Ident};
pub use plan::{Direction, Plan, Step, VersionOp};
pub use revision::{id_problem, Revision, ILLEGAL_ID_CHARS};

use std::collections::HashMap;

/// Index of a revision in load order.
pub type Ix = usize;

/// An immutable, validated revision DAG.
///
/// Built once by [`RevisionGraph::build`]; every query is O(N + E) or better.
#[derive(Debug, Clone)]
pub struct RevisionGraph {
    revs: Vec<Revision>,
    index: HashMap<String, Ix>,
    /// Declared branch label -> the revision that declares it.
    label_owner: HashMap<String, Ix>,
    /// Versioned parents (`down_revision`), declared order.
    parents: Vec<Vec<Ix>>,
    /// Versioned children (Alembic's `nextrev`), load order.
    children: Vec<Vec<Ix>>,
    /// Resolved `depends_on` targets, declared order, deduplicated.
    deps: Vec<Vec<Ix>>,
    /// Parents plus the dependencies not already implied by an ancestor's
    /// dependencies (Alembic's `_normalized_down_revisions`). Ancestry with
    /// dependencies, and plan ordering, follow these edges.
    norm_down: Vec<Vec<Ix>>,
    /// Reverse of `norm_down`.
    norm_up: Vec<Vec<Ix>>,
    /// Children plus dependents (Alembic's `_all_nextrev`).
    all_up: Vec<Vec<Ix>>,
    /// Branch labels after propagation along the branch, sorted.
    labels: Vec<Vec<String>>,
    /// Revisions nothing has as a parent, load order.
    heads: Vec<Ix>,
    /// Heads that nothing depends on either (Alembic's "real heads").
    real_heads: Vec<Ix>,
    /// Revisions without parents, load order.
    bases: Vec<Ix>,
}

impl RevisionGraph {
    /// Number of revisions.
    pub fn len(&self) -> usize {
        self.revs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }

    /// The revision at `ix`.
    pub fn rev(&self, ix: Ix) -> &Revision {
        &self.revs[ix]
    }

    /// All revisions in load order.
    pub fn revisions(&self) -> &[Revision] {
        &self.revs
    }

    /// The id of the revision at `ix`.
    pub fn id(&self, ix: Ix) -> &str {
        &self.revs[ix].id
    }

    /// Ids of several revisions.
    pub fn ids(&self, ixs: &[Ix]) -> Vec<String> {
        ixs.iter().map(|&i| self.id(i).to_string()).collect()
    }

    /// Exact lookup of a full id.
    pub fn find(&self, id: &str) -> Option<Ix> {
        self.index.get(id).copied()
    }

    /// The revision declaring `label`, if any.
    pub fn label_owner(&self, label: &str) -> Option<Ix> {
        self.label_owner.get(label).copied()
    }

    pub fn parents(&self, ix: Ix) -> &[Ix] {
        &self.parents[ix]
    }

    pub fn children(&self, ix: Ix) -> &[Ix] {
        &self.children[ix]
    }

    /// Resolved `depends_on` targets of `ix`.
    pub fn dependencies(&self, ix: Ix) -> &[Ix] {
        &self.deps[ix]
    }

    /// Parents plus normalized dependencies: what must be applied first.
    pub fn down_edges(&self, ix: Ix) -> &[Ix] {
        &self.norm_down[ix]
    }

    /// Branch labels of `ix`, including those inherited along its branch.
    pub fn branch_labels(&self, ix: Ix) -> &[String] {
        &self.labels[ix]
    }

    /// Heads: revisions that are nobody's parent, in load order.
    pub fn heads(&self) -> &[Ix] {
        &self.heads
    }

    /// Heads that are also nobody's dependency.
    pub fn real_heads(&self) -> &[Ix] {
        &self.real_heads
    }

    /// Bases: revisions without parents, in load order.
    pub fn bases(&self) -> &[Ix] {
        &self.bases
    }

    pub fn is_head(&self, ix: Ix) -> bool {
        self.children[ix].is_empty()
    }

    pub fn is_base(&self, ix: Ix) -> bool {
        self.parents[ix].is_empty()
    }

    /// More than one revision has this one as a parent.
    pub fn is_branchpoint(&self, ix: Ix) -> bool {
        self.children[ix].len() > 1
    }

    /// This revision has more than one parent.
    pub fn is_mergepoint(&self, ix: Ix) -> bool {
        self.parents[ix].len() > 1
    }

    /// Branch points in load order.
    pub fn branchpoints(&self) -> Vec<Ix> {
        (0..self.len())
            .filter(|&i| self.is_branchpoint(i))
            .collect()
    }

    /// Merge points in load order.
    pub fn mergepoints(&self) -> Vec<Ix> {
        (0..self.len()).filter(|&i| self.is_mergepoint(i)).collect()
    }

    /// Marks every revision reachable from `starts` (inclusive) along
    /// `edges`. O(N + E).
    fn reach(&self, starts: &[Ix], edges: &[Vec<Ix>]) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<Ix> = starts.to_vec();
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            stack.extend(edges[n].iter().copied().filter(|&m| !seen[m]));
        }
        seen
    }

    /// `starts` and everything they need (parents and dependencies).
    pub fn ancestors_with_deps(&self, starts: &[Ix]) -> Vec<bool> {
        self.reach(starts, &self.norm_down)
    }

    /// `starts` and their versioned ancestors only.
    pub fn ancestors(&self, starts: &[Ix]) -> Vec<bool> {
        self.reach(starts, &self.parents)
    }

    /// `starts` and everything that has them as an ancestor via parents only.
    pub fn descendants(&self, starts: &[Ix]) -> Vec<bool> {
        self.reach(starts, &self.children)
    }

    /// `starts` and everything built on them, parents or dependencies.
    pub fn descendants_with_deps(&self, starts: &[Ix]) -> Vec<bool> {
        self.reach(starts, &self.all_up)
    }

    /// Ancestors of `ix` in load order (exclusive), via parents and
    /// dependencies.
    pub fn ancestor_list(&self, ix: Ix) -> Vec<Ix> {
        let marks = self.ancestors_with_deps(&[ix]);
        (0..self.len()).filter(|&i| marks[i] && i != ix).collect()
    }

    /// Descendants of `ix` in load order (exclusive), via parents and
    /// dependencies.
    pub fn descendant_list(&self, ix: Ix) -> Vec<Ix> {
        let marks = self.descendants_with_deps(&[ix]);
        (0..self.len()).filter(|&i| marks[i] && i != ix).collect()
    }

    /// True if `a` is `b` or one of `b`'s ancestors (with dependencies).
    pub fn is_ancestor_or_self(&self, a: Ix, b: Ix) -> bool {
        a == b || self.ancestors_with_deps(&[b])[a]
    }

    /// Alembic's `_shares_lineage`: `ix` is an ancestor or descendant (by
    /// parents) of one of `others`, or one of them.
    pub fn shares_lineage(&self, ix: Ix, others: &[Ix]) -> bool {
        if others.is_empty() {
            return true;
        }
        let up = self.descendants(&[ix]);
        let down = self.ancestors(&[ix]);
        others.iter().any(|&o| up[o] || down[o])
    }

    /// The heads of a set of applied revisions: members no other member
    /// needs (by parents or dependencies). This is what the version table
    /// holds. Returned in load order.
    pub fn heads_of(&self, applied: &[bool]) -> Vec<Ix> {
        (0..self.len())
            .filter(|&i| applied[i] && !self.norm_up[i].iter().any(|&c| applied[c]))
            .collect()
    }
}

#[cfg(test)]
mod tests;
