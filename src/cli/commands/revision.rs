//! `mergepoint revision`: write a new revision file.

use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::graph::{id_problem, Ix, Revision, RevisionGraph};
use crate::script::NewRevision;
use clap::Args;

pub const AFTER_HELP: &str = "\
The file is written in the directory's own format: a YAML file for a
mergepoint project, a Python file Alembic accepts for an Alembic directory.

Examples:
  mergepoint revision -m 'add orders.status'
  mergepoint revision -m 'add index' --head shop@head     on top of branch 'shop'
  mergepoint revision -m 'start billing' --head base --branch-label billing
  mergepoint revision -m 'hotfix' --head a1b2 --splice    branch off a non-head
  mergepoint revision -m 'use users' --depends-on a1b2
  mergepoint revision -m 'add col' --sql-upgrade 'ALTER TABLE t ADD c int' \\
                                   --sql-downgrade 'ALTER TABLE t DROP c'";

#[derive(Debug, Args)]
pub struct RevisionArgs {
    /// The revision's message (first line of its description).
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// The parent: a head, `base` for a new independent base, or with
    /// --splice any revision [default: the single head].
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Branch label for the new revision (repeatable).
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_labels: Vec<String>,
    /// A revision or branch label that must be applied first, without being
    /// a parent (repeatable).
    #[arg(long = "depends-on", value_name = "REV")]
    pub depends_on: Vec<String>,
    /// Allow --head to name a revision that is not a head (opens a branch).
    #[arg(long, requires = "head")]
    pub splice: bool,
    /// Use this revision id instead of a random one.
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// SQL to run on upgrade.
    #[arg(long, value_name = "SQL")]
    pub sql_upgrade: Option<String>,
    /// SQL to run on downgrade.
    #[arg(long, value_name = "SQL")]
    pub sql_downgrade: Option<String>,
    /// Run this revision outside a transaction (CREATE INDEX CONCURRENTLY).
    #[arg(long)]
    pub no_transaction: bool,
}

/// Checks a requested id: valid, and not taken.
/// The id for a new revision: `--rev-id` if given (valid and unused), else
/// a fresh random one.
pub fn new_id(g: &RevisionGraph, rev_id: Option<&str>) -> CliResult<String> {
    let Some(id) = rev_id else {
        return Ok(crate::script::new_revision_id());
    };
    if let Some(reason) = id_problem(id) {
        return Err(CliError::input(format!(
            "invalid --rev-id '{id}': {reason}"
        )));
    }
    if let Some(ix) = g.find(id) {
        return Err(CliError::input(format!(
            "revision id '{id}' is already used by {}",
            g.rev(ix).describe_origin()
        ))
        .with_hint("choose another --rev-id, or leave it out for a random one"));
    }
    Ok(id.to_string())
}

/// Builds the graph with the new revision added, so a bad label or
/// dependency is refused before anything is written.
pub fn validate_new(g: &RevisionGraph, new: &NewRevision) -> CliResult<()> {
    let mut revs: Vec<Revision> = g.revisions().to_vec();
    revs.push(Revision {
        id: new.id.clone(),
        parents: new.parents.clone(),
        depends_on: new.depends_on.clone(),
        branch_labels: new.branch_labels.clone(),
        message: new.message.clone(),
        origin: format!("new revision {}", new.id),
    });
    // The existing graph is valid (it was just built), so every problem is
    // about the new revision.
    RevisionGraph::build(revs).map_err(|errs| {
        let mut message = format!("cannot write revision {}:", new.id);
        for p in &errs.problems {
            message.push_str("\n  ");
            message.push_str(&p.to_string());
        }
        CliError::input(message).with_hint("nothing was written; change the options and retry")
    })?;
    Ok(())
}

/// `revision abcd` or `revision abcd ('label@head')`.
pub fn named(g: &RevisionGraph, ix: Ix, ident: &str) -> String {
    if g.id(ix) == ident {
        format!("revision {ident}")
    } else {
        format!("revision {} ('{ident}')", g.id(ix))
    }
}

fn parent_of(g: &RevisionGraph, args: &RevisionArgs) -> CliResult<Option<Ix>> {
    let Some(h) = &args.head else {
        return match g.heads() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(CliError::input(format!(
                "there are {} heads ({}); a new revision needs exactly one parent",
                many.len(),
                g.ids(many).join(", ")
            ))
            .with_hint("pick the parent with --head REV (e.g. --head <label>@head)")
            .with_hint("or join the heads first: mergepoint merge heads -m MSG")),
        };
    };
    let ix = g.resolve_one(h)?;
    if let Some(ix) = ix {
        if !g.is_head(ix) && !args.splice {
            return Err(CliError::input(format!(
                "{} is not a head: a revision on top of it would open a new branch",
                named(g, ix, h)
            ))
            .with_hint("pass --splice to branch off it on purpose")
            .with_hint(format!("heads are: {}", g.ids(g.heads()).join(", "))));
        }
    }
    Ok(ix)
}

pub fn run(ctx: &mut Ctx, args: RevisionArgs) -> CliResult {
    let Workspace {
        project, graph: g, ..
    } = ctx.workspace()?;
    let parent = parent_of(&g, &args)?;
    let mut depends_on = Vec::new();
    for dep in &args.depends_on {
        let ix = g.resolve_one(dep)?.ok_or_else(|| {
            CliError::input(format!(
                "--depends-on '{dep}' names the base; name a revision"
            ))
        })?;
        // Like Alembic: keep a branch label as written, turn anything else
        // into the full id.
        if g.rev(ix).branch_labels.iter().any(|l| l == dep) {
            depends_on.push(dep.clone());
        } else {
            depends_on.push(g.id(ix).to_string());
        }
    }
    let id = new_id(&g, args.rev_id.as_deref())?;
    let new = NewRevision {
        id,
        parents: parent.iter().map(|&p| g.id(p).to_string()).collect(),
        depends_on,
        branch_labels: args.branch_labels.clone(),
        message: args.message.clone(),
        created: chrono::Utc::now(),
        transactional: !args.no_transaction,
        upgrade: args.sql_upgrade.clone().unwrap_or_default(),
        downgrade: args.sql_downgrade.clone().unwrap_or_default(),
    };
    validate_new(&g, &new)?;
    let path = crate::script::write_revision(&project, &new)?;
    let on = if new.parents.is_empty() {
        "<base>".to_string()
    } else {
        new.parents.join(", ")
    };
    writeln!(
        ctx.out,
        "Created revision {} on {on}: {}",
        new.id,
        path.display()
    )?;
    Ok(())
}
