//! `mergepoint show REV`: one revision in full.

use crate::cli::view::RevisionView;
use crate::cli::{CliError, CliResult, Ctx};
use clap::Args;

pub const AFTER_HELP: &str = "\
REV is any identifier: a full id, a unique prefix, head, heads, a branch
label, label@head.

Examples:
  mergepoint show a1b2c3d4e5f6
  mergepoint show a1b2           a unique prefix is enough
  mergepoint show head
  mergepoint show heads          every head, one entry each
  mergepoint show shop@head --json";

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The revision to show.
    #[arg(value_name = "REV", allow_hyphen_values = true)]
    pub rev: String,
    /// Print a JSON array of revision objects.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &mut Ctx, args: ShowArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let found = g.resolve_many(&args.rev)?;
    if found.is_empty() {
        return Err(CliError::input(format!(
            "'{}' is the base: it is not a revision, there is nothing to show",
            args.rev
        )));
    }
    let views = RevisionView::list(g, &found);
    if args.json {
        return ctx.json(&views);
    }
    for v in &views {
        writeln!(ctx.out, "{}", v.entry())?;
    }
    Ok(())
}
