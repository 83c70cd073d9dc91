//! Merges proven safe (`merge --verify`, `check --merges`): the branches
//! being merged are applied from their common ancestor in every order, each
//! order on a temporary database of its own, and must leave the same
//! schema. When they do not, the branches do not commute: what each order
//! leaves differently is a plan (the SQL from the first order's schema to
//! the other's), and the objects that more than one branch changes are
//! listed, since that is where to look. An order that fails to apply (both
//! branches add the same column) is reported with the branch it was
//! applying and the runner's message, which names the revision.
//!
//! Orders: every permutation of the heads for up to three heads (at most
//! six orders), else each head first once (the rest in the given order).

use std::collections::BTreeSet;

use super::devserver::DevServer;
use super::diff::{diff, DiffOptions};
use super::model::Catalog;
use super::plan::Plan;
use super::read::{read_catalog, ReadOptions};
use super::source::{own_tables, require_sql_for, upgrade_to, Revisions, SourceError};
use crate::db::{Database, StepSql};
use crate::graph::RevisionGraph;

/// One order in which the branches were applied.
#[derive(Clone, Debug)]
pub struct OrderRun {
    /// The heads, in the order their branches were applied.
    pub heads: Vec<String>,
    /// The branch (its head) that failed to apply, and why.
    pub failure: Option<(String, String)>,
    /// The plan from the first order's schema to this one's (empty for
    /// the first order, for an order that failed, and when they match).
    pub difference: Plan,
    /// The schemas differ, but the diff cannot plan between them (why).
    pub incomparable: Option<String>,
}

/// The result of [`check`].
#[derive(Clone, Debug)]
pub struct CommuteReport {
    /// The heads being merged.
    pub heads: Vec<String>,
    /// The common ancestor: the version-table rows every branch starts
    /// from (empty: the base).
    pub common: Vec<String>,
    pub orders: Vec<OrderRun>,
    /// Objects (as messages name them) that more than one branch changes.
    pub touched_by_several: Vec<String>,
}

impl CommuteReport {
    /// True when every order applied and all left the same schema.
    pub fn commutes(&self) -> bool {
        self.orders
            .iter()
            .all(|o| o.failure.is_none() && o.difference.is_empty() && o.incomparable.is_none())
    }
}

/// The orders [`check`] tries.
pub fn orders(heads: &[String]) -> Vec<Vec<String>> {
    if heads.len() <= 3 {
        let mut out = Vec::new();
        permute(heads.to_vec(), 0, &mut out);
        return out;
    }
    (0..heads.len())
        .map(|first| {
            let mut order = vec![heads[first].clone()];
            order.extend(
                heads
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != first)
                    .map(|(_, h)| h.clone()),
            );
            order
        })
        .collect()
}

fn permute(mut items: Vec<String>, k: usize, out: &mut Vec<Vec<String>>) {
    if k == items.len() {
        out.push(items);
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permute(items.clone(), k + 1, out);
        items.swap(k, i);
    }
}

/// The version-table rows of the common ancestor of `heads`: the heads of
/// what every one of them needs.
pub fn common_rows(graph: &RevisionGraph, heads: &[String]) -> Vec<String> {
    let mut common = vec![true; graph.len()];
    for h in heads {
        let Some(ix) = graph.find(h) else { continue };
        let below = graph.ancestors_with_deps(&[ix]);
        for (c, b) in common.iter_mut().zip(below) {
            *c &= b;
        }
    }
    graph.ids(&graph.heads_of(&common))
}

/// Applies the branches of `heads` (full ids) from their common ancestor in
/// every order on temporary databases of `dev`, and compares the schemas.
/// Errors are the check's own (revisions without SQL, the dev server, the
/// common ancestor failing to build, a schema that cannot be read).
pub fn check<S: StepSql>(
    dev: &DevServer,
    revisions: &Revisions<'_, S>,
    heads: &[String],
    schemas: &[String],
) -> Result<CommuteReport, SourceError> {
    let graph = revisions.graph;
    let common = common_rows(graph, heads);
    require_sql_for(revisions, heads)?;
    let mut report = CommuteReport {
        heads: heads.to_vec(),
        common: common.clone(),
        orders: Vec::new(),
        touched_by_several: Vec::new(),
    };
    let mut common_schema: Option<Catalog> = None;
    // The schema each branch alone leaves on the common ancestor, by head.
    let mut alone: Vec<(String, Catalog)> = Vec::new();
    let mut first_end: Option<Catalog> = None;
    for order in orders(heads) {
        let mut temp = dev.temp_database()?;
        let database = temp.database();
        for row in &common {
            upgrade_to(database, revisions, row).map_err(|source| SourceError::Build {
                ident: row.clone(),
                source: Box::new(source),
            })?;
        }
        let exclude = own_tables(database, &revisions.options.table)?;
        let options = ReadOptions {
            schemas: schemas.to_vec(),
            exclude_tables: exclude,
        };
        let name = temp.name().to_string();
        let read = |database: &mut Database| {
            read_catalog(database.client(), &options).map_err(|source| SourceError::Read {
                side: name.clone(),
                source,
            })
        };
        if common_schema.is_none() {
            common_schema = Some(read(temp.database())?);
        }
        let mut run = OrderRun {
            heads: order.clone(),
            failure: None,
            difference: Plan::default(),
            incomparable: None,
        };
        for (n, head) in order.iter().enumerate() {
            if let Err(e) = upgrade_to(temp.database(), revisions, head) {
                run.failure = Some((head.clone(), e.to_string()));
                break;
            }
            if n == 0 && !alone.iter().any(|(h, _)| h == head) {
                alone.push((head.clone(), read(temp.database())?));
            }
        }
        if run.failure.is_none() {
            let end = read(temp.database())?;
            match &first_end {
                None => first_end = Some(end),
                Some(first) => match diff(first, &end, &DiffOptions::default()) {
                    Ok(plan) => run.difference = plan,
                    Err(e) => {
                        run.incomparable = Some(format!(
                            "its schema differs from the first order's in a way the diff cannot plan: {e}"
                        ))
                    }
                },
            }
        }
        report.orders.push(run);
    }
    if let Some(base) = &common_schema {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut several: BTreeSet<String> = BTreeSet::new();
        for (_, schema) in &alone {
            let touched: BTreeSet<String> = match diff(base, schema, &DiffOptions::default()) {
                Ok(plan) => plan
                    .statements
                    .iter()
                    .map(|s| s.object.to_string())
                    .collect(),
                Err(_) => BTreeSet::new(),
            };
            for object in touched {
                if !seen.insert(object.clone()) {
                    several.insert(object);
                }
            }
        }
        report.touched_by_several = several.into_iter().collect();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_every_permutation_up_to_three_heads() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(orders(&h(&["a", "b"])), [h(&["a", "b"]), h(&["b", "a"])]);
        let three = orders(&h(&["a", "b", "c"]));
        assert_eq!(three.len(), 6);
        let distinct: BTreeSet<_> = three.iter().collect();
        assert_eq!(distinct.len(), 6);
        let four = orders(&h(&["a", "b", "c", "d"]));
        assert_eq!(four.len(), 4);
        assert_eq!(four[2], h(&["c", "a", "b", "d"]));
    }
}
