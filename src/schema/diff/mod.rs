//! The diff: a pure function of two models (no I/O) that returns the
//! ordered plan from one to the other, each statement with its hazards.
//!
//! STUB (lead): the signatures are the contract; the diff helper fills them.

use thiserror::Error;

use super::model::{Catalog, ObjectId};
use super::plan::Plan;

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
    let _ = (from, to, options);
    Ok(Plan::default())
}

/// The plan that builds `catalog` in a fresh database
/// ([`Catalog::empty_database`]): `schema dump`.
pub fn dump(catalog: &Catalog) -> Result<Plan, DiffError> {
    diff(&Catalog::empty_database(), catalog, &DiffOptions::default())
}
