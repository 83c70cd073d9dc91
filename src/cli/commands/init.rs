//! `mergepoint init`: start a project.

use crate::cli::{CliResult, Ctx};
use clap::Args;

pub const AFTER_HELP: &str = "\
Creates mergepoint.yaml and an empty revisions/ directory in the current
directory, or in --dir (created if missing). Refuses if mergepoint.yaml
already exists.

Examples:
  mergepoint init
  mergepoint --dir db init";

#[derive(Debug, Args)]
pub struct InitArgs {}

pub fn run(ctx: &mut Ctx, _args: InitArgs) -> CliResult {
    let root = match &ctx.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let project = crate::script::init_project(&root)?;
    let revisions = project
        .revisions_dirs
        .first()
        .cloned()
        .unwrap_or_else(|| root.join("revisions"));
    writeln!(
        ctx.out,
        "Created {} and {}",
        root.join("mergepoint.yaml").display(),
        revisions.display()
    )?;
    writeln!(ctx.out, "Next: mergepoint revision -m \"first revision\"")?;
    Ok(())
}
