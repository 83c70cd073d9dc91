//! The typed schema model: what a PostgreSQL database's schema is, as data.
//!
//! One flat map from [`ObjectId`] to [`Object`], plus the dependency edges
//! read from `pg_depend`. The model holds no DDL statements: SQL appears
//! only as *expressions* that PostgreSQL itself printed in canonical form
//! ([`Expr`]: `pg_get_expr`, `pg_get_viewdef`, `pg_get_constraintdef`,
//! `pg_get_indexdef`, `pg_get_triggerdef`, `pg_get_functiondef`,
//! `format_type`), so that two databases built from the same DDL give
//! equal models. Statements are written by `render` from the plan.
//!
//! Flat, so that the diff is generic (an id on one side only is a create or
//! a drop; an id on both sides with different objects is an alter or a
//! replace) and ordering is one topological sort over the dependency edges.
//! Columns live inside their [`Table`] (their order matters and `CREATE
//! TABLE` lists them); constraints, indexes, triggers and policies are
//! objects of their own, so that a foreign key can be added after both of
//! its tables exist.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// A schema-qualified name, e.g. `public.orders`. Both parts are the
/// catalog's names, unquoted; `render` quotes them where needed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualName {
    pub schema: String,
    pub name: String,
}

impl QualName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> QualName {
        QualName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for QualName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// SQL text exactly as PostgreSQL printed it (an expression, a type name, a
/// view's query, a constraint's or an index's definition). Compared as
/// text: PostgreSQL's printers are canonical for a given server version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Expr(pub String);

impl Expr {
    pub fn new(text: impl Into<String>) -> Expr {
        Expr(text.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity of one schema object. Ordered so that iteration over the
/// model is deterministic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectId {
    Schema {
        name: String,
    },
    Extension {
        name: String,
    },
    /// `CREATE COLLATION` (one made by hand, not one of PostgreSQL's).
    Collation {
        name: QualName,
    },
    /// Enum, domain, composite or range type.
    Type {
        name: QualName,
    },
    Sequence {
        name: QualName,
    },
    /// Ordinary, partitioned, unlogged, partition or inheriting table.
    Table {
        name: QualName,
    },
    /// View or materialized view.
    View {
        name: QualName,
    },
    /// Function or procedure; `args` is
    /// `pg_get_function_identity_arguments` (`integer, text[]`), since
    /// functions overload by argument types.
    Function {
        name: QualName,
        args: String,
    },
    /// A table constraint (primary key, unique, check, foreign key,
    /// exclusion). NOT NULL is a column property, not a constraint here.
    Constraint {
        table: QualName,
        name: String,
    },
    /// An index that no constraint owns (a constraint's index is part of
    /// the constraint). Index names are unique within their schema.
    Index {
        name: QualName,
    },
    /// A trigger on a table or a view (not internal ones).
    Trigger {
        table: QualName,
        name: String,
    },
    /// A row-level security policy.
    Policy {
        table: QualName,
        name: String,
    },
}

impl ObjectId {
    /// The kind as one lowercase word, as `--json` prints it in `object`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ObjectId::Schema { .. } => "schema",
            ObjectId::Extension { .. } => "extension",
            ObjectId::Collation { .. } => "collation",
            ObjectId::Type { .. } => "type",
            ObjectId::Sequence { .. } => "sequence",
            ObjectId::Table { .. } => "table",
            ObjectId::View { .. } => "view",
            ObjectId::Function { .. } => "function",
            ObjectId::Constraint { .. } => "constraint",
            ObjectId::Index { .. } => "index",
            ObjectId::Trigger { .. } => "trigger",
            ObjectId::Policy { .. } => "policy",
        }
    }

    /// The schema the object lives in (`None` for schemas and extensions).
    pub fn schema(&self) -> Option<&str> {
        match self {
            ObjectId::Schema { .. } | ObjectId::Extension { .. } => None,
            ObjectId::Type { name }
            | ObjectId::Collation { name }
            | ObjectId::Sequence { name }
            | ObjectId::Table { name }
            | ObjectId::View { name }
            | ObjectId::Index { name }
            | ObjectId::Function { name, .. } => Some(&name.schema),
            ObjectId::Constraint { table, .. }
            | ObjectId::Trigger { table, .. }
            | ObjectId::Policy { table, .. } => Some(&table.schema),
        }
    }
}

/// `table public.orders`, `constraint orders_pkey on public.orders`,
/// `function public.f(integer, text)`: how messages and `--json` name it.
impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind_name();
        match self {
            ObjectId::Schema { name } | ObjectId::Extension { name } => write!(f, "{kind} {name}"),
            ObjectId::Type { name }
            | ObjectId::Collation { name }
            | ObjectId::Sequence { name }
            | ObjectId::Table { name }
            | ObjectId::View { name }
            | ObjectId::Index { name } => write!(f, "{kind} {name}"),
            ObjectId::Function { name, args } => write!(f, "{kind} {name}({args})"),
            ObjectId::Constraint { table, name }
            | ObjectId::Trigger { table, name }
            | ObjectId::Policy { table, name } => write!(f, "{kind} {name} on {table}"),
        }
    }
}

/// A whole database's schema (the part mergepoint reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub objects: BTreeMap<ObjectId, Object>,
    /// `(dependent, referenced)`: the dependent needs the referenced object
    /// to exist (from `pg_depend`, plus the edges implied by the model, such
    /// as a constraint on its table). Both ends are in `objects`.
    pub depends: BTreeSet<Dependency>,
}

/// One dependency edge. `column` is set when the dependent uses one column
/// of a referenced table (a view reading `orders.status`), so that a change
/// to that column knows which views to drop and recreate around it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dependency {
    pub dependent: ObjectId,
    pub referenced: ObjectId,
    pub column: Option<String>,
}

/// One object of the schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "object", rename_all = "snake_case")]
pub enum Object {
    Schema(Namespace),
    Extension(Extension),
    Collation(Collation),
    Type(TypeDef),
    Sequence(Sequence),
    Table(Table),
    View(View),
    Function(Function),
    Constraint(Constraint),
    Index(Index),
    Trigger(Trigger),
    Policy(Policy),
}

/// A privilege granted on an object: `GRANT SELECT ON t TO alice WITH GRANT
/// OPTION` is `{grantee: "alice", privilege: "SELECT", grantable: true}`.
/// `grantee` is `PUBLIC` for the public pseudo-role. The owner's implicit
/// privileges are not listed (they are not grants). An object whose ACL is
/// still NULL holds PostgreSQL's defaults (`acldefault`): a new function
/// has `EXECUTE` for `PUBLIC`, a new type `USAGE` for `PUBLIC`, so that a
/// `REVOKE ... FROM PUBLIC` is a visible difference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: String,
    pub privilege: String,
    pub grantable: bool,
}

/// `CREATE SCHEMA`. The `public` schema is present when the database has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub name: String,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

/// `CREATE EXTENSION name WITH SCHEMA schema VERSION version`. The objects
/// an extension creates are not read as objects of their own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    pub schema: String,
    pub version: String,
    pub comment: Option<String>,
}

/// `CREATE COLLATION name (provider = ..., locale = ... | lc_collate = ...,
/// lc_ctype = ..., deterministic = ...)`. PostgreSQL has no ALTER for
/// these: a change is a drop and a create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collation {
    pub name: QualName,
    /// `libc` or `icu`.
    pub provider: String,
    /// The ICU locale (`en-u-kn-true`); `None` for libc.
    pub locale: Option<String>,
    /// libc's `LC_COLLATE` and `LC_CTYPE`; `None` for ICU.
    pub lc_collate: Option<String>,
    pub lc_ctype: Option<String>,
    pub deterministic: bool,
    pub comment: Option<String>,
}

/// A user-defined type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDef {
    pub name: QualName,
    pub kind: TypeKind,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type_kind", rename_all = "snake_case")]
pub enum TypeKind {
    /// Labels in sort order (`enumsortorder`).
    Enum {
        labels: Vec<String>,
    },
    Domain {
        /// `format_type` of the base type.
        base: Expr,
        /// As [`Column::collation`].
        collation: Option<String>,
        default: Option<Expr>,
        not_null: bool,
        /// Named CHECK constraints: name and `pg_get_constraintdef`
        /// (`CHECK ((VALUE > 0))`).
        checks: BTreeMap<String, Expr>,
    },
    Composite {
        attributes: Vec<Attribute>,
    },
    Range {
        subtype: Expr,
        /// Everything else as `CREATE TYPE ... AS RANGE` options
        /// (`subtype_diff = float8mi`), in a fixed order.
        options: Vec<(String, String)>,
    },
}

/// One attribute of a composite type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub data_type: Expr,
    /// As [`Column::collation`].
    pub collation: Option<String>,
}

/// `CREATE SEQUENCE`. Sequences behind identity columns are part of the
/// column and not read as objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub name: QualName,
    /// `smallint`, `integer` or `bigint`.
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `OWNED BY table.column` (serial columns own their sequence).
    pub owned_by: Option<(QualName, String)>,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

/// A table: ordinary, partitioned, a partition, or an inheritance child.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: QualName,
    /// Columns in `attnum` order, dropped columns left out.
    pub columns: Vec<Column>,
    pub unlogged: bool,
    /// `PARTITION BY ...` (`pg_get_partkeydef`: `RANGE (created_at)`).
    pub partition_by: Option<Expr>,
    /// `PARTITION OF parent FOR VALUES ...`: the parent and
    /// `pg_get_expr(relpartbound)` (`FOR VALUES FROM (1) TO (10)`).
    pub partition_of: Option<(QualName, Expr)>,
    /// `INHERITS (...)` parents, in order (not for partitions).
    pub inherits: Vec<QualName>,
    /// `WITH (fillfactor=70)` storage parameters, as `reloptions` lists them.
    pub options: Vec<String>,
    pub row_security: bool,
    pub force_row_security: bool,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `character varying(10)`,
    /// `public.shipping_status`, `integer[]`.
    pub data_type: Expr,
    /// Only when it differs from the type's default collation. SQL text,
    /// every part double-quoted, the schema left out for `pg_catalog`:
    /// `"C"`, `"public"."numeric"`.
    pub collation: Option<String>,
    /// `pg_get_expr(adbin)` (not set for generated columns).
    pub default: Option<Expr>,
    pub not_null: bool,
    pub identity: Option<Identity>,
    /// `GENERATED ALWAYS AS (expr) STORED`.
    pub generated: Option<Expr>,
    /// False when the column comes only from a parent (inheritance or
    /// partition) and is not declared by this table itself.
    pub is_local: bool,
    pub comment: Option<String>,
}

/// `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    Always,
    ByDefault,
}

/// `CREATE [MATERIALIZED] VIEW`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: QualName,
    pub materialized: bool,
    /// `pg_get_viewdef(oid)`: the query, canonical.
    pub definition: Expr,
    /// `WITH (security_barrier=true, check_option=local)` options.
    pub options: Vec<String>,
    /// Column names and types, in order (a view can only gain columns at
    /// the end with `CREATE OR REPLACE`).
    pub columns: Vec<(String, Expr)>,
    pub column_comments: BTreeMap<String, String>,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

/// A function or procedure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub name: QualName,
    /// `pg_get_function_identity_arguments`.
    pub identity_args: String,
    pub procedure: bool,
    /// `pg_get_function_result` (`None` for procedures).
    pub returns: Option<Expr>,
    pub language: String,
    /// `pg_get_functiondef`: the whole `CREATE OR REPLACE FUNCTION`, the
    /// one place where the model keeps a statement, because PostgreSQL
    /// prints no smaller canonical form of a function.
    pub definition: Expr,
    pub comment: Option<String>,
    pub grants: BTreeSet<Grant>,
}

/// A table constraint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub table: QualName,
    pub name: String,
    pub kind: ConstraintKind,
    /// `pg_get_constraintdef` without `NOT VALID`: `PRIMARY KEY (id)`,
    /// `FOREIGN KEY (z) REFERENCES orders(order_id) ON DELETE CASCADE`.
    pub definition: Expr,
    /// Columns of the key, for PK/unique/FK/exclusion, in key order.
    pub columns: Vec<String>,
    /// Foreign key: the referenced table.
    pub references: Option<QualName>,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// False for a `NOT VALID` check or foreign key not yet validated.
    pub validated: bool,
    /// False when inherited only from a parent (not declared here).
    pub is_local: bool,
    pub comment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclusion,
}

/// An index no constraint owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: QualName,
    /// The table or materialized view it is on.
    pub table: QualName,
    /// `pg_get_indexdef`: `CREATE UNIQUE INDEX x ON public.t USING btree
    /// (a) INCLUDE (b) WHERE (a > 0)`.
    pub definition: Expr,
    pub unique: bool,
    /// `btree`, `gin`, `gist`, ...
    pub method: String,
    /// On a partition: the partitioned table's index it is attached to
    /// (created by PostgreSQL with the parent's, never on its own).
    pub parent: Option<QualName>,
    pub comment: Option<String>,
}

/// A trigger (`pg_get_triggerdef`), not internal, not a partition's clone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub table: QualName,
    pub name: String,
    pub definition: Expr,
    /// `O` origin (default), `D` disabled, `R` replica, `A` always.
    pub enabled: char,
    pub comment: Option<String>,
}

/// `CREATE POLICY`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub table: QualName,
    pub name: String,
    pub permissive: bool,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// Role names, sorted; `PUBLIC` for everyone.
    pub roles: Vec<String>,
    pub using: Option<Expr>,
    pub with_check: Option<Expr>,
    pub comment: Option<String>,
}

impl Object {
    /// The id this object is stored under in [`Catalog::objects`].
    pub fn id(&self) -> ObjectId {
        match self {
            Object::Schema(s) => ObjectId::Schema {
                name: s.name.clone(),
            },
            Object::Extension(e) => ObjectId::Extension {
                name: e.name.clone(),
            },
            Object::Collation(c) => ObjectId::Collation {
                name: c.name.clone(),
            },
            Object::Type(t) => ObjectId::Type {
                name: t.name.clone(),
            },
            Object::Sequence(s) => ObjectId::Sequence {
                name: s.name.clone(),
            },
            Object::Table(t) => ObjectId::Table {
                name: t.name.clone(),
            },
            Object::View(v) => ObjectId::View {
                name: v.name.clone(),
            },
            Object::Function(f) => ObjectId::Function {
                name: f.name.clone(),
                args: f.identity_args.clone(),
            },
            Object::Constraint(c) => ObjectId::Constraint {
                table: c.table.clone(),
                name: c.name.clone(),
            },
            Object::Index(i) => ObjectId::Index {
                name: i.name.clone(),
            },
            Object::Trigger(t) => ObjectId::Trigger {
                table: t.table.clone(),
                name: t.name.clone(),
            },
            Object::Policy(p) => ObjectId::Policy {
                table: p.table.clone(),
                name: p.name.clone(),
            },
        }
    }
}

impl Catalog {
    /// Adds an object under its own id (replacing one with the same id).
    pub fn insert(&mut self, object: Object) {
        self.objects.insert(object.id(), object);
    }

    pub fn get(&self, id: &ObjectId) -> Option<&Object> {
        self.objects.get(id)
    }

    pub fn table(&self, name: &QualName) -> Option<&Table> {
        match self.objects.get(&ObjectId::Table { name: name.clone() }) {
            Some(Object::Table(t)) => Some(t),
            _ => None,
        }
    }

    /// Objects that depend on `id` directly (edges into it).
    pub fn dependents_of<'a>(
        &'a self,
        id: &'a ObjectId,
    ) -> impl Iterator<Item = &'a Dependency> + 'a {
        self.depends.iter().filter(move |d| &d.referenced == id)
    }
}

impl Catalog {
    /// The schema of a freshly created PostgreSQL 15 database (from
    /// `template1` untouched): the `public` schema, owned by
    /// `pg_database_owner`, with its comment and `USAGE` for `PUBLIC`.
    /// `plpgsql` is not read (every database has it), nor are the owner's
    /// own privileges. `schema dump` is the diff from this.
    pub fn empty_database() -> Catalog {
        let mut catalog = Catalog::default();
        catalog.insert(Object::Schema(Namespace {
            name: "public".to_string(),
            comment: Some("standard public schema".to_string()),
            grants: BTreeSet::from([Grant {
                grantee: "PUBLIC".to_string(),
                privilege: "USAGE".to_string(),
                grantable: false,
            }]),
        }));
        catalog
    }
}

impl Object {
    /// `COMMENT ON` text; every kind can carry one.
    pub fn comment(&self) -> Option<&str> {
        let comment = match self {
            Object::Schema(x) => &x.comment,
            Object::Extension(x) => &x.comment,
            Object::Collation(x) => &x.comment,
            Object::Type(x) => &x.comment,
            Object::Sequence(x) => &x.comment,
            Object::Table(x) => &x.comment,
            Object::View(x) => &x.comment,
            Object::Function(x) => &x.comment,
            Object::Constraint(x) => &x.comment,
            Object::Index(x) => &x.comment,
            Object::Trigger(x) => &x.comment,
            Object::Policy(x) => &x.comment,
        };
        comment.as_deref()
    }

    pub fn comment_mut(&mut self) -> &mut Option<String> {
        match self {
            Object::Schema(x) => &mut x.comment,
            Object::Extension(x) => &mut x.comment,
            Object::Collation(x) => &mut x.comment,
            Object::Type(x) => &mut x.comment,
            Object::Sequence(x) => &mut x.comment,
            Object::Table(x) => &mut x.comment,
            Object::View(x) => &mut x.comment,
            Object::Function(x) => &mut x.comment,
            Object::Constraint(x) => &mut x.comment,
            Object::Index(x) => &mut x.comment,
            Object::Trigger(x) => &mut x.comment,
            Object::Policy(x) => &mut x.comment,
        }
    }

    /// The grants, for the kinds that have privileges (`None` for the rest).
    pub fn grants(&self) -> Option<&BTreeSet<Grant>> {
        match self {
            Object::Schema(x) => Some(&x.grants),
            Object::Type(x) => Some(&x.grants),
            Object::Sequence(x) => Some(&x.grants),
            Object::Table(x) => Some(&x.grants),
            Object::View(x) => Some(&x.grants),
            Object::Function(x) => Some(&x.grants),
            _ => None,
        }
    }

    pub fn grants_mut(&mut self) -> Option<&mut BTreeSet<Grant>> {
        match self {
            Object::Schema(x) => Some(&mut x.grants),
            Object::Type(x) => Some(&mut x.grants),
            Object::Sequence(x) => Some(&mut x.grants),
            Object::Table(x) => Some(&mut x.grants),
            Object::View(x) => Some(&mut x.grants),
            Object::Function(x) => Some(&mut x.grants),
            _ => None,
        }
    }
}
