//! Path planning: from the applied heads (the version table) to a target,
//! the exact ordered steps, each with the version-table change it makes.
//!
//! The revision sets and their order follow Alembic's `_upgrade_revs` and
//! `_downgrade_revs`, so `upgrade A:B --sql` lists the same steps Alembic
//! does. Where Alembic warns and guesses (a relative downgrade from several
//! heads), we refuse and list the candidates instead.

use super::target::{parse_downgrade_target, parse_upgrade_target, DowngradeTarget};
use super::{Ix, LookedUp, ResolveError, RevisionGraph};
use serde::Serialize;

/// Which way a step or plan moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upgrade,
    Downgrade,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::Upgrade => Direction::Downgrade,
            Direction::Downgrade => Direction::Upgrade,
        }
    }
}

/// One change to the version table (Alembic's `alembic_version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum VersionOp {
    Insert { version: String },
    Delete { version: String },
    Update { from: String, to: String },
}

/// One revision run in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub revision: String,
    pub direction: Direction,
    /// Alembic's `from_revisions_no_deps`: the parents for an upgrade (empty
    /// at a base, several at a merge), the revision itself for a downgrade.
    pub from: Vec<String>,
    /// The revision for an upgrade, its parents for a downgrade.
    pub to: Vec<String>,
    /// Version-table changes that record this step.
    pub version_ops: Vec<VersionOp>,
}

impl Step {
    /// Alembic's log line body: `upgrade a, b -> c`.
    pub fn short_log(&self) -> String {
        let mut out = String::new();
        self.push_short_log(&mut out);
        out
    }

    /// [`Self::short_log`], appended to `out` (offline scripts write one
    /// per step).
    pub fn push_short_log(&self, out: &mut String) {
        let push_joined = |out: &mut String, ids: &[String]| {
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(id);
            }
        };
        out.push_str(self.direction.as_str());
        out.push(' ');
        push_joined(out, &self.from);
        out.push_str(" -> ");
        push_joined(out, &self.to);
    }
}

/// An ordered list of steps and the version-table rows before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub direction: Direction,
    pub start_heads: Vec<String>,
    pub end_heads: Vec<String>,
    pub steps: Vec<Step>,
}

impl RevisionGraph {
    /// Resolves version-table rows (full ids) to indices.
    pub fn resolve_rows(&self, rows: &[String]) -> Result<Vec<Ix>, ResolveError> {
        rows.iter()
            .map(|r| {
                self.find(r).ok_or_else(|| ResolveError::Unknown {
                    ident: r.clone(),
                    looked_up: LookedUp::VersionRow,
                })
            })
            .collect()
    }

    /// The steps to upgrade from `current` (version-table rows) to `target`,
    /// oldest first. Like Alembic's `upgrade`, revisions on other branches
    /// that the target needs are included.
    pub fn plan_upgrade(&self, current: &[String], target: &str) -> Result<Plan, ResolveError> {
        let rows = self.resolve_rows(current)?;
        let targets = parse_upgrade_target(self, &rows, target)?;
        check_no_overlap(self, &targets)?;
        check_no_overlap(self, &rows)?;
        let mut needed = self.ancestors_with_deps(&targets);
        let have = self.ancestors_with_deps(&rows);
        for (n, h) in needed.iter_mut().zip(&have) {
            *n &= !*h;
        }
        let mut order = self.alembic_order(&needed, &targets);
        order.reverse();
        Ok(self.make_plan(Direction::Upgrade, rows, order))
    }

    /// The steps to downgrade from `current` to `target`, newest first.
    pub fn plan_downgrade(&self, current: &[String], target: &str) -> Result<Plan, ResolveError> {
        let rows = self.resolve_rows(current)?;
        let (branch, target_rev) = parse_downgrade_target(self, &rows, target)?;
        let target_ix = match target_rev {
            DowngradeTarget::Base => None,
            DowngradeTarget::Rev(ix) => Some(ix),
        };
        let mut roots: Vec<Ix> = match target_ix {
            None => self.bases().to_vec(),
            Some(ix) => self.children(ix).to_vec(),
        };
        if let Some(label) = &branch {
            if roots.len() > 1 {
                let anchor = self.resolve_branch(label)?;
                let below = self.ancestors(&[anchor]);
                roots.retain(|&r| below[r]);
                if roots.is_empty() {
                    return Err(ResolveError::NotADowngradeTarget {
                        ident: target.to_string(),
                    });
                }
            }
        }
        let mut drop = self.descendants_with_deps(&roots);
        let active = self.ancestors_with_deps(&rows);
        for (d, a) in drop.iter_mut().zip(&active) {
            *d &= *a;
        }
        if let Some(ix) = target_ix {
            if !drop.iter().any(|&d| d) && !rows.contains(&ix) {
                return Err(ResolveError::NotAppliedBelow {
                    revision: self.id(ix).to_string(),
                    current: self.ids(&rows),
                });
            }
        }
        let order = self.alembic_order(&drop, &rows);
        Ok(self.make_plan(Direction::Downgrade, rows, order))
    }

    /// The plan that runs exactly one revision, `revision` (a full id), in
    /// `direction` from `current` (version-table rows): the upgrade of a
    /// revision that is not applied and whose parents and dependencies all
    /// are, or the downgrade of a revision that is one of the current heads.
    /// Nothing else moves, whatever the branches around it (what `verify`
    /// steps with: up one revision, down that revision, up again).
    pub fn plan_one(
        &self,
        direction: Direction,
        current: &[String],
        revision: &str,
    ) -> Result<Plan, ResolveError> {
        let rows = self.resolve_rows(current)?;
        let ix = self.find(revision).ok_or_else(|| ResolveError::Unknown {
            ident: revision.to_string(),
            looked_up: LookedUp::Revision,
        })?;
        let applied = self.ancestors_with_deps(&rows);
        let invalid = |reason: String| ResolveError::Invalid {
            ident: revision.to_string(),
            reason,
        };
        match direction {
            Direction::Upgrade => {
                if applied[ix] {
                    return Err(invalid("it is already applied".to_string()));
                }
                let missing: Vec<Ix> = self
                    .down_edges(ix)
                    .iter()
                    .copied()
                    .filter(|&d| !applied[d])
                    .collect();
                if !missing.is_empty() {
                    return Err(invalid(format!(
                        "it needs {} applied first",
                        self.ids(&missing).join(", ")
                    )));
                }
            }
            Direction::Downgrade => {
                if !rows.contains(&ix) {
                    let heads = self.ids(&rows);
                    return Err(invalid(format!(
                        "it is not one of the current heads ({})",
                        if heads.is_empty() {
                            "base".to_string()
                        } else {
                            heads.join(", ")
                        }
                    )));
                }
            }
        }
        Ok(self.make_plan(direction, rows, vec![ix]))
    }

    /// [`Self::plan_one`] for each of `steps` in turn, each from the rows
    /// the ones before it leave: one plan that may go up and down (verify
    /// runs a revision's up, down and up again as one).
    pub fn plan_steps(
        &self,
        current: &[String],
        steps: &[(Direction, &str)],
    ) -> Result<Plan, ResolveError> {
        let mut rows = current.to_vec();
        rows.sort();
        let mut plan = Plan {
            direction: steps.first().map_or(Direction::Upgrade, |s| s.0),
            start_heads: rows.clone(),
            end_heads: Vec::new(),
            steps: Vec::with_capacity(steps.len()),
        };
        for &(direction, revision) in steps {
            let one = self.plan_one(direction, &rows, revision)?;
            rows = one.end_heads;
            plan.steps.extend(one.steps);
        }
        plan.end_heads = rows;
        Ok(plan)
    }

    /// Turns an ordered list of revisions into steps, tracking the version
    /// table as Alembic's `HeadMaintainer` does.
    fn make_plan(&self, direction: Direction, rows: Vec<Ix>, order: Vec<Ix>) -> Plan {
        let start_heads = self.ids(&rows);
        let mut applied = self.ancestors_with_deps(&rows);
        let mut table: Vec<Ix> = rows;
        let mut steps = Vec::with_capacity(order.len());
        for ix in order {
            let id = self.id(ix).to_string();
            let parents = self.ids(self.parents(ix));
            let version_ops = match direction {
                Direction::Upgrade => self.record_upgrade(&mut table, ix),
                Direction::Downgrade => self.record_downgrade(&mut table, &applied, ix),
            };
            applied[ix] = direction == Direction::Upgrade;
            let (from, to) = match direction {
                Direction::Upgrade => (parents, vec![id.clone()]),
                Direction::Downgrade => (vec![id.clone()], parents),
            };
            steps.push(Step {
                revision: id,
                direction,
                from,
                to,
                version_ops,
            });
        }
        table.sort_unstable();
        Plan {
            direction,
            start_heads,
            end_heads: self.ids(&table),
            steps,
        }
    }

    /// Version-table change for applying `ix` on top of `table`.
    fn record_upgrade(&self, table: &mut Vec<Ix>, ix: Ix) -> Vec<VersionOp> {
        let id = self.id(ix).to_string();
        let present: Vec<Ix> = self
            .down_edges(ix)
            .iter()
            .copied()
            .filter(|d| table.contains(d))
            .collect();
        table.retain(|t| !present.contains(t));
        table.push(ix);
        match present.split_last() {
            None => vec![VersionOp::Insert { version: id }],
            Some((&last, rest)) => {
                let mut ops: Vec<VersionOp> = rest
                    .iter()
                    .map(|&d| VersionOp::Delete {
                        version: self.id(d).to_string(),
                    })
                    .collect();
                ops.push(VersionOp::Update {
                    from: self.id(last).to_string(),
                    to: id,
                });
                ops
            }
        }
    }

    /// Version-table change for removing `ix` (a head of the `applied` set)
    /// from `table`: each of its parents takes its place unless another
    /// applied revision still builds on that parent. O(degree).
    fn record_downgrade(&self, table: &mut Vec<Ix>, applied: &[bool], ix: Ix) -> Vec<VersionOp> {
        let id = self.id(ix).to_string();
        table.retain(|&t| t != ix);
        let downs: Vec<Ix> = self
            .down_edges(ix)
            .iter()
            .copied()
            .filter(|&d| !self.norm_up[d].iter().any(|&c| c != ix && applied[c]))
            .collect();
        table.extend(downs.iter().copied());
        match downs.split_last() {
            None => vec![VersionOp::Delete { version: id }],
            Some((&last, rest)) => {
                let mut ops: Vec<VersionOp> = rest
                    .iter()
                    .map(|&d| VersionOp::Insert {
                        version: self.id(d).to_string(),
                    })
                    .collect();
                ops.push(VersionOp::Update {
                    from: id,
                    to: self.id(last).to_string(),
                });
                ops
            }
        }
    }
}

/// Alembic refuses targets where one is an ancestor of another. One walk
/// from all their parents finds any overlap; only then do we look for the
/// pair to name.
fn check_no_overlap(g: &RevisionGraph, targets: &[Ix]) -> Result<(), ResolveError> {
    if targets.len() < 2 {
        return Ok(());
    }
    let below: Vec<Ix> = targets
        .iter()
        .flat_map(|&t| g.down_edges(t).iter().copied())
        .collect();
    let strictly_below = g.ancestors_with_deps(&below);
    if !targets.iter().any(|&t| strictly_below[t]) {
        return Ok(());
    }
    for &t in targets {
        let under = g.ancestors_with_deps(g.down_edges(t));
        let overlaps: Vec<String> = targets
            .iter()
            .filter(|&&o| o != t && under[o])
            .map(|&o| g.id(o).to_string())
            .collect();
        if !overlaps.is_empty() {
            return Err(ResolveError::Overlap {
                revision: g.id(t).to_string(),
                others: overlaps,
            });
        }
    }
    Ok(())
}

impl RevisionGraph {
    /// Revisions in `alembic history` display order (newest first) for an
    /// optional range `LOWER:UPPER` (either side may be empty; both ends
    /// included), as Alembic's `walk_revisions`.
    pub fn history(&self, range: Option<&str>) -> Result<Vec<Ix>, ResolveError> {
        let (lower, upper) = match range {
            None => ("base", "heads"),
            Some(r) => {
                let (l, u) = r.split_once(':').ok_or_else(|| ResolveError::Invalid {
                    ident: r.to_string(),
                    reason: "a history range is written [FROM]:[TO], e.g. base:heads or ae10:"
                        .to_string(),
                })?;
                (
                    if l.is_empty() { "base" } else { l },
                    if u.is_empty() { "heads" } else { u },
                )
            }
        };
        let lower_rows = self.resolve_many(lower)?;
        let mut targets = parse_upgrade_target(self, &lower_rows, upper)?;
        if let Some((branch, _)) = lower.split_once('@') {
            // `label@base:heads` lists only that branch.
            let label = match self.find(branch) {
                Some(ix) => self.branch_labels(ix).first().cloned().unwrap_or_default(),
                None => branch.to_string(),
            };
            targets.retain(|&t| self.branch_labels(t).contains(&label));
        }
        check_no_overlap(self, &targets)?;
        let mut needed = self.ancestors_with_deps(&targets);
        if let Some(&outside) = lower_rows.iter().find(|&&r| !needed[r]) {
            return Err(ResolveError::RangeNotAncestor {
                revision: self.id(outside).to_string(),
                upper: upper.to_string(),
            });
        }
        if !lower_rows.is_empty() {
            let have = self.ancestors_with_deps(&lower_rows);
            let above = self.descendants(&lower_rows);
            for i in 0..self.len() {
                needed[i] = needed[i] && !have[i] && above[i];
            }
            for &r in &lower_rows {
                needed[r] = true;
            }
        }
        let order = self.alembic_order(&needed, &targets);
        if order.len() != needed.iter().filter(|&&n| n).count() {
            return Err(ResolveError::RangeNotConnected {
                lower: lower.to_string(),
                upper: upper.to_string(),
            });
        }
        Ok(order)
    }

    /// The plan that takes a database whose applied heads are `from` to
    /// `to`: an upgrade if `to` needs anything not applied yet, otherwise a
    /// downgrade. Used by `mergepoint plan FROM TO`.
    pub fn plan_between(&self, from: &str, to: &str) -> Result<Plan, ResolveError> {
        let applied = self.resolve_many(from)?;
        let rows = self.ids(&self.heads_of(&self.ancestors_with_deps(&applied)));
        let up = self.plan_upgrade(&rows, to);
        if let Ok(plan) = &up {
            if !plan.steps.is_empty() {
                return up;
            }
        }
        match self.plan_downgrade(&rows, to) {
            Ok(down) if !down.steps.is_empty() || up.is_err() => Ok(down),
            Ok(_) => up,
            Err(e) => up.or(Err(e)),
        }
    }
}
