//! The typed changes the diff computes before it orders and renders them.
//! Each change is one step that PostgreSQL can take, and `apply` performs
//! it on a model, so that the property tests can check that the steps of
//! `diff(A, B)` turn A into B.

use crate::schema::model::{
    Attribute, Column, Dependency, Expr, Grant, Identity, Object, ObjectId, QualName, Sequence,
};

/// One step of a plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Creates `object` (with its comments, grants and the TO side's
    /// outgoing dependency edges).
    Create {
        object: Object,
        depends: Vec<Dependency>,
        /// The table (or type) it belongs to already existed before the
        /// plan: a constraint is then added `NOT VALID` + `VALIDATE`, an
        /// index is an index build on a live table.
        existing_parent: bool,
        concurrently: bool,
    },
    /// Drops `object` (the FROM side's version).
    Drop {
        object: Object,
        /// Dropped only to be created again (a view around a column change).
        recreate: bool,
        concurrently: bool,
    },
    /// `CREATE OR REPLACE` of a view or function, in place.
    Replace {
        object: Object,
        depends: Vec<Dependency>,
    },
    /// A one-step change of a table.
    Table {
        table: QualName,
        op: TableOp,
    },
    /// `ALTER TABLE ... VALIDATE CONSTRAINT` (the model's `validated`).
    Validate {
        table: QualName,
        name: String,
    },
    /// `ALTER TYPE ... ADD VALUE`.
    EnumAddValue {
        name: QualName,
        value: String,
        position: EnumPosition,
        /// The value is used elsewhere in the target schema: it must be
        /// committed before that use, so no transaction around the plan.
        used_later: bool,
    },
    /// `ALTER TYPE old RENAME TO new` (an enum about to be recreated).
    RenameType {
        from: QualName,
        to: QualName,
    },
    Domain {
        name: QualName,
        op: DomainOp,
    },
    /// `ALTER TYPE ... ADD/DROP/ALTER ATTRIBUTE` of a composite type.
    Composite {
        name: QualName,
        op: CompositeOp,
    },
    /// `ALTER SEQUENCE` to the new parameters (not OWNED BY).
    AlterSequence {
        from: Sequence,
        to: Sequence,
    },
    /// `ALTER SEQUENCE ... OWNED BY`.
    OwnedBy {
        sequence: QualName,
        owner: Option<(QualName, String)>,
    },
    ExtensionUpdate {
        name: String,
        version: String,
    },
    ExtensionSchema {
        name: String,
        schema: String,
    },
    /// `ALTER TABLE ... ENABLE/DISABLE ... TRIGGER`.
    TriggerEnabled {
        table: QualName,
        name: String,
        enabled: char,
    },
    /// `ALTER POLICY` (roles, USING, WITH CHECK).
    AlterPolicy {
        from: Object,
        to: Object,
    },
    /// `COMMENT ON`, also of a column (`column`) of a table or view.
    Comment {
        id: ObjectId,
        column: Option<String>,
        text: Option<String>,
    },
    Grant {
        id: ObjectId,
        grant: Grant,
    },
    Revoke {
        id: ObjectId,
        grant: Grant,
    },
    /// Model bookkeeping with no SQL: the survivor's outgoing dependency
    /// edges as PostgreSQL records them after the other steps.
    Depends {
        id: ObjectId,
        edges: Vec<Dependency>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum EnumPosition {
    Before(String),
    After(String),
    End,
}

/// One `ALTER TABLE` action.
#[derive(Clone, Debug, PartialEq)]
pub enum TableOp {
    AddColumn(Column),
    DropColumn(String),
    /// `ALTER COLUMN ... TYPE ... [COLLATE] USING col::type`.
    ColumnType {
        column: String,
        from: Expr,
        to: Expr,
        collation: Option<String>,
        /// Cast through text (an enum recreated under the same name).
        via_text: bool,
    },
    ColumnDefault {
        column: String,
        default: Option<Expr>,
    },
    ColumnNotNull {
        column: String,
        not_null: bool,
    },
    ColumnIdentity {
        column: String,
        from: Option<Identity>,
        to: Option<Identity>,
    },
    /// `ALTER COLUMN ... DROP EXPRESSION`: a generated column becomes plain.
    DropExpression(String),
    SetLogged(bool),
    /// Storage parameters: `RESET (names)` then `SET (pairs)`.
    Options {
        reset: Vec<String>,
        set: Vec<String>,
        result: Vec<String>,
    },
    RowSecurity(bool),
    ForceRowSecurity(bool),
    Inherit(QualName),
    NoInherit(QualName),
    /// `ALTER TABLE parent ATTACH PARTITION this FOR VALUES ...`.
    Attach {
        parent: QualName,
        bound: Expr,
    },
    Detach {
        parent: QualName,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum DomainOp {
    Default(Option<Expr>),
    NotNull(bool),
    AddCheck { name: String, check: Expr },
    DropCheck(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum CompositeOp {
    Add(Attribute),
    Drop(String),
    Type(Attribute),
}

impl Change {
    /// The object the change is about (for ordering and `--json`).
    pub fn subject(&self) -> ObjectId {
        match self {
            Change::Create { object, .. }
            | Change::Drop { object, .. }
            | Change::Replace { object, .. }
            | Change::AlterPolicy { to: object, .. } => object.id(),
            Change::Table { table, .. } | Change::Validate { table, .. } => ObjectId::Table {
                name: table.clone(),
            },
            Change::EnumAddValue { name, .. }
            | Change::Domain { name, .. }
            | Change::Composite { name, .. }
            | Change::RenameType { from: name, .. } => ObjectId::Type { name: name.clone() },
            Change::AlterSequence { to, .. } => ObjectId::Sequence {
                name: to.name.clone(),
            },
            Change::OwnedBy { sequence, .. } => ObjectId::Sequence {
                name: sequence.clone(),
            },
            Change::ExtensionUpdate { name, .. } | Change::ExtensionSchema { name, .. } => {
                ObjectId::Extension { name: name.clone() }
            }
            Change::TriggerEnabled { table, name, .. } => ObjectId::Trigger {
                table: table.clone(),
                name: name.clone(),
            },
            Change::Comment { id, .. }
            | Change::Grant { id, .. }
            | Change::Revoke { id, .. }
            | Change::Depends { id, .. } => id.clone(),
        }
    }
}

/// The changes, and the pairs `(a, b)` of change indexes where `a` must run
/// before `b` beyond what the dependency edges say.
#[derive(Default)]
pub struct Changes {
    pub list: Vec<Change>,
    pub before: Vec<(usize, usize)>,
}

impl Changes {
    pub fn push(&mut self, change: Change) -> usize {
        self.list.push(change);
        self.list.len() - 1
    }
}
