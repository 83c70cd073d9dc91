//! `mergepoint plan FROM TO`: the steps between two points of the graph.

use crate::cli::view::first_line;
use crate::cli::{CliResult, Ctx};
use crate::graph::{Direction, Step};
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
FROM is what the database has applied (like its version table): `base` for an
empty database, a revision, `heads`, or any identifier. TO is the target. The
plan is an upgrade if TO needs anything FROM lacks, otherwise a downgrade.
Each step is printed the way Alembic logs it while running:
  upgrade <parents> -> <revision>, <message>

Examples:
  mergepoint plan base heads            everything, oldest first
  mergepoint plan base a1b2
  mergepoint plan heads base            the full downgrade, newest first
  mergepoint plan a1b2 shop@head        from one branch to another's head
  mergepoint plan base heads --json";

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What the database has applied now (e.g. base, a revision, heads).
    #[arg(value_name = "FROM", allow_hyphen_values = true)]
    pub from: String,
    /// Where it should end up.
    #[arg(value_name = "TO", allow_hyphen_values = true)]
    pub to: String,
    /// Print the plan as a JSON object (see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// A plan as printed.
#[derive(Debug, Serialize)]
pub struct PlanView {
    pub from: String,
    pub to: String,
    pub direction: Direction,
    /// Version-table rows before the first step.
    pub start_heads: Vec<String>,
    /// Version-table rows after the last step.
    pub end_heads: Vec<String>,
    pub steps: Vec<StepView>,
}

/// One step and its revision's message.
#[derive(Debug, Serialize)]
pub struct StepView {
    #[serde(flatten)]
    pub step: Step,
    pub message: String,
}

fn rows(ids: &[String]) -> String {
    if ids.is_empty() {
        "(empty)".to_string()
    } else {
        ids.join(", ")
    }
}

pub fn run(ctx: &mut Ctx, args: PlanArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let plan = g.plan_between(&args.from, &args.to)?;
    let view = PlanView {
        from: args.from,
        to: args.to,
        direction: plan.direction,
        start_heads: plan.start_heads,
        end_heads: plan.end_heads,
        steps: plan
            .steps
            .into_iter()
            .map(|step| {
                let message = g
                    .find(&step.revision)
                    .map(|ix| g.rev(ix).message.clone())
                    .unwrap_or_default();
                StepView { step, message }
            })
            .collect(),
    };
    if args.json {
        return ctx.json(&view);
    }
    if view.steps.is_empty() {
        writeln!(
            ctx.out,
            "Nothing to do: {} is already at {} (version table: {}).",
            view.from,
            view.to,
            rows(&view.start_heads)
        )?;
        return Ok(());
    }
    let n = view.steps.len();
    writeln!(
        ctx.out,
        "{} from {} to {}: {n} step{}",
        view.direction.as_str(),
        view.from,
        view.to,
        if n == 1 { "" } else { "s" }
    )?;
    for s in &view.steps {
        writeln!(
            ctx.out,
            "  {}, {}",
            s.step.short_log(),
            first_line(&s.message)
        )?;
    }
    writeln!(ctx.out, "version table before: {}", rows(&view.start_heads))?;
    writeln!(ctx.out, "version table after:  {}", rows(&view.end_heads))?;
    Ok(())
}
