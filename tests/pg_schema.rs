//! The schema engine against a real PostgreSQL: the catalog reader, the
//! diff applied and converged, and the commands (`diff`, `schema dump`)
//! through the real binary. One test binary; a module per concern.

mod common;

#[path = "pg_schema/cli.rs"]
mod cli;
