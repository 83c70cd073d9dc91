//! `mergepoint heads`: the revisions nothing builds on.

use crate::cli::view::{LineOpts, RevisionView};
use crate::cli::{CliError, CliResult, Ctx};
use clap::Args;

pub const AFTER_HELP: &str = "\
Output (Alembic's format): one line per head, `<id> (<branch labels>) (head)`.
A head that another revision depends on (depends_on) but that nothing has as
a parent is shown as `(effective head)`. --check counts every head, those
too: it passes exactly when `upgrade head` has one revision to go to.

Examples:
  mergepoint heads
  mergepoint heads --verbose
  mergepoint heads --check        exit 1 if there is more than one head (CI)
  mergepoint heads --json";

#[derive(Debug, Args)]
pub struct HeadsArgs {
    /// Exit with status 1 (and say why) if there is more than one head.
    #[arg(long)]
    pub check: bool,
    /// Show each head in full (parents, labels, file, message).
    #[arg(long, short)]
    pub verbose: bool,
    /// Print a JSON array of revision objects (see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &mut Ctx, args: HeadsArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let heads = RevisionView::list(g, g.heads());
    if args.json {
        ctx.json(&heads)?;
    } else {
        for h in &heads {
            if args.verbose {
                writeln!(ctx.out, "{}", h.entry())?;
            } else {
                let opts = LineOpts {
                    labels: true,
                    ..LineOpts::default()
                };
                writeln!(ctx.out, "{}", h.line(opts))?;
            }
        }
    }
    // The gate guarantees that `upgrade head` works, and `head` counts every
    // head, including one that another revision only depends on (as in
    // Alembic).
    if args.check && g.heads().len() > 1 {
        let ids = g.ids(g.heads());
        return Err(CliError::check_failed(format!(
            "there are {} heads: {}; the graph must have exactly one",
            ids.len(),
            ids.join(", ")
        ))
        .with_hint(format!(
            "merge them with: mergepoint merge heads -m \"merge {}\"",
            ids.join(" and ")
        )));
    }
    Ok(())
}
