//! PostgreSQL: connection, version table, migration lock, runner, audit
//! history, drift check, stamp and offline SQL.
//!
//! Everything here goes through the synchronous `postgres` crate without
//! TLS. Identifiers (version table, schema) are validated and quoted by
//! [`VersionTable`]; values are always bind parameters online and quoted
//! literals offline. Every error and log line uses the masked URL
//! ([`mask_url`]); a password never appears in output.
//!
//! The typical online flow, used by `upgrade`, `downgrade` and `stamp`:
//! [`Database::connect`], then [`run`] (or [`upgrade`] / [`downgrade`] /
//! [`stamp`]), which takes the [`MigrationLock`] on its own session, reads
//! the version table, asks the caller for the plan *after* the lock is held
//! (so a second concurrent runner finds nothing left), and executes it.
//!
//! Wiring the commands:
//!
//! | command | call |
//! |---|---|
//! | `current` | [`current`] (+ [`classify_rows`] for unknown / non-head rows) |
//! | `upgrade T` / `downgrade T` | [`upgrade`] / [`downgrade`] (or [`run`] with any planner) |
//! | `upgrade A:B --sql` | plan with the graph, then [`render_offline`] (no connection) |
//! | `stamp T [--purge]` | [`stamp`] (targets from the graph's resolver) |
//! | `log` / `history --database` | [`history`] |
//! | `check --database [--repair]` | [`check_drift`], then [`repair`] only when asked |
//!
//! Exit codes come from [`DbError::exit_code`]: 3 database (connection,
//! query, failed step), 4 lock timeout, 2 input (no SQL for an Alembic
//! revision, bad table name, unresolvable target, options that do not fit).
//!
//! The audit table [`HISTORY_TABLE`] lives next to the version table and is
//! shared by every version table in that schema.

mod audit;
mod conn;
mod drift;
mod error;
mod lock;
mod names;
mod offline;
mod runner;
mod stamp;
mod version;

pub use audit::{history, HistoryEntry, HISTORY_TABLE};
pub use conn::{connect, mask_url, Database};
pub use drift::{check_drift, repair, DriftFinding, DriftReport};
pub use error::DbError;
pub use lock::{lock_key, MigrationLock, DEFAULT_LOCK_TIMEOUT};
pub use names::{quote_ident, quote_literal, VersionTable};
pub use offline::{render_offline, OfflineScript, StepSql};
pub use runner::{downgrade, missing_sql, run, upgrade, RevisionSql, RunOptions, RunOutcome};
pub use crate::sql::split_statements;
pub use stamp::{stamp, stamp_rows, StampOutcome};
pub use version::{classify_rows, current, RowReport};
