//! The order in which a set of revisions is listed or applied.
//!
//! Alembic lists revisions newest first with a particular walk
//! (`RevisionMap._topological_sort`): keep a list of "current heads" sorted
//! by load order; take the current candidate; if it is an ancestor of another
//! current head, switch to the first such head; otherwise emit it and
//! replace it with its not-yet-listed parents. Upgrades run that list
//! reversed, downgrades run it as is.
//!
//! Alembic recomputes full ancestor sets for this, which is quadratic. We
//! produce the identical order in near-linear time: "is the candidate an
//! ancestor of another current head" only needs a walk up through revisions
//! that are still unlisted and lie below one of the starting heads, and the
//! common case (a candidate none of whose children are pending) is O(1).

use super::{Ix, RevisionGraph};

impl RevisionGraph {
    /// Lists the revisions marked in `todo`, newest first, in Alembic's
    /// order, starting the walk from `heads` (those not in `todo` are
    /// ignored). Members of `todo` that the walk cannot reach from the
    /// heads through other members are left out (Alembic fails an assertion
    /// there); callers compare lengths.
    pub fn alembic_order(&self, todo: &[bool], heads: &[Ix]) -> Vec<Ix> {
        let n = self.len();
        let mut todo = todo.to_vec();
        let mut current: Vec<Ix> = heads.iter().copied().filter(|&h| todo[h]).collect();
        current.sort_unstable();
        current.dedup();
        // Only revisions below a starting head can link a candidate to
        // another current head: every later head descends from those.
        let relevant = self.ancestors_with_deps(&current);
        let mut emitted = vec![false; n];
        let mut in_current = vec![false; n];
        for &h in &current {
            in_current[h] = true;
        }
        // Generation-stamped visit marks, so each upward search starts clean
        // without clearing an N-sized array.
        let mut visit_stamp = vec![0u32; n];
        let mut stamp = 0u32;
        let mut stack: Vec<Ix> = Vec::new();

        let mut output = Vec::new();
        let mut idx = 0usize;
        while !current.is_empty() {
            let candidate = current[idx];
            let pending_child = self.norm_up[candidate]
                .iter()
                .any(|&c| relevant[c] && !emitted[c]);
            let mut switch_to = None;
            if pending_child {
                // Which other current heads have the candidate as ancestor?
                stamp += 1;
                stack.clear();
                stack.extend(self.norm_up[candidate].iter().copied());
                while let Some(x) = stack.pop() {
                    if !relevant[x] || emitted[x] || visit_stamp[x] == stamp {
                        continue;
                    }
                    visit_stamp[x] = stamp;
                    stack.extend(self.norm_up[x].iter().copied());
                }
                switch_to = current
                    .iter()
                    .enumerate()
                    .find(|&(j, &h)| j != idx && in_current[h] && visit_stamp[h] == stamp)
                    .map(|(j, _)| j);
            }
            if let Some(j) = switch_to {
                idx = j;
                continue;
            }
            if todo[candidate] {
                output.push(candidate);
                todo[candidate] = false;
                emitted[candidate] = true;
            }
            let to_add: Vec<Ix> = self.norm_down[candidate]
                .iter()
                .copied()
                .filter(|&r| todo[r] && !in_current[r])
                .collect();
            in_current[candidate] = false;
            match to_add.split_first() {
                None => {
                    current.remove(idx);
                    idx = idx.saturating_sub(1);
                }
                Some((&first, rest)) => {
                    current[idx] = first;
                    in_current[first] = true;
                    for &r in rest {
                        current.push(r);
                        in_current[r] = true;
                    }
                }
            }
        }
        output
    }
}
