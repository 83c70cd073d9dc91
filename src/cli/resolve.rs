/*!
Identifier resolution, history order and plans as the commands need them.

These wrap the graph core's `resolve_one`, `resolve_many`, `history` and
`plan_between`. While those are being written on `main`, a small interim
resolver here covers the common identifiers (full ids, unique prefixes,
`head`, `heads`, `base`, branch labels, `label@head`, and `A:B` ranges for
history) with the same error types, so the commands keep working and switch
over without changing their output.
*/

use super::error::{CliError, CliResult};
use crate::graph::{Ix, Plan, ResolveError, RevisionGraph};

/// One revision, or `None` for base.
pub fn resolve_one(g: &RevisionGraph, ident: &str) -> CliResult<Option<Ix>> {
    interim::resolve_one(g, ident).map_err(CliError::from)
}

/// Several revisions (`heads`, or anything `resolve_one` accepts).
pub fn resolve_many(g: &RevisionGraph, ident: &str) -> CliResult<Vec<Ix>> {
    if ident == "heads" {
        return Ok(g.real_heads().to_vec());
    }
    Ok(resolve_one(g, ident)?.into_iter().collect())
}

/// Revisions in `alembic history` order (newest first), optionally limited
/// to a range `A:B` (either side may be empty).
pub fn history(g: &RevisionGraph, range: Option<&str>) -> CliResult<Vec<Ix>> {
    let (lower, upper) = match range {
        None => (None, None),
        Some(r) => {
            let Some((a, b)) = r.split_once(':') else {
                return Err(CliError::input(format!("history range '{r}' has no ':'"))
                    .with_hint("write START:END, START: or :END (for example -r base:head)"));
            };
            let a = a.trim();
            let b = b.trim();
            ((!a.is_empty()).then_some(a), (!b.is_empty()).then_some(b))
        }
    };
    let tops: Vec<Ix> = match upper {
        None => all_tips(g),
        Some(u) => resolve_many(g, u)?,
    };
    let mut todo = g.ancestors_with_deps(&tops);
    if let Some(l) = lower {
        if let Some(low) = resolve_one(g, l)? {
            let above = g.descendants_with_deps(&[low]);
            for (t, a) in todo.iter_mut().zip(&above) {
                *t &= *a;
            }
        }
    }
    Ok(g.alembic_order(&todo, &tops))
}

/// Every head and real head, load order: every revision lies below one.
fn all_tips(g: &RevisionGraph) -> Vec<Ix> {
    let mut tips: Vec<Ix> = g.heads().iter().chain(g.real_heads()).copied().collect();
    tips.sort_unstable();
    tips.dedup();
    tips
}

/// The plan that moves a database at `from` to `to`.
pub fn plan_between(_g: &RevisionGraph, _from: &str, _to: &str) -> CliResult<Plan> {
    Err(CliError::not_implemented("plan")
        .with_hint("the graph core's planner (plan_between) has not landed on this branch yet"))
}

mod interim {
    use super::*;

    pub fn resolve_one(g: &RevisionGraph, ident: &str) -> Result<Option<Ix>, ResolveError> {
        match ident {
            "base" => return Ok(None),
            "head" => {
                return match g.real_heads() {
                    [one] => Ok(Some(*one)),
                    [] => Ok(None),
                    many => Err(ResolveError::MultipleHeads {
                        ident: ident.to_string(),
                        heads: g.ids(many),
                    }),
                }
            }
            "heads" => {
                return Err(ResolveError::Invalid {
                    ident: ident.to_string(),
                    reason: "it names every head; name exactly one revision here".into(),
                })
            }
            _ => {}
        }
        if let Some(ix) = g.find(ident) {
            return Ok(Some(ix));
        }
        if let Some((label, rest)) = ident.split_once('@') {
            let anchor = resolve_one(g, label)?
                .ok_or_else(|| ResolveError::invalid(ident, "base has no branch"))?;
            if rest == "head" {
                let above = g.descendants(&[anchor]);
                let heads: Vec<Ix> = g.heads().iter().copied().filter(|&h| above[h]).collect();
                return match heads.as_slice() {
                    [one] => Ok(Some(*one)),
                    many => Err(ResolveError::MultipleHeads {
                        ident: ident.to_string(),
                        heads: g.ids(many),
                    }),
                };
            }
            return Err(ResolveError::Invalid {
                ident: ident.to_string(),
                reason: "only 'label@head' is understood here".into(),
            });
        }
        if let Some(ix) = g.label_owner(ident) {
            return Ok(Some(ix));
        }
        let candidates: Vec<Ix> = (0..g.len())
            .filter(|&i| g.id(i).starts_with(ident))
            .collect();
        match candidates.as_slice() {
            [one] => Ok(Some(*one)),
            [] => Err(ResolveError::Unknown {
                ident: ident.to_string(),
                hint: String::new(),
            }),
            many => Err(ResolveError::AmbiguousPrefix {
                prefix: ident.to_string(),
                candidates: g.ids(many),
            }),
        }
    }
}
