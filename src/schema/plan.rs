//! The diff's output: an ordered list of statements, each with the object
//! it changes, what kind of change it is, its hazards, and whether it may
//! run inside a transaction. `render` writes it as a psql script; `--json`
//! prints it as is.

use std::fmt;

use serde::Serialize;

use super::model::ObjectId;

/// An ordered plan: run the statements in this order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Plan {
    pub statements: Vec<Statement>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// True when every statement may run inside one transaction.
    pub fn transactional(&self) -> bool {
        self.statements.iter().all(|s| s.transactional)
    }
}

/// One SQL statement of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The statement, without the trailing `;`.
    pub sql: String,
    /// The object it creates, drops or changes.
    pub object: ObjectId,
    pub kind: StatementKind,
    pub hazards: Vec<Hazard>,
    /// False for statements PostgreSQL refuses inside a transaction block
    /// (`CREATE INDEX CONCURRENTLY`, `ALTER TYPE ... ADD VALUE` before
    /// PostgreSQL 12 is not a concern: 12+ allows it).
    pub transactional: bool,
}

/// What a statement does to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    Create,
    Drop,
    Alter,
    /// Dropped and created again (a view around a column change, a
    /// changed index or constraint), or `CREATE OR REPLACE`.
    Replace,
    /// `VALIDATE CONSTRAINT` after a `NOT VALID` add.
    Validate,
    Comment,
    Grant,
    Revoke,
}

/// A risk a statement carries, printed as `-- hazard: kind: message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hazard {
    pub kind: HazardKind,
    /// Says what exactly, e.g. "drops column public.orders.note and its data".
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardKind {
    /// Data is deleted: a dropped table, column, enum value, sequence.
    DataLoss,
    /// PostgreSQL rewrites the whole table (a column type change that is
    /// not binary-coercible, a volatile default, SET LOGGED/UNLOGGED).
    TableRewrite,
    /// Holds `ACCESS EXCLUSIVE` on a table for longer than a catalog update
    /// (a full scan or rewrite under the lock).
    AccessExclusiveLock,
    /// Builds an index: a long lock on writes unless `--concurrently`.
    IndexBuild,
    /// Cannot be undone by the reverse diff (an enum value cannot be
    /// removed without recreating the type, dropped data cannot return).
    Irreversible,
    /// A drop and an add of the same kind on one table: it may have been a
    /// rename, which a diff cannot tell. Review; write a RENAME if it was.
    PossibleRename,
    /// A statement that cannot run inside a transaction block.
    NonTransactional,
}

impl HazardKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            HazardKind::DataLoss => "data_loss",
            HazardKind::TableRewrite => "table_rewrite",
            HazardKind::AccessExclusiveLock => "access_exclusive_lock",
            HazardKind::IndexBuild => "index_build",
            HazardKind::Irreversible => "irreversible",
            HazardKind::PossibleRename => "possible_rename",
            HazardKind::NonTransactional => "non_transactional",
        }
    }
}

impl fmt::Display for HazardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
