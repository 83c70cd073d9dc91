//! The schema engine: read a PostgreSQL schema into a typed model and plan
//! the SQL from one schema to another.
//!
//! - [`model`]: the typed model ([`Catalog`]), pure data.
//! - [`plan`]: the diff's output ([`Plan`] of [`Statement`]s with hazards).
//! - `diff`: `diff(from, to, options) -> Plan`, a pure function.
//! - `render`: a plan as a psql-ready script.
//! - `read`: the catalog reader (PostgreSQL -> model), set-based queries.
//! - `source`: the sides of `mergepoint diff` (URL, `.sql` path, `rev:`)
//!   and the dev server's temporary databases.
//! - `verify`: downgrade testing (`mergepoint verify`) on a temporary
//!   database.
//! - `built_cache`: the models revisions build on the dev server, kept
//!   between runs.
//! - `commute`: merges proven safe (`merge --verify`, `check --merges`):
//!   the branches applied in every order must leave the same schema.

pub mod model;
pub mod plan;

pub use model::{Catalog, Object, ObjectId, QualName};
pub use plan::{Hazard, HazardKind, Plan, Statement, StatementKind};
pub mod built_cache;
pub mod commute;
pub mod devserver;
pub mod diff;
pub mod read;
pub mod render;
pub mod source;
pub mod verify;

pub use devserver::{DevServer, TempDatabase, TEMP_PREFIX};
pub use diff::{diff, dump, DiffError, DiffOptions};
pub use read::{read_catalog, ReadError, ReadOptions};
pub use source::{Side, SideContext, SourceError};
