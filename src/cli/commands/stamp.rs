//! `mergepoint stamp`: set the version table to a revision without running
//! any migration.

use crate::cli::database::{self, connect, json_line, message, ms, run_options, DbArgs};
use crate::cli::database::{RunSummary, StepEvent};
use crate::cli::{CliResult, Ctx};
use crate::db::StampOutcome;
use crate::graph::RevisionGraph;
use clap::Args;
use std::time::{Duration, Instant};

pub const AFTER_HELP: &str = "\
Examples:
  mergepoint stamp head        mark an existing database as up to date
  mergepoint stamp base        empty the version table
  mergepoint stamp a1b2 --purge";

#[derive(Debug, Args)]
pub struct StampArgs {
    /// The revision(s) to record as applied (base empties the table).
    #[arg(value_name = "TARGET", allow_hyphen_values = true)]
    pub target: String,
    /// Empty the version table first (also drops rows of unknown revisions).
    #[arg(long)]
    pub purge: bool,
    /// Print one JSON object per stamped revision, then a summary object
    /// (JSON lines, see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Write no audit row (and create no mergepoint_history): only the
    /// version table changes. Lost: `mergepoint log` of this stamp
    /// [default: audit in mergepoint.yaml, else on].
    #[arg(long)]
    pub no_audit: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(ctx: &mut Ctx, args: StampArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let targets = g.ids(&g.resolve_many(&args.target)?);
    let mut opts = run_options(&ws, &args.db)?;
    database::apply_no_audit(&mut opts, args.no_audit);
    let mut database = connect(&ws, &args.db)?;
    let started = Instant::now();
    let outcome = database::stamp(&mut database, g, &opts, args.purge, targets)?;
    let took = started.elapsed();
    if args.json {
        let summary = Summary {
            target: &args.target,
            database: database.masked_url(),
            took,
        };
        return write_json(ctx, g, &outcome, summary);
    }
    let show = |rows: &[String]| {
        if rows.is_empty() {
            "(empty)".to_string()
        } else {
            rows.join(", ")
        }
    };
    writeln!(
        ctx.out,
        "Stamped: version table {} -> {}",
        show(&outcome.before),
        show(&outcome.after)
    )?;
    Ok(())
}

/// What the JSON summary says besides the outcome.
struct Summary<'a> {
    target: &'a str,
    database: &'a str,
    took: Duration,
}

/// One step per revision the stamp recorded (as in the audit table): each
/// added row, or `base` when the table was emptied; then the summary.
fn write_json(ctx: &mut Ctx, g: &RevisionGraph, outcome: &StampOutcome, s: Summary) -> CliResult {
    let added: Vec<&String> = outcome
        .after
        .iter()
        .filter(|r| !outcome.before.contains(r))
        .collect();
    let stamped: Vec<&str> = if added.is_empty() && outcome.before != outcome.after {
        vec!["base"]
    } else {
        added.iter().map(|s| s.as_str()).collect()
    };
    for rev in &stamped {
        json_line(
            ctx.out,
            &StepEvent {
                kind: "step",
                revision: rev,
                direction: "stamp",
                from: &outcome.before,
                to: &outcome.after,
                message: message(g, rev),
                duration_ms: ms(s.took),
            },
        )?;
    }
    json_line(
        ctx.out,
        &RunSummary {
            kind: "summary",
            command: "stamp",
            target: s.target,
            database: s.database,
            before: &outcome.before,
            after: &outcome.after,
            steps: stamped.len(),
            duration_ms: ms(s.took),
        },
    )?;
    Ok(())
}
