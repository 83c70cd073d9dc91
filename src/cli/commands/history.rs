//! `mergepoint history`: revisions newest first, as `alembic history`.

use crate::cli::view::{LineOpts, RevisionView};
use crate::cli::{CliResult, Ctx};
use clap::Args;

pub const AFTER_HELP: &str = "\
Output (Alembic's format), newest first:
  <parents> -> <id> (<labels>) (head) (branchpoint) (mergepoint), <message>
where <parents> is `<base>` for a base revision and a comma-separated list
for a merge; dependencies (depends_on) are shown in parentheses before `->`.

Examples:
  mergepoint history
  mergepoint history -r base:head        the whole line up to the (single) head
  mergepoint history -r a1b2:            a1b2 and everything above it
  mergepoint history -r :shop@head       everything up to the head of branch 'shop'
  mergepoint history --verbose
  mergepoint history --json              an array in display order";

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only revisions in this range: START:END, START: or :END.
    #[arg(
        short = 'r',
        long = "rev-range",
        value_name = "START:END",
        allow_hyphen_values = true
    )]
    pub range: Option<String>,
    /// Show each revision in full (parents, labels, file, message).
    #[arg(long, short)]
    pub verbose: bool,
    /// Print a JSON array of revision objects, in display order.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &mut Ctx, args: HistoryArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let order = g.history(args.range.as_deref())?;
    let views = RevisionView::list(g, &order);
    if args.json {
        return ctx.json(&views);
    }
    let opts = LineOpts {
        parents: true,
        labels: true,
        tree: true,
        message: true,
    };
    let mut line = String::new();
    for v in &views {
        if args.verbose {
            writeln!(ctx.out, "{}", v.entry())?;
        } else {
            line.clear();
            v.push_line(&mut line, opts);
            line.push('\n');
            ctx.out.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}
