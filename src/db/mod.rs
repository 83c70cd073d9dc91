//! PostgreSQL: connection, version table, migration lock, runner, audit
//! history, drift check, stamp and offline SQL.
//!
//! Layers, lowest first (each imports only those above it in this list):
//!
//! | module | owns |
//! |---|---|
//! | `error` | [`DbError`], [`StepFailure`]: data, rendered for people |
//! | `names` | quoting, [`VersionTable`] names and DDL (pure) |
//! | `step_sql` | [`StepSql`]: where each step's SQL comes from |
//! | `libpq`, `pgpass` | connection settings as libpq reads them: URL / key=value, `PG*` variables, defaults, the password file (pure) |
//! | `tls` | rustls with the certificate checks of each sslmode |
//! | `conn` | [`Database`]: connecting (sslmode fallbacks), masking, scrubbing |
//! | `catalog` | small catalog look-ups, [`resolve_table`] |
//! | `version`, `audit` | reading the version and audit tables |
//! | `session` | the [`Session`] trait: what a run needs from a session |
//! | `lock` | [`MigrationLock`] (watched), the step guard, pooler detection |
//! | `lease` | [`LeaseLock`] (`--lock lease`), [`RunLock`]: the lock a run takes |
//! | `pg_session`, `memory` | [`Session`] on PostgreSQL / in memory |
//! | `runner`, `stamp`, `drift` | the operations, on any [`Session`] |
//! | `offline` | offline SQL scripts (no session at all) |
//! | `fleet` | many targets: the target list (pure), jobs in parallel |
//!
//! Identifiers (version table, schema) are validated and quoted by
//! [`VersionTable`] and resolved to a schema once per run; values are bind
//! parameters or quoted literals. Every error and log line uses the masked
//! URL ([`mask_url`]); a password never appears in output.
//!
//! The typical online flow, used by `upgrade`, `downgrade` and `stamp`:
//! [`Database::connect`], then [`upgrade`] / [`downgrade`] / [`run`] /
//! [`stamp`], which resolve the version table, take the [`MigrationLock`]
//! and the step guard, read and validate the version table, ask the caller
//! for the plan *after* the locks are held (so a second concurrent runner
//! finds nothing left), and execute it.
//!
//! | command | call |
//! |---|---|
//! | `current` | [`current`] (+ [`classify_rows`] for unknown / non-head rows) |
//! | `upgrade T` / `downgrade T` | [`upgrade`] / [`downgrade`] (or [`run`] with any planner) |
//! | `upgrade A:B --sql` | plan with the graph, then [`OfflineScript`] (no connection) |
//! | `stamp T [--purge]` | [`stamp`] (targets from the graph's resolver) |
//! | `log` / `history --database` | [`history`] |
//! | `check --database [--repair]` | [`check_drift`], then [`repair`] only when asked |
//!
//! The audit table [`HISTORY_TABLE`] lives next to the version table and is
//! shared by every version table in that schema.

pub(crate) use error::pg_message;
mod audit;
mod catalog;
mod conn;
mod drift;
mod error;
mod lease;
pub mod libpq;
mod lock;
mod mask;
pub mod memory;
mod names;
mod offline;
mod pg_session;
pub mod pgpass;
mod runner;
mod session;
mod stamp;
mod step_sql;
mod tls;
mod version;

// Fleets: the operations above, on many targets at once.
pub mod fleet;

#[cfg(test)]
mod runner_tests;

pub use crate::sql::split_statements;
pub use audit::{history, sql_sha256, HistoryEntry};
pub use catalog::resolve_table;
pub use conn::{connect, process_environment, Connector, Database};
pub use drift::{check_drift, repair, DriftFinding, DriftReport};
pub use error::{
    Blocker, DbError, LockHolder, RunEffects, StepEffects, StepFailure, VersionTableProblem,
};
pub use lease::{LeaseLock, LockChoice, RunLock, DEFAULT_LEASE_TTL, LEASE_TABLE};
pub use lock::{
    guard_key, lock_key, HeldLock, MigrationLock, DEFAULT_LOCK_TIMEOUT, WATCH_INTERVAL,
};
pub use mask::mask_url;
pub use names::{quote_ident, quote_literal, VersionTable, HISTORY_TABLE};
pub use offline::{render_offline, OfflineScript};
pub use pg_session::PgSession;
pub use runner::{
    downgrade, move_to, run, run_in, run_on, upgrade, Notice, RunObserver, RunOptions, RunOutcome,
};
pub use session::{
    AuditRecord, AuditWrite, CommitError, InterruptedAttempt, LockState, Session, SessionError,
    Timeouts, INTERRUPTED, UNFINISHED,
};
pub use stamp::{stamp, stamp_on, stamp_rows, StampOutcome};
pub use step_sql::{missing_sql, RevisionSql, StepSql, StepText};
pub use version::{classify_rows, current, validate_rows, RowReport};

// Connection settings (a group of their own, so the list above stays as
// other branches edit it).
pub use libpq::{Environment, SslMode};
