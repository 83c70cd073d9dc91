//! Do branches commute? `merge --verify` and `check --merges`: the heads'
//! branches are applied from their merge base in every order, each order
//! on its own temporary database of the dev server, and the schemas they
//! leave are compared with the diff. Branches commute when every order
//! applies and leaves the same schema; then a merge revision (which has no
//! SQL of its own) cannot depend on the order a database took them in.

use serde::Serialize;
use thiserror::Error;

use super::devserver::DevServer;
use super::model::{Catalog, ObjectId};
use super::read::{read_catalog, ReadOptions};
use super::source::{own_tables, Revisions, SourceError};
use super::{diff, DiffError, DiffOptions};
use crate::db::{self, DbError, StepSql};
use crate::graph::{Direction, Ix};

/// At most this many heads get every order (3! = 6 databases); more are
/// tried in rotations (each head once first, the rest after it in order).
pub const ALL_ORDERS_UP_TO: usize = 3;

/// What applying the branches in every order found.
#[derive(Debug, Serialize)]
pub struct CommuteReport {
    /// The heads, as given.
    pub heads: Vec<String>,
    /// The revisions the branches fork from (applied first, every time).
    pub base: Vec<String>,
    pub orders: Vec<OrderOutcome>,
    /// Objects whose definition differs between the first order that
    /// applied and another one (each once).
    pub differing: Vec<String>,
    /// Objects each of two or more branches changes on its own (from the
    /// merge base): where a conflict comes from.
    pub touched_by_several: Vec<String>,
}

impl CommuteReport {
    /// Every order applied and they all left the same schema.
    pub fn commutes(&self) -> bool {
        self.orders.iter().all(|o| o.failure.is_none()) && self.differing.is_empty()
    }
}

/// One order of the heads' branches.
#[derive(Debug, Serialize)]
pub struct OrderOutcome {
    /// The heads, in the order their branches were applied.
    pub order: Vec<String>,
    /// Why this order did not apply, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<OrderFailure>,
    /// The statements that turn the first applied order's schema into this
    /// one's (empty when they match, or for the first itself).
    pub difference: Vec<DifferenceLine>,
}

#[derive(Debug, Serialize)]
pub struct OrderFailure {
    /// The revision whose upgrade failed, when the runner names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct DifferenceLine {
    pub object: String,
    pub sql: String,
}

#[derive(Debug, Error)]
pub enum CommuteError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("comparing the schemas the orders leave: {0}")]
    Diff(#[from] DiffError),
}

impl From<DbError> for CommuteError {
    fn from(e: DbError) -> Self {
        CommuteError::Source(e.into())
    }
}

/// The orders the branches of `heads` are applied in: every permutation
/// up to [`ALL_ORDERS_UP_TO`] heads, else each rotation.
pub fn orders(heads: &[Ix]) -> Vec<Vec<Ix>> {
    if heads.len() <= ALL_ORDERS_UP_TO {
        let mut out = Vec::new();
        permute(heads.to_vec(), 0, &mut out);
        out
    } else {
        (0..heads.len())
            .map(|k| heads[k..].iter().chain(&heads[..k]).copied().collect())
            .collect()
    }
}

fn permute(mut items: Vec<Ix>, k: usize, out: &mut Vec<Vec<Ix>>) {
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

/// Applies the branches of `heads` from their merge base in every order
/// (see [`orders`]) on temporary databases of `dev`, and compares the
/// schemas. `schemas` is the `--schema` filter (empty: every schema).
pub fn check<S: StepSql>(
    dev: &DevServer,
    revisions: &Revisions<'_, S>,
    heads: &[Ix],
    schemas: &[String],
) -> Result<CommuteReport, CommuteError> {
    let g = revisions.graph;
    let base = g.merge_base(heads);
    let needed = g.ancestors_with_deps(heads);
    let missing: Vec<String> = (0..g.len())
        .filter(|&i| {
            needed[i]
                && revisions
                    .sql
                    .step_sql(g.id(i), Direction::Upgrade)
                    .is_none()
        })
        .map(|i| g.id(i).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(SourceError::NoSql {
            ident: g.ids(heads).join(", "),
            revisions: missing,
        }
        .into());
    }
    let mut report = CommuteReport {
        heads: g.ids(heads),
        base: g.ids(&base),
        orders: Vec::new(),
        differing: Vec::new(),
        touched_by_several: Vec::new(),
    };
    let mut base_schema: Option<Catalog> = None;
    let mut alone: Vec<(Ix, Catalog)> = Vec::new();
    let mut first: Option<Catalog> = None;
    for order in orders(heads) {
        let mut temp = dev.temp_database()?;
        let database = temp.database();
        let options = ReadOptions {
            schemas: schemas.to_vec(),
            exclude_tables: Vec::new(),
        };
        let mut outcome = OrderOutcome {
            order: g.ids(&order),
            failure: None,
            difference: Vec::new(),
        };
        let mut applied = apply(database, revisions, &base);
        if applied.is_ok() && base_schema.is_none() {
            base_schema = Some(read(database, revisions, &options)?);
        }
        for (k, &head) in order.iter().enumerate() {
            if applied.is_err() {
                break;
            }
            applied = apply(database, revisions, &[head]);
            let known = alone.iter().any(|(h, _)| *h == head);
            if k == 0 && applied.is_ok() && !known {
                alone.push((head, read(database, revisions, &options)?));
            }
        }
        match applied {
            Err(failure) => outcome.failure = Some(failure),
            Ok(()) => {
                let schema = read(database, revisions, &options)?;
                match &first {
                    None => first = Some(schema),
                    Some(reference) => {
                        for s in diff(reference, &schema, &DiffOptions::default())?.statements {
                            let object = s.object.to_string();
                            if !report.differing.contains(&object) {
                                report.differing.push(object.clone());
                            }
                            outcome
                                .difference
                                .push(DifferenceLine { object, sql: s.sql });
                        }
                    }
                }
            }
        }
        report.orders.push(outcome);
    }
    if let Some(base_schema) = &base_schema {
        report.touched_by_several = touched_by_several(base_schema, &alone);
    }
    Ok(report)
}

/// Upgrades `database` to each of `targets`; a failure names the revision.
fn apply<S: StepSql>(
    database: &mut db::Database,
    revisions: &Revisions<'_, S>,
    targets: &[Ix],
) -> Result<(), OrderFailure> {
    for &target in targets {
        let id = revisions.graph.id(target).to_string();
        db::move_to(
            database,
            revisions.graph,
            Direction::Upgrade,
            &id,
            revisions.sql,
            revisions.options,
            |_: &crate::graph::Step, _| {},
        )
        .map_err(|e| OrderFailure {
            revision: match &e {
                DbError::StepFailed(f) => Some(f.revision.clone()),
                _ => None,
            },
            message: match &e {
                DbError::StepFailed(f) => f.message.clone(),
                other => other.to_string(),
            },
        })?;
    }
    Ok(())
}

fn read<S: StepSql>(
    database: &mut db::Database,
    revisions: &Revisions<'_, S>,
    options: &ReadOptions,
) -> Result<Catalog, SourceError> {
    let mut options = options.clone();
    options.exclude_tables = own_tables(database, &revisions.options.table)?;
    read_catalog(database.client(), &options).map_err(|source| SourceError::Read {
        side: "a merge --verify database".to_string(),
        source,
    })
}

/// The objects that more than one branch changes, each alone from the
/// merge base.
fn touched_by_several(base: &Catalog, alone: &[(Ix, Catalog)]) -> Vec<String> {
    let touched: Vec<Vec<ObjectId>> = alone
        .iter()
        .map(|(_, schema)| {
            let mut ids: Vec<ObjectId> = diff(base, schema, &DiffOptions::default())
                .map(|p| p.statements.into_iter().map(|s| s.object).collect())
                .unwrap_or_default();
            ids.sort();
            ids.dedup();
            ids
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for (i, a) in touched.iter().enumerate() {
        for id in a {
            let name = id.to_string();
            if touched[i + 1..].iter().any(|b| b.contains(id)) && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}
