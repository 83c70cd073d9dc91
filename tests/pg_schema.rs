//! The schema engine against a real PostgreSQL: the catalog reader, the
//! diff applied and converged, and the commands (`diff`, `schema dump`)
//! through the real binary. One test binary; a module per concern.

mod common;

#[path = "pg_schema/cli.rs"]
mod cli;
#[path = "pg_schema/converge.rs"]
mod converge;
#[path = "pg_schema/converge_pairs.rs"]
mod converge_pairs;
#[path = "pg_schema/read.rs"]
mod read;

use common::pg::{psql_apply, TestDb};
use mergepoint::schema::read::{read_catalog, ReadOptions};
use mergepoint::schema::Catalog;

/// A fresh database with `sql` loaded (psql, ON_ERROR_STOP).
pub fn db_with(sql: &str) -> TestDb {
    let db = TestDb::create();
    psql_apply(&db.url, sql);
    db
}

/// Reads `db`'s schema with `options`; panics with the reader's message.
pub fn read_with(db: &TestDb, options: &ReadOptions) -> Catalog {
    read_catalog(&mut db.client(), options)
        .unwrap_or_else(|e| panic!("reading the schema of {}: {e}", db.name))
}

/// Reads every schema of `db`.
pub fn read(db: &TestDb) -> Catalog {
    read_with(db, &ReadOptions::default())
}

/// Creates role `name` (NOLOGIN) if it does not exist; safe when several
/// tests race to create it. Roles are cluster-wide and left in place.
pub fn ensure_role(name: &str) {
    let sql = format!(
        "DO $$ BEGIN CREATE ROLE \"{name}\" NOLOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    );
    common::pg::admin_client()
        .batch_execute(&sql)
        .unwrap_or_else(|e| panic!("creating role {name}: {e}"));
}
