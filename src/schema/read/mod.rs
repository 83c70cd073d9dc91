//! The catalog reader: a PostgreSQL database's schema into the model, with
//! a few set-based catalog queries (one per object kind), never one query
//! per object.
//!
//! Everything is read in one `REPEATABLE READ READ ONLY` transaction with
//! `search_path = pg_catalog` (and `jit = off`), so that PostgreSQL's printers
//! (`format_type`, `pg_get_expr`, `pg_get_viewdef`, ...) qualify every
//! user object the same way whatever the session's settings.
//!
//! Each module reads one family of objects and records, in [`Oids`], which
//! catalog row became which [`ObjectId`]; `depends` then maps `pg_depend`
//! onto those ids, and `comments` and `grants` attach to them.

mod comments;
mod constraints;
mod depends;
mod functions;
mod grants;
mod indexes;
mod namespaces;
mod oids;
mod sequences;
mod sql;
mod tables;
mod triggers;
mod types;
mod unsupported;
mod views;

/// For the tests that hold the fast printers to `pg_get_indexdef` and
/// `pg_get_constraintdef`.
#[doc(hidden)]
pub use constraints::plain as constraint_plain;
#[doc(hidden)]
pub use indexes::plain_shape as index_plain_shape;

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Row, Statement, Transaction};
use thiserror::Error;

use super::model::{Catalog, Object, ObjectId, QualName};
use oids::Oids;

/// What to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only these schemas (`--schema`, repeatable); empty: every schema
    /// that is not a system schema.
    pub schemas: Vec<String>,
    /// Tables left out, with everything on them (mergepoint's own version
    /// and history tables in a database built from revisions).
    pub exclude_tables: Vec<QualName>,
}

/// The catalog could not be read, or holds something the model cannot
/// represent yet (never silently skipped).
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("reading the schema: {}", crate::db::pg_message(.0))]
    Db(#[from] postgres::Error),
    /// `object` names it (`aggregate public.my_sum(integer)`), `what` says
    /// which kind is not supported.
    #[error("{object}: {what} is not supported by mergepoint's schema reader yet; leave it out with --schema, or manage it outside mergepoint")]
    Unsupported { object: String, what: String },
}

/// The catalog queries prepared on one connection, kept for the next read
/// on it: `verify` reads its database twice per revision, and on a small
/// schema parsing and planning the queries cost more than running them.
/// Use one `Statements` with one connection only.
#[derive(Default)]
pub struct Statements(HashMap<String, Statement>);

/// The read's transaction, running each query as a prepared statement of
/// [`Statements`].
pub(crate) struct ReadTx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut Statements,
}

impl ReadTx<'_> {
    pub fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = match self.statements.0.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.tx.prepare(sql)?;
                self.statements.0.insert(sql.to_string(), statement.clone());
                statement
            }
        };
        self.tx.query(&statement, params)
    }
}

/// The state shared by the per-kind readers: the transaction, the oids of
/// the schemas in scope, and what has been read so far.
pub(crate) struct Reader<'a> {
    pub tx: ReadTx<'a>,
    /// `pg_namespace` oids of the schemas read.
    pub namespaces: Vec<u32>,
    pub catalog: Catalog,
    pub oids: Oids,
    /// `(attrelid, attnum)` to the column, for every column of the tables
    /// and views read: constraints and indexes name their columns by
    /// number, and looking them up here is cheaper than a join.
    pub columns: HashMap<(u32, i16), ColumnRef>,
    /// `server_version_num`: the catalogs gain columns between versions.
    pub server_version: i32,
}

/// What [`Reader::columns`] keeps of a column.
pub(crate) struct ColumnRef {
    pub name: String,
    /// `atttypid` and `attcollation`.
    pub type_oid: u32,
    pub collation: u32,
}

/// Runs one per-kind reader under its own timing span
/// (`MERGEPOINT_TIMINGS=2` shows which catalog query takes the time).
macro_rules! timed {
    ($name:literal, $call:expr) => {{
        let _span = tracing::debug_span!($name).entered();
        $call?
    }};
}

/// Reads the schema of the database `client` is connected to.
pub fn read_catalog(client: &mut Client, options: &ReadOptions) -> Result<Catalog, ReadError> {
    read_catalog_with(client, &mut Statements::default(), options)
}

/// [`read_catalog`], with the queries prepared on `client` by earlier reads
/// in `statements` (and those it prepares kept there).
pub fn read_catalog_with(
    client: &mut Client,
    statements: &mut Statements,
    options: &ReadOptions,
) -> Result<Catalog, ReadError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    // JIT off: the planner's row estimates for the catalogs' correlated
    // sub-selects pass `jit_above_cost` on a large schema, and compiling
    // them took longer (over 100 ms per query) than running them.
    tx.batch_execute("SET LOCAL search_path = pg_catalog; SET LOCAL jit = off")?;
    if !statements.0.is_empty() {
        // Read again on this connection: plan each query once and keep
        // the plan (a custom plan would be made for each of the next few
        // runs), as planning is most of a query's time on a small schema.
        tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")?;
    }
    let server_version = tx
        .query_one("SELECT current_setting('server_version_num')::int", &[])?
        .get(0);
    let mut r = Reader {
        tx: ReadTx { tx, statements },
        namespaces: Vec::new(),
        catalog: Catalog::default(),
        oids: Oids::default(),
        columns: HashMap::new(),
        server_version,
    };
    timed!(
        "read schemas",
        namespaces::read_schemas(&mut r, &options.schemas)
    );
    timed!(
        "read unsupported",
        unsupported::check(&mut r, options.schemas.is_empty())
    );
    timed!(
        "read extensions",
        namespaces::read_extensions(&mut r, !options.schemas.is_empty())
    );
    timed!(
        "read extension_members",
        oids::read_extension_members(&mut r)
    );
    timed!("read collations", namespaces::read_collations(&mut r));
    timed!("read types", types::read(&mut r));
    timed!("read tables", tables::read(&mut r));
    timed!("read views", views::read(&mut r));
    timed!("read columns", tables::read_columns(&mut r));
    timed!("read sequences", sequences::read(&mut r));
    timed!("read constraints", constraints::read(&mut r));
    timed!("read indexes", indexes::read(&mut r));
    timed!("read functions", functions::read(&mut r));
    timed!("read triggers", triggers::read_triggers(&mut r));
    timed!("read policies", triggers::read_policies(&mut r));
    timed!("read comments", comments::read(&mut r));
    timed!("read grants", grants::read(&mut r));
    timed!("read depends", depends::read(&mut r));
    let Reader {
        tx, mut catalog, ..
    } = r;
    tx.tx.commit()?;
    exclude_tables(&mut catalog, &options.exclude_tables);
    depends::keep_edges_between_read_objects(&mut catalog);
    Ok(catalog)
}

/// Removes the excluded tables and everything on them: constraints,
/// indexes, triggers, policies, and the sequences they own.
fn exclude_tables(catalog: &mut Catalog, exclude: &[QualName]) {
    if exclude.is_empty() {
        return;
    }
    catalog.objects.retain(|_, object| {
        let table = match object {
            Object::Table(t) => &t.name,
            Object::Constraint(c) => &c.table,
            Object::Index(i) => &i.table,
            Object::Trigger(t) => &t.table,
            Object::Policy(p) => &p.table,
            Object::Sequence(s) => match &s.owned_by {
                Some((table, _)) => table,
                None => return true,
            },
            _ => return true,
        };
        !exclude.contains(table)
    });
}

/// The definitions left to PostgreSQL's printer after a fast printer
/// refused them: `printer` selects `(oid, text)` for the oids `$1`; each
/// text comes with the id the object of catalog `class` was read as.
pub(crate) fn printed_by_postgres(
    r: &mut Reader<'_>,
    class: u32,
    printer: &str,
    oids: &[u32],
) -> Result<Vec<(ObjectId, String)>, ReadError> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = r.tx.query(printer, &[&oids])?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let id = r.oids.get_read(class, row.get(0))?.clone();
            Some((id, row.get(1)))
        })
        .collect())
}

/// An [`ReadError::Unsupported`] naming the object and what it is.
pub(crate) fn unsupported(object: impl Into<String>, what: impl Into<String>) -> ReadError {
    ReadError::Unsupported {
        object: object.into(),
        what: what.into(),
    }
}

/// The id of table `schema.name`.
pub(crate) fn table_id(schema: &str, name: &str) -> ObjectId {
    ObjectId::Table {
        name: QualName::new(schema, name),
    }
}
