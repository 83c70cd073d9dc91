//! What an `upgrade` or `downgrade` target means given the applied
//! version-table rows (Alembic's `_parse_upgrade_target` and
//! `_parse_downgrade_target`): relative walks start from the current heads,
//! `label@rev` limits a downgrade to a branch. The grammar itself is in
//! [`super::ident`].

use super::ident::{parse_ident, Ident, Pos};
use super::{Direction, Ix, ResolveError, RevisionGraph};

/// The resolved target of a downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DowngradeTarget {
    Base,
    Rev(Ix),
}

/// Alembic's `_parse_upgrade_target`: what an upgrade `target` means given
/// the applied `current` rows.
pub(crate) fn parse_upgrade_target(
    g: &RevisionGraph,
    current: &[Ix],
    target: &str,
) -> Result<Vec<Ix>, ResolveError> {
    let Ident::Relative {
        branch,
        anchor,
        steps,
    } = parse_ident(target)?
    else {
        return g.resolve_many(target);
    };
    if steps <= 0 {
        let Some(anchor) = anchor else {
            return Err(unanchored(target, steps, Direction::Downgrade));
        };
        let start = g.anchor_pos(&anchor, branch.as_deref())?;
        return match g.walk(target, start, steps, None)? {
            Some(Pos::Rev(ix)) => Ok(vec![ix]),
            Some(_) => Err(ResolveError::UpgradeBelowBase {
                ident: target.to_string(),
            }),
            None => Err(ResolveError::WalkedTooFar {
                ident: target.to_string(),
                end: "base",
            }),
        };
    }
    let start = match anchor {
        Some(a) => g.anchor_pos(&a, None)?,
        None => upgrade_start(g, current, target, branch.as_deref())?,
    };
    match g.walk(target, start, steps, branch.as_deref())? {
        Some(Pos::Rev(ix)) => Ok(vec![ix]),
        _ => Err(ResolveError::WalkedTooFar {
            ident: target.to_string(),
            end: "heads",
        }),
    }
}

/// Where `+N` / `label@+N` starts: the one applied head (on the branch),
/// or below the bases when nothing is applied.
fn upgrade_start(
    g: &RevisionGraph,
    current: &[Ix],
    target: &str,
    branch: Option<&str>,
) -> Result<Pos, ResolveError> {
    let starts = match branch {
        None => current.to_vec(),
        Some(b) => {
            let on_branch = g.filter_for_lineage(current, b)?;
            if on_branch.is_empty() {
                // The branch is not applied at its tip: start from the
                // newest applied revisions on it, or from base.
                applied_tips_on_branch(g, current, b)?
            } else {
                on_branch
            }
        }
    };
    match starts.as_slice() {
        [] => Ok(Pos::Nothing),
        [one] => Ok(Pos::Rev(*one)),
        many => Err(ResolveError::AmbiguousWalk {
            ident: target.to_string(),
            from: "the current heads".to_string(),
            direction: "up",
            candidates: many.iter().map(|&p| g.describe_pos(Pos::Rev(p))).collect(),
        }),
    }
}

/// The applied revisions on branch `b` that no other applied revision on
/// it builds on.
fn applied_tips_on_branch(
    g: &RevisionGraph,
    current: &[Ix],
    b: &str,
) -> Result<Vec<Ix>, ResolveError> {
    let applied = g.ancestors_with_deps(current);
    let members: Vec<Ix> = (0..g.len()).filter(|&i| applied[i]).collect();
    let on_branch = g.filter_for_lineage(&members, b)?;
    let mut is_tip = vec![false; g.len()];
    for &m in &on_branch {
        is_tip[m] = true;
    }
    for &m in &on_branch {
        for &d in g.down_edges(m) {
            is_tip[d] = false;
        }
    }
    Ok(on_branch.into_iter().filter(|&m| is_tip[m]).collect())
}

/// Alembic's `_parse_downgrade_target`: the branch the downgrade is limited
/// to (if any) and the revision to end at.
pub(crate) fn parse_downgrade_target(
    g: &RevisionGraph,
    current: &[Ix],
    target: &str,
) -> Result<(Option<String>, DowngradeTarget), ResolveError> {
    match parse_ident(target)? {
        Ident::Relative {
            branch,
            anchor,
            steps,
        } => relative_downgrade_target(g, current, target, branch, anchor, steps),
        _ => absolute_downgrade_target(g, target),
    }
}

/// The error for `+N` / `-N` without an anchor that walks against the
/// command (`walks`), or not at all.
fn unanchored(target: &str, steps: i64, walks: Direction) -> ResolveError {
    if steps == 0 {
        ResolveError::ZeroStep {
            ident: target.to_string(),
        }
    } else {
        ResolveError::WrongDirection {
            ident: target.to_string(),
            walks,
        }
    }
}

/// `-N`, `rev-N`, `label@-N` (and `rev+N`) as a downgrade target.
fn relative_downgrade_target(
    g: &RevisionGraph,
    current: &[Ix],
    target: &str,
    branch: Option<String>,
    anchor: Option<String>,
    steps: i64,
) -> Result<(Option<String>, DowngradeTarget), ResolveError> {
    let to_target = |pos: Pos| match pos {
        Pos::Rev(ix) => DowngradeTarget::Rev(ix),
        Pos::Base | Pos::Nothing => DowngradeTarget::Base,
    };
    if steps >= 0 {
        let Some(anchor) = anchor else {
            return Err(unanchored(target, steps, Direction::Upgrade));
        };
        let start = g.anchor_pos(&anchor, None)?;
        return match g.walk(target, start, steps, branch.as_deref())? {
            Some(pos) => Ok((branch, to_target(pos))),
            None => Err(ResolveError::WalkedTooFar {
                ident: target.to_string(),
                end: "heads",
            }),
        };
    }
    let (branch, anchor) = match anchor {
        Some(a) => (branch, a),
        None => {
            let symbol = match &branch {
                Some(b) => applied_on_branch(g, current, target, b)?,
                None => single_current_head(g, current, target)?,
            };
            // Alembic limits the downgrade to the branch of the head it
            // walked from.
            let id = g.id(symbol).to_string();
            (branch.or(Some(id.clone())), id)
        }
    };
    let start = g.anchor_pos(&anchor, branch.as_deref())?;
    match g.walk(target, start, steps, None)? {
        Some(pos) => Ok((branch, to_target(pos))),
        None => Err(ResolveError::WalkedTooFar {
            ident: target.to_string(),
            end: "base",
        }),
    }
}

/// Where `label@-N` starts: the one applied revision at the top of
/// branch `b`.
fn applied_on_branch(
    g: &RevisionGraph,
    current: &[Ix],
    target: &str,
    b: &str,
) -> Result<Ix, ResolveError> {
    let mut on_branch = g.filter_for_lineage(current, b)?;
    if on_branch.is_empty() {
        on_branch = g.all_current_on_branch(current, b)?;
    }
    match on_branch.as_slice() {
        [one] => Ok(*one),
        [] => Err(ResolveError::BranchNotApplied {
            ident: target.to_string(),
            branch: b.to_string(),
            current: g.ids(current),
        }),
        many => Err(ResolveError::AmbiguousWalk {
            ident: target.to_string(),
            from: "the current heads".to_string(),
            direction: "down",
            candidates: g.ids(many),
        }),
    }
}

/// Where `-N` starts: the one applied head.
fn single_current_head(
    g: &RevisionGraph,
    current: &[Ix],
    target: &str,
) -> Result<Ix, ResolveError> {
    let mut distinct = current.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    match distinct.as_slice() {
        [] => Err(ResolveError::NothingApplied {
            ident: target.to_string(),
        }),
        [_] => Ok(current[0]),
        // Alembic warns and picks the first head; we refuse rather than
        // guess.
        _ => Err(ResolveError::AmbiguousCurrentHead {
            ident: target.to_string(),
            heads: g.ids(current),
            suggestions: current
                .iter()
                .map(|&c| format!("{}@{}", g.id(c), target))
                .collect(),
        }),
    }
}

/// A revision, `base`, `label@rev` as a downgrade target.
fn absolute_downgrade_target(
    g: &RevisionGraph,
    target: &str,
) -> Result<(Option<String>, DowngradeTarget), ResolveError> {
    // `label@rev` limits the downgrade to that branch; the revision itself
    // is resolved without the label.
    let (branch, symbol) = match target.rsplit_once('@') {
        Some((b, s)) => (Some(b.to_string()), s),
        None => (None, target),
    };
    // Alembic resolves the branch only if it has to choose between several
    // roots, so an ambiguous prefix passes; a name that matches nothing at
    // all is refused (Alembic would silently ignore a typo and downgrade
    // every branch).
    if let Some(b) = &branch {
        g.check_branch_name(b)?;
    }
    let to = match g.resolve_one(symbol)? {
        Some(ix) => DowngradeTarget::Rev(ix),
        None => DowngradeTarget::Base,
    };
    Ok((branch, to))
}

impl RevisionGraph {
    /// Alembic's `_get_all_current` filtered to a branch: the heads of
    /// everything applied, restricted to the branch's lineage.
    fn all_current_on_branch(&self, current: &[Ix], branch: &str) -> Result<Vec<Ix>, ResolveError> {
        let applied = self.ancestors_with_deps(current);
        let members: Vec<Ix> = (0..self.len()).filter(|&i| applied[i]).collect();
        // Branch heads of the applied set: members with no applied
        // descendant (by parents) among them.
        let tips: Vec<Ix> = members
            .iter()
            .copied()
            .filter(|&m| !self.children(m).iter().any(|&c| applied[c]))
            .collect();
        self.filter_for_lineage(&tips, branch)
    }
}
