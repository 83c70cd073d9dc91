//! `mergepoint merge`: join heads with a merge revision; with `--verify`,
//! only once the branches are proven to commute ([`crate::schema::commute`]).

use super::diff::{plan_view, StatementView};
use super::revision::{named, new_id, validate_new};
use crate::cli::database::{run_options, DbArgs, WorkspaceSql};
use crate::cli::schema_sides::{dev_server, require_native, SchemaArgs};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::graph::Ix;
use crate::schema::commute::{self, CommuteReport};
use crate::schema::render;
use crate::schema::source::Revisions;
use crate::script::NewRevision;
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
The merge revision's parents are exactly the given heads, in the order given
(`heads` expands to every head, oldest file first). It has no SQL of its own
unless you add some. Written in the directory's own format: a YAML file, or
a Python file Alembic accepts.

Examples:
  mergepoint merge heads -m 'merge feature branches'
  mergepoint merge a1b2 c3d4 -m 'merge shop and billing'
  mergepoint merge shop@head billing@head -m 'merge' --rev-id 0123456789ab
  mergepoint merge heads -m 'merge' --verify    only if the branches commute

--verify applies the branches from their common ancestor in every order
(for two: A then B, and B then A), each order on a temporary database of the
dev server (--dev-url, MERGEPOINT_DEV_URL or dev_url: in mergepoint.yaml),
and compares the schemas. When an order fails to apply (both branches add
the same column) or the orders leave different schemas (a view or a default
that depends on which branch runs last), the merge is refused (exit 1) and
the report says which revision failed in which order, or prints the SQL
between the orders' schemas and the objects both branches change. Needs
native revisions (an Alembic project exits 2).";

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
    /// Write the merge only if the branches commute: applied from their
    /// common ancestor in every order, on the dev server, they must leave
    /// the same schema (exit 1 otherwise).
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// One order of a merge check, for `--json`.
#[derive(Debug, Serialize)]
pub struct OrderView<'a> {
    /// The heads, in the order their branches were applied.
    pub heads: &'a [String],
    /// The head of the branch that failed to apply, and the runner's message.
    pub failed_branch: Option<&'a str>,
    pub error: Option<&'a str>,
    /// The statements from the first order's schema to this one's.
    pub difference: Vec<StatementView<'a>>,
}

/// A merge check, for `--json`.
#[derive(Debug, Serialize)]
pub struct CommuteView<'a> {
    /// The merge revision checked (`check --merges`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<&'a str>,
    pub heads: &'a [String],
    /// The common ancestor's version-table rows (empty: the base).
    pub common: &'a [String],
    pub commutes: bool,
    pub orders: Vec<OrderView<'a>>,
    /// Objects more than one branch changes.
    pub touched_by_several: &'a [String],
}

impl<'a> CommuteView<'a> {
    pub fn new(merge: Option<&'a str>, r: &'a CommuteReport) -> Self {
        CommuteView {
            merge,
            heads: &r.heads,
            common: &r.common,
            commutes: r.commutes(),
            orders: r
                .orders
                .iter()
                .map(|o| OrderView {
                    heads: &o.heads,
                    failed_branch: o.failure.as_ref().map(|(h, _)| h.as_str()),
                    error: o
                        .failure
                        .as_ref()
                        .map(|(_, e)| e.as_str())
                        .or(o.incomparable.as_deref()),
                    difference: plan_view(&o.difference),
                })
                .collect(),
            touched_by_several: &r.touched_by_several,
        }
    }
}

/// Runs the merge check of `heads` (full ids) on the dev server.
pub fn check_commute(
    ws: &Workspace,
    heads: &[String],
    schema: &SchemaArgs,
    command: &str,
) -> CliResult<CommuteReport> {
    require_native(ws, command)?;
    let dev = dev_server(&ws.project.config, schema, command)?;
    let options = run_options(ws, &DbArgs::default())?;
    let sql = WorkspaceSql(ws);
    let revisions = Revisions {
        graph: &ws.graph,
        sql: &sql,
        options: &options,
    };
    Ok(commute::check(&dev, &revisions, heads, &schema.schemas)?)
}

/// A merge check as text: each order, what failed or differs, and the
/// objects several branches change.
pub fn commute_text(r: &CommuteReport) -> String {
    let from = if r.common.is_empty() {
        "the base".to_string()
    } else {
        r.common.join(", ")
    };
    let mut out = format!(
        "branches of {} applied from their common ancestor ({from}) in {} orders:\n",
        r.heads.join(", "),
        r.orders.len()
    );
    for o in &r.orders {
        let order = o.heads.join(" then ");
        if let Some((head, e)) = &o.failure {
            out.push_str(&format!(
                "  {order}: failed while applying the branch of {head}:\n"
            ));
            for line in e.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        } else if let Some(why) = &o.incomparable {
            out.push_str(&format!("  {order}: applied; {why}\n"));
        } else if !o.difference.is_empty() {
            out.push_str(&format!(
                "  {order}: applied, but leaves another schema than {}; the SQL from that one to this one:\n",
                r.orders[0].heads.join(" then ")
            ));
            for line in render::body(&o.difference).trim_end().lines() {
                out.push_str(&format!("    {line}\n"));
            }
        } else {
            out.push_str(&format!("  {order}: applied\n"));
        }
    }
    if !r.touched_by_several.is_empty() {
        out.push_str(&format!(
            "objects more than one branch changes: {}\n",
            r.touched_by_several.join(", ")
        ));
    }
    if r.commutes() {
        out.push_str("the branches commute: every order leaves the same schema\n");
    }
    out
}

pub fn run(ctx: &mut Ctx, args: MergeArgs) -> CliResult {
    let ws = ctx.workspace()?;
    if args.verify {
        require_native(&ws, "merge --verify")?;
    }
    let g = &ws.graph;
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
                    named(g, ix, ident)
                )));
            }
            if !g.is_head(ix) {
                return Err(CliError::input(format!(
                    "{} is not a head; only heads can be merged",
                    named(g, ix, ident)
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
    let id = new_id(g, args.rev_id.as_deref())?;
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
    validate_new(g, &new)?;
    if args.verify {
        let report = check_commute(&ws, &new.parents, &args.schema, "merge --verify")?;
        ctx.out.write_all(commute_text(&report).as_bytes())?;
        if !report.commutes() {
            ctx.out.flush()?;
            return Err(CliError::check_failed(format!(
                "the branches of {} do not commute; the merge was not written",
                new.parents.join(", ")
            ))
            .with_hint("make the branches independent (or make one build on the other), then merge again; the report above says which revision failed in which order, or what each order leaves differently"));
        }
    }
    let path = crate::cli::commands::revision::write_new_revision(&ws.project, &new)?;
    writeln!(
        ctx.out,
        "Created merge revision {} of {}: {}",
        new.id,
        new.parents.join(", "),
        path.display()
    )?;
    Ok(())
}
