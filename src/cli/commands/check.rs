//! `mergepoint check`: the CI gate. Reports every problem, not the first.

use crate::cli::project::{self, LoadError};
use crate::cli::{CliError, CliResult, Ctx};
use crate::graph::{GraphProblem, RevisionGraph};
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
Checks, in one run: every revision file parses; no duplicate revision ids or
branch labels; every parent and depends_on target exists; no cycles; exactly
one head (heads that another revision depends on do not count; an empty
project passes).

Exit status: 0 all good; 1 the only problem is more than one head (merge
them); 2 broken input (the problems are listed).

Examples:
  mergepoint check
  mergepoint check --json         a report object: ok, revisions, heads, problems
  mergepoint --dir alembic check  works on Alembic directories too";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the report as a JSON object (see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// The report `check` prints.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// True when there is nothing to fix.
    pub ok: bool,
    /// Revisions that loaded.
    pub revisions: usize,
    /// The heads `upgrade head` resolves against (heads nothing depends
    /// on), if the graph could be built.
    pub heads: Vec<String>,
    pub problems: Vec<ProblemView>,
}

/// One problem: a stable kind for scripts and a message for people.
#[derive(Debug, Serialize)]
pub struct ProblemView {
    pub kind: &'static str,
    pub message: String,
}

fn load_kind(p: &LoadError) -> &'static str {
    match p {
        LoadError::Io { .. } => "unreadable_file",
        LoadError::Config { .. } | LoadError::NoProject { .. } => "config",
        _ => "parse_error",
    }
}

fn kind_of(p: &GraphProblem) -> &'static str {
    match p {
        GraphProblem::DuplicateId { .. } => "duplicate_id",
        GraphProblem::MissingParent { .. } => "missing_parent",
        GraphProblem::MissingDependency { .. } => "missing_dependency",
        GraphProblem::SelfReference { .. } => "self_reference",
        GraphProblem::DuplicateLabel { .. } => "duplicate_label",
        GraphProblem::LabelIsRevisionId { .. } => "label_is_revision_id",
        GraphProblem::InvalidName { .. } => "invalid_name",
        GraphProblem::Cycle { .. } => "cycle",
        GraphProblem::DependencyCycle { .. } => "dependency_cycle",
    }
}

pub fn run(ctx: &mut Ctx, args: CheckArgs) -> CliResult {
    let project = ctx.project()?;
    let loaded = project::load(&project);
    let mut problems: Vec<ProblemView> = loaded
        .problems
        .iter()
        .map(|p| ProblemView {
            kind: load_kind(p),
            message: p.to_string(),
        })
        .collect();
    let revisions = loaded.revisions.len();
    let mut heads = Vec::new();
    match RevisionGraph::build(loaded.revisions) {
        Ok(g) => {
            heads = g.ids(g.real_heads());
            if heads.len() > 1 {
                problems.push(ProblemView {
                    kind: "multiple_heads",
                    message: format!(
                        "there are {} heads: {}; merge them with 'mergepoint merge heads -m MSG'",
                        heads.len(),
                        heads.join(", ")
                    ),
                });
            }
        }
        Err(errs) => problems.extend(errs.problems.iter().map(|p| ProblemView {
            kind: kind_of(p),
            message: p.to_string(),
        })),
    }
    let report = CheckReport {
        ok: problems.is_empty(),
        revisions,
        heads,
        problems,
    };
    if args.json {
        ctx.json(&report)?;
    } else if report.ok {
        if report.heads.is_empty() {
            writeln!(ctx.out, "ok: no revisions yet")?;
        } else {
            writeln!(
                ctx.out,
                "ok: {} revision{}, head {}",
                report.revisions,
                if report.revisions == 1 { "" } else { "s" },
                report.heads.join(", ")
            )?;
        }
    } else {
        for p in &report.problems {
            writeln!(ctx.out, "{}: {}", p.kind, p.message)?;
        }
    }
    if report.ok {
        return Ok(());
    }
    let n = report.problems.len();
    let summary = format!("check found {n} problem{}", if n == 1 { "" } else { "s" });
    if report.problems.iter().all(|p| p.kind == "multiple_heads") {
        Err(CliError::check_failed(summary)
            .with_hint("merge the heads with 'mergepoint merge heads -m MSG'"))
    } else {
        Err(CliError::input(summary).with_hint("fix the problems listed above and run check again"))
    }
}
