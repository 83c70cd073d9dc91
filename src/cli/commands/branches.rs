//! `mergepoint branches`: branch points and what branches off them.

use crate::cli::view::{LineOpts, RevisionView};
use crate::cli::{CliResult, Ctx};
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
Output (Alembic's format): each branch point, newest first, then one
`-> <child>` line per revision that branches off it.

Examples:
  mergepoint branches
  mergepoint branches --verbose   full entry for each branch point, messages of the children
  mergepoint branches --json";

#[derive(Debug, Args)]
pub struct BranchesArgs {
    /// Show each branch point in full and the children's messages.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print a JSON array of {branchpoint, branches} objects.
    #[arg(long)]
    pub json: bool,
}

/// One branch point and the revisions built directly on it.
#[derive(Debug, Serialize)]
pub struct BranchView<'g> {
    pub branchpoint: RevisionView<'g>,
    pub branches: Vec<RevisionView<'g>>,
}

pub fn run(ctx: &mut Ctx, args: BranchesArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let order = g.history(None)?;
    let views: Vec<BranchView> = order
        .into_iter()
        .filter(|&ix| g.is_branchpoint(ix))
        .map(|ix| BranchView {
            branchpoint: RevisionView::new(g, ix),
            branches: RevisionView::list(g, g.children(ix)),
        })
        .collect();
    if args.json {
        return ctx.json(&views);
    }
    for b in &views {
        let head = if args.verbose {
            b.branchpoint.entry()
        } else {
            b.branchpoint.line(LineOpts {
                labels: true,
                tree: true,
                ..LineOpts::default()
            })
        };
        writeln!(ctx.out, "{head}")?;
        let pad = " ".repeat(b.branchpoint.revision.len());
        for child in &b.branches {
            let line = child.line(LineOpts {
                labels: true,
                tree: true,
                message: args.verbose,
                ..LineOpts::default()
            });
            writeln!(ctx.out, "{pad} -> {line}")?;
        }
        writeln!(ctx.out)?;
    }
    Ok(())
}
