//! Database commands: `current`, `upgrade`, `downgrade`, `stamp`.
//!
//! Their arguments are final; they run once the PostgreSQL layer
//! (`mergepoint::db`) is wired in. Until then each reports that it is not
//! implemented (exit 2) instead of pretending.

use crate::cli::{CliError, CliResult, Ctx};
use clap::Args;

pub const CURRENT_AFTER_HELP: &str = "\
Examples:
  mergepoint current --database-url postgres://app@localhost/shop
  DATABASE_URL=postgres://app@localhost/shop mergepoint current --json";

pub const UPGRADE_AFTER_HELP: &str = "\
TARGET is any identifier: head, heads, a revision, label@head, +1.

Examples:
  mergepoint upgrade head
  mergepoint upgrade heads --lock-timeout 120
  mergepoint upgrade base:head --sql > upgrade.sql   offline: print the SQL";

pub const DOWNGRADE_AFTER_HELP: &str = "\
Examples:
  mergepoint downgrade -1
  mergepoint downgrade a1b2
  mergepoint downgrade base
  mergepoint downgrade head:base --sql";

pub const STAMP_AFTER_HELP: &str = "\
Examples:
  mergepoint stamp head        mark an existing database as up to date
  mergepoint stamp base        empty the version table";

/// Options every database command shares.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL [default: $DATABASE_URL, then mergepoint.yaml].
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Seconds to wait for the migration lock before giving up (exit 4).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_timeout: u64,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Print a JSON array of the applied revisions.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MoveArgs {
    /// Where to go: a revision, head, heads, base, +N / -N, label@head.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Print the SQL instead of running it (offline mode).
    #[arg(long)]
    pub sql: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// The revision(s) to record as applied.
    #[arg(value_name = "TARGET")]
    pub target: String,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn current(_ctx: &mut Ctx, _args: CurrentArgs) -> CliResult {
    Err(CliError::not_implemented("current"))
}

pub fn upgrade(_ctx: &mut Ctx, _args: MoveArgs) -> CliResult {
    Err(CliError::not_implemented("upgrade"))
}

pub fn downgrade(_ctx: &mut Ctx, _args: MoveArgs) -> CliResult {
    Err(CliError::not_implemented("downgrade"))
}

pub fn stamp(_ctx: &mut Ctx, _args: StampArgs) -> CliResult {
    Err(CliError::not_implemented("stamp"))
}
