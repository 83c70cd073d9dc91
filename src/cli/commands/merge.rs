//! `mergepoint merge`: join heads with a merge revision.

use super::revision::{named, new_id, validate_new};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::graph::Ix;
use crate::script::NewRevision;
use clap::Args;

pub const AFTER_HELP: &str = "\
The merge revision's parents are exactly the given heads, in the order given
(`heads` expands to every head, oldest file first). It has no SQL of its own
unless you add some. Written in the directory's own format: a YAML file, or
a Python file Alembic accepts.

Examples:
  mergepoint merge heads -m 'merge feature branches'
  mergepoint merge a1b2 c3d4 -m 'merge shop and billing'
  mergepoint merge shop@head billing@head -m 'merge' --rev-id 0123456789ab";

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The heads to merge: `heads`, or two or more revisions.
    #[arg(value_name = "REVS", required = true, num_args = 1..)]
    pub revisions: Vec<String>,
    /// The merge revision's message.
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// Use this revision id instead of a random one.
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Branch label for the merge revision (repeatable).
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_labels: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: MergeArgs) -> CliResult {
    let Workspace {
        project, graph: g, ..
    } = ctx.workspace()?;
    let mut parents: Vec<Ix> = Vec::new();
    for ident in &args.revisions {
        let found = g.resolve_many(ident)?;
        if found.is_empty() {
            return Err(CliError::input(format!(
                "'{ident}' is the base; only revisions can be merged"
            )));
        }
        for ix in found {
            if parents.contains(&ix) {
                return Err(CliError::input(format!(
                    "{} is named twice; each head can be merged once",
                    named(&g, ix, ident)
                )));
            }
            if !g.is_head(ix) {
                return Err(CliError::input(format!(
                    "{} is not a head; only heads can be merged",
                    named(&g, ix, ident)
                ))
                .with_hint(format!("heads are: {}", g.ids(g.heads()).join(", "))));
            }
            parents.push(ix);
        }
    }
    if parents.len() < 2 {
        let heads = g.ids(g.heads());
        return Err(CliError::input(format!(
            "a merge needs at least two heads, got {} ({})",
            parents.len(),
            g.ids(&parents).join(", ")
        ))
        .with_hint(if heads.len() < 2 {
            "there is nothing to merge: the graph has a single head".to_string()
        } else {
            format!("heads are: {}", heads.join(", "))
        }));
    }
    let id = new_id(&g, args.rev_id.as_deref())?;
    let new = NewRevision {
        id,
        parents: g.ids(&parents),
        depends_on: Vec::new(),
        branch_labels: args.branch_labels.clone(),
        message: args.message.clone(),
        created: chrono::Utc::now(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    validate_new(&g, &new)?;
    let path = crate::script::write_revision(&project, &new)?;
    writeln!(
        ctx.out,
        "Created merge revision {} of {}: {}",
        new.id,
        new.parents.join(", "),
        path.display()
    )?;
    Ok(())
}
