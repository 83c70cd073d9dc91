//! The diff: a pure function of two models (no I/O) that returns the
//! ordered plan from one to the other, each statement with its hazards.
//!
//! Three steps, each its own module:
//! - `compute` (with `alter`, `table`): the typed [`change::Change`]s —
//!   creates, drops, recreations (a view around a column change) and
//!   in-place alters; `apply` performs one on a model, which the property
//!   tests use to check that the changes of `diff(A, B)` turn A into B;
//! - `order`: one topological sort over both sides' dependency edges;
//! - `sql`, `sql_alter`: each change as statements with hazards.

use std::collections::BTreeSet;

use thiserror::Error;

use super::model::{Catalog, Object, ObjectId, QualName};
use super::plan::Plan;

mod alter;
pub mod apply;
pub mod change;
mod compute;
mod order;
mod sql;
mod sql_alter;
mod sql_table;
mod sql_text;
mod table;

#[cfg(test)]
pub(crate) mod gen;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_plans;

use change::{Change, TableOp};

/// How to plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Build indexes on existing tables with `CREATE INDEX CONCURRENTLY`
    /// (and drop them `CONCURRENTLY`): non-transactional statements.
    pub concurrently: bool,
}

/// A change the diff cannot plan safely (never guessed, never skipped).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiffError {
    #[error("{object}: {message}")]
    Unsupported { object: ObjectId, message: String },
}

/// The plan that turns `from` into `to`. Empty when they are equal.
pub fn diff(from: &Catalog, to: &Catalog, options: &DiffOptions) -> Result<Plan, DiffError> {
    let changes = changes(from, to, options)?;
    let ctx = sql_text::Ctx {
        from,
        to,
        column_swaps: column_swaps(&changes),
        table_swaps: table_swaps(&changes),
    };
    let _span = tracing::debug_span!("diff sql").entered();
    let statements = changes.iter().flat_map(|c| sql::render(c, &ctx)).collect();
    Ok(Plan { statements })
}

/// The plan that builds `catalog` in a fresh database
/// ([`Catalog::empty_database`]): `schema dump`.
pub fn dump(catalog: &Catalog) -> Result<Plan, DiffError> {
    diff(&Catalog::empty_database(), catalog, &DiffOptions::default())
}

/// The typed changes of `diff(from, to)`, in the order they run.
pub fn changes(
    from: &Catalog,
    to: &Catalog,
    options: &DiffOptions,
) -> Result<Vec<Change>, DiffError> {
    let from_edges = order::ordering_edges(from);
    let mut computed = {
        let _span = tracing::debug_span!("diff compute").entered();
        compute::compute(from, &from_edges, to, options)?
    };
    mark_enum_values_used_later(&mut computed.list, to);
    let _span = tracing::debug_span!("diff order").entered();
    let order = order::order(&computed, from, &from_edges, to);
    let mut slots: Vec<Option<Change>> = computed.list.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// A new enum value that the target uses somewhere (a default, a check, a
/// view, a function...) must be committed before: the plan then runs
/// without one transaction around it.
fn mark_enum_values_used_later(list: &mut [Change], to: &Catalog) {
    if !list
        .iter()
        .any(|c| matches!(c, Change::EnumAddValue { .. }))
    {
        return;
    }
    let texts: Vec<String> = to.objects.values().flat_map(expressions).collect();
    for change in list.iter_mut() {
        if let Change::EnumAddValue {
            value, used_later, ..
        } = change
        {
            let quoted = crate::schema::render::literal(value);
            *used_later = texts.iter().any(|t| t.contains(&quoted));
        }
    }
}

/// Every SQL text an object holds.
fn expressions(object: &Object) -> Vec<String> {
    let mut out = Vec::new();
    match object {
        Object::Table(t) => {
            for c in &t.columns {
                out.extend(c.default.iter().chain(&c.generated).map(|e| e.0.clone()));
            }
        }
        Object::View(v) => out.push(v.definition.0.clone()),
        Object::Function(f) => out.push(f.definition.0.clone()),
        Object::Constraint(c) => out.push(c.definition.0.clone()),
        Object::Index(i) => out.push(i.definition.0.clone()),
        Object::Trigger(t) => out.push(t.definition.0.clone()),
        Object::Policy(p) => out.extend(p.using.iter().chain(&p.with_check).map(|e| e.0.clone())),
        Object::Type(t) => {
            if let crate::schema::model::TypeKind::Domain {
                default, checks, ..
            } = &t.kind
            {
                out.extend(default.iter().chain(checks.values()).map(|e| e.0.clone()));
            }
        }
        _ => {}
    }
    out
}

/// Tables whose plan drops a column and adds another one.
fn column_swaps(changes: &[Change]) -> BTreeSet<super::model::QualName> {
    use std::collections::BTreeMap;
    let mut drops: BTreeMap<_, BTreeSet<&String>> = BTreeMap::new();
    let mut adds: BTreeMap<_, BTreeSet<&String>> = BTreeMap::new();
    for c in changes {
        if let Change::Table { table, op } = c {
            match op {
                TableOp::DropColumn(name) => drops.entry(table).or_default().insert(name),
                TableOp::AddColumn(col) => adds.entry(table).or_default().insert(&col.name),
                _ => false,
            };
        }
    }
    drops
        .into_iter()
        .filter(|(table, dropped)| {
            adds.get(table)
                .is_some_and(|added| !dropped.is_subset(added) && !added.is_subset(dropped))
        })
        .map(|(table, _)| table.clone())
        .collect()
}

/// Schemas whose plan drops a table and creates one.
fn table_swaps(changes: &[Change]) -> BTreeSet<String> {
    // A table recreated under its own name (a new partitioning) is no rename.
    let recreated: BTreeSet<&QualName> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Drop {
                object: Object::Table(t),
                recreate: true,
                ..
            } => Some(&t.name),
            _ => None,
        })
        .collect();
    let mut drops = BTreeSet::new();
    let mut creates = BTreeSet::new();
    for c in changes {
        match c {
            Change::Drop {
                object: Object::Table(t),
                recreate: false,
                ..
            } => {
                drops.insert(t.name.schema.clone());
            }
            Change::Create {
                object: Object::Table(t),
                ..
            } if !recreated.contains(&t.name) => {
                creates.insert(t.name.schema.clone());
            }
            _ => {}
        }
    }
    drops.intersection(&creates).cloned().collect()
}
