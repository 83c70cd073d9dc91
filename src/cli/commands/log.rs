//! `mergepoint log`: the audit history, every step ever run against the
//! database.

use crate::cli::database::{audit_history, connect, run_options, DbArgs};
use crate::cli::{CliResult, Ctx};
use clap::Args;

pub const AFTER_HELP: &str = "\
One line per step ever run, oldest first: when (UTC), direction, revision,
ok/FAILED, duration, who and from where; failures add their error.

Examples:
  mergepoint log
  mergepoint log -n 20
  mergepoint log --json";

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only the newest N entries.
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<i64>,
    /// Print a JSON array of audit entries (see docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(ctx: &mut Ctx, args: LogArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let opts = run_options(&ws, &args.db)?;
    let mut database = connect(&ws, &args.db)?;
    let entries = audit_history(&mut database, &opts, args.limit)?;
    if args.json {
        return ctx.json(&entries);
    }
    for e in &entries {
        let took = e
            .duration_ms
            .map(|ms| format!("{ms:.1} ms"))
            .unwrap_or_else(|| "-".to_string());
        write!(
            ctx.out,
            "{}  {:<9} {}  {}  {}  {}@{}",
            e.started_at,
            e.direction,
            e.revision,
            if e.success { "ok" } else { "FAILED" },
            took,
            e.db_user,
            e.client_host
        )?;
        match &e.error {
            Some(err) => writeln!(ctx.out, "  error: {err}")?,
            None => writeln!(ctx.out)?,
        }
    }
    Ok(())
}
