//! mergepoint: a database migration engine built around a revision graph.
//!
//! - [`graph`]: the pure revision DAG (no I/O): build, validate, resolve
//!   identifiers, order and plan.
//! - [`script`]: revision files on disk, native YAML and Alembic `.py`.
//! - [`db`]: PostgreSQL: version table, lock, runner, audit history.
//! - [`schema`]: the schema engine: catalog reader, typed model, diff.
//! - [`cli`]: the command line.
//! - [`alembic_import`]: conversion of an Alembic project into a native one.
//! - [`alembic_run`]: online runs of Alembic projects (a Python worker).

pub mod alembic_import;
pub mod alembic_run;
pub mod cli;
pub mod config;
pub mod db;
pub mod graph;
pub mod schema;
pub mod script;
pub mod sql;
