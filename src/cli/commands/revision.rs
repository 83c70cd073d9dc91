//! `mergepoint revision`: write a new revision file; with `--autogenerate`,
//! its SQL is the schema engine's diff from the schema at the parent to the
//! desired schema (`schema:` in mergepoint.yaml) and back.

use crate::cli::schema_sides::{read_sides, require_native, SchemaArgs};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::graph::{id_problem, Ix, Revision, RevisionGraph};
use crate::schema::{self, render, DiffOptions, Plan, Side};
use crate::script::NewRevision;
use clap::Args;
use std::path::PathBuf;

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
                                   --sql-downgrade 'ALTER TABLE t DROP c'
  mergepoint revision -m 'add orders.note' --autogenerate    SQL from schema.sql

--autogenerate needs `schema: schema.sql` (a .sql file or a directory of
them) in mergepoint.yaml and a dev server (--dev-url, MERGEPOINT_DEV_URL or
dev_url: in mergepoint.yaml). It builds the schema at the parent by running
the revisions on a temporary database, loads the desired schema into
another, and writes the revision: upgrade = the SQL from the parent's schema
to the desired one, downgrade = the SQL back, each statement's hazards as
`-- hazard:` comments, `transactional: false` when a statement cannot run in
a transaction. When the schemas already match it writes nothing (exit 0).
Review the SQL: a rename shows as a drop and an add (possible_rename).";

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
    /// Write the SQL from the schema at the parent to the desired schema
    /// (`schema:` in mergepoint.yaml) and back, found on the dev server.
    #[arg(long, conflicts_with_all = ["sql_upgrade", "sql_downgrade", "no_transaction"])]
    pub autogenerate: bool,
    /// With --autogenerate: build indexes on existing tables with CREATE
    /// INDEX CONCURRENTLY (the revision is then not transactional).
    #[arg(long, requires = "autogenerate")]
    pub concurrently: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
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
    let ws = ctx.workspace()?;
    if args.autogenerate {
        require_native(&ws, "revision --autogenerate")?;
    }
    let g = &ws.graph;
    let parent = parent_of(g, &args)?;
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
    let id = new_id(g, args.rev_id.as_deref())?;
    let parents: Vec<String> = parent.iter().map(|&p| g.id(p).to_string()).collect();
    let mut new = NewRevision {
        id,
        parents,
        depends_on,
        branch_labels: args.branch_labels.clone(),
        message: args.message.clone(),
        created: chrono::Utc::now(),
        transactional: !args.no_transaction,
        upgrade: args.sql_upgrade.clone().unwrap_or_default(),
        downgrade: args.sql_downgrade.clone().unwrap_or_default(),
    };
    validate_new(g, &new)?;
    let mut generated = None;
    if args.autogenerate {
        let Some(diffs) = autogenerate(ctx, &ws, new.parents.first(), &args)? else {
            return Ok(());
        };
        new.transactional = diffs.up.transactional() && diffs.down.transactional();
        new.upgrade = revision_body(&diffs.up, &diffs.headers[0]);
        new.downgrade = revision_body(&diffs.down, &diffs.headers[1]);
        generated = Some(diffs);
    }
    let path = write_new_revision(&ws.project, &new)?;
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
    if let Some(d) = generated {
        summarize(ctx, &d)?;
    }
    Ok(())
}

/// The two diffs of `--autogenerate`.
struct Generated {
    up: Plan,
    down: Plan,
    /// The comments that open the upgrade and the downgrade: what each
    /// was generated from and to.
    headers: [String; 2],
}

/// The desired schema's path: `schema:` of mergepoint.yaml, relative to the
/// project root.
fn desired_schema(ws: &Workspace) -> CliResult<PathBuf> {
    let Some(schema) = &ws.project.config.schema else {
        return Err(CliError::input(
            "revision --autogenerate needs the desired schema, and mergepoint.yaml names none",
        )
        .with_hint("add `schema: schema.sql` (a .sql file or a directory of .sql files, relative to the project root) to mergepoint.yaml"));
    };
    let path = ws.project.root.join(schema);
    if !path.exists() {
        return Err(CliError::input(format!(
            "{}: the desired schema (`schema:` in mergepoint.yaml) does not exist",
            path.display()
        ))
        .with_hint(
            "create it, or point `schema:` at the .sql file or directory that holds the schema",
        ));
    }
    Ok(path)
}

/// Diffs the schema at `parent` (`None`: the base) with the desired schema,
/// both ways; `None` (after saying so) when they match.
fn autogenerate(
    ctx: &mut Ctx,
    ws: &Workspace,
    parent: Option<&String>,
    args: &RevisionArgs,
) -> CliResult<Option<Generated>> {
    let path = desired_schema(ws)?;
    let at = parent.map(String::as_str).unwrap_or("base");
    let sides = [Side::Rev(at.to_string()), Side::Sql(path.clone())];
    let catalogs = read_sides(ctx, &args.schema, &sides)?;
    let options = DiffOptions {
        concurrently: args.concurrently,
    };
    let up = schema::diff(&catalogs[0], &catalogs[1], &options)?;
    if up.is_empty() {
        writeln!(
            ctx.out,
            "No changes: the schema at {} already matches {}; no revision written",
            if parent.is_some() { at } else { "<base>" },
            path.display()
        )?;
        return Ok(None);
    }
    let down = schema::diff(&catalogs[1], &catalogs[0], &options)?;
    let shown = path
        .strip_prefix(&ws.project.root)
        .unwrap_or(&path)
        .display()
        .to_string();
    let at = format!(
        "the schema at {}",
        if parent.is_some() { at } else { "base" }
    );
    let header = |from: &str, to: &str| {
        format!(
            "-- Generated by mergepoint revision --autogenerate: from {from} to {to}.\n\
             -- Review it: a rename shows as a drop and an add (possible_rename).\n"
        )
    };
    let headers = [header(&at, &shown), header(&shown, &at)];
    Ok(Some(Generated { up, down, headers }))
}

/// A revision body: the header, then the statements with their hazards.
fn revision_body(plan: &Plan, header: &str) -> String {
    if plan.is_empty() {
        return String::new();
    }
    let mut out = header.to_string();
    if !plan.transactional() {
        out.push_str("-- Not transactional: PostgreSQL refuses these inside a transaction block (or a\n-- later statement needs them committed first):\n");
        for s in plan.statements.iter().filter(|s| !s.transactional) {
            out.push_str(&format!("--   {}\n", s.sql.lines().next().unwrap_or("")));
        }
    }
    out.push('\n');
    out.push_str(render::body(plan).trim_end());
    out.push('\n');
    out
}

/// What was generated: the number of statements each way, every hazard.
fn summarize(ctx: &mut Ctx, d: &Generated) -> CliResult {
    let count = |n: usize| format!("{n} statement{}", if n == 1 { "" } else { "s" });
    writeln!(
        ctx.out,
        "upgrade: {}, downgrade: {}{}",
        count(d.up.statements.len()),
        count(d.down.statements.len()),
        if d.up.transactional() && d.down.transactional() {
            ""
        } else {
            " (transactional: false)"
        }
    )?;
    for (way, plan) in [("upgrade", &d.up), ("downgrade", &d.down)] {
        for s in &plan.statements {
            for h in &s.hazards {
                writeln!(ctx.out, "hazard ({way}): {}: {}", h.kind, h.message)?;
            }
        }
    }
    Ok(())
}

/// Writes a new revision file: an Alembic project's from its own
/// `script.py.mako` and `post_write_hooks`, as `alembic revision` does
/// (with the project's Python; without one, from mergepoint's copy of the
/// default template, said on stderr); a native project's as YAML.
pub(crate) fn write_new_revision(
    project: &crate::script::Project,
    new: &NewRevision,
) -> CliResult<std::path::PathBuf> {
    if project.format != crate::script::Format::Alembic {
        return Ok(crate::script::write_revision(project, new)?);
    }
    let python = crate::alembic_import::choose_python(None);
    let written = crate::alembic_import::template::write_from_template(&python, project, new)?;
    if let Some(note) = &written.note {
        eprintln!("warning: {note}");
    }
    Ok(written.path)
}
