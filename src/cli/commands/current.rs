//! `mergepoint current`: the revisions the database has applied, and
//! (`--check-heads`) whether they are exactly the graph's heads.

use crate::cli::database::{run_options, version_rows, DbArgs, PendingConnection};
use crate::cli::fleet::{self, CurrentRequest, TargetArgs};
use crate::cli::view::{EntryOpts, LineOpts, RevisionView};
use crate::cli::{workspace, CliError, CliResult, Ctx};
use crate::graph::RevisionGraph;
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
Prints the revisions recorded in the version table (alembic_version), one
line each, like `alembic current`. --check-heads exits 1 unless the
database is at exactly the graph's heads (CI / deploy gate).

Examples:
  mergepoint current --database-url postgresql://app@localhost/shop
  mergepoint current --check-heads        exit 1 if not fully upgraded
  DATABASE_URL=postgresql://app@localhost/shop mergepoint current --json
  mergepoint current --targets tenants.txt --jobs 8 --check-heads   a fleet";

#[derive(Debug, Args)]
pub struct CurrentArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Show each applied revision in full: its message, parents, file,
    /// and whether it is a head of the graph.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print a JSON object: the masked URL, the rows, the revisions.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 unless the version table holds exactly the graph's heads,
    /// saying which heads are not applied and which rows are not heads.
    #[arg(long)]
    pub check_heads: bool,
    #[command(flatten)]
    pub fleet: TargetArgs,
}

/// What `current --json` prints.
#[derive(Debug, Serialize)]
pub struct CurrentView<'g> {
    /// The database URL with any password masked.
    pub database: String,
    /// The version-table rows, sorted.
    pub rows: Vec<String>,
    /// The rows that are known revisions.
    pub revisions: Vec<RevisionView<'g>>,
    /// Rows naming no revision in the revisions directory.
    pub unknown: Vec<String>,
    /// The rows the version table holds when the database is at every
    /// head of the graph (what `upgrade heads` leaves), sorted.
    pub heads: Vec<String>,
    /// True when `rows` is exactly `heads`.
    pub at_heads: bool,
}

/// The version-table rows of a database at every head of the graph.
fn graph_head_rows(g: &RevisionGraph) -> CliResult<Vec<String>> {
    if g.is_empty() {
        return Ok(Vec::new());
    }
    let applied = g.resolve_many("heads")?;
    let mut rows = g.ids(&g.heads_of(&g.ancestors_with_deps(&applied)));
    rows.sort();
    Ok(rows)
}

/// How the version table differs from the graph's heads.
struct HeadsMismatch<'a> {
    /// Graph heads with no row.
    missing: Vec<&'a str>,
    /// Rows that are known revisions but not heads.
    not_heads: Vec<&'a str>,
    /// Rows naming no revision of the graph.
    unknown: Vec<&'a str>,
}

impl<'a> HeadsMismatch<'a> {
    fn of(g: &RevisionGraph, rows: &'a [String], heads: &'a [String]) -> Self {
        let extra = rows.iter().filter(|r| !heads.contains(r));
        HeadsMismatch {
            missing: heads
                .iter()
                .filter(|h| !rows.contains(h))
                .map(String::as_str)
                .collect(),
            not_heads: extra
                .clone()
                .filter(|r| g.find(r).is_some())
                .map(String::as_str)
                .collect(),
            unknown: extra
                .filter(|r| g.find(r).is_none())
                .map(String::as_str)
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.not_heads.is_empty() && self.unknown.is_empty()
    }

    /// The `--check-heads` failure, naming every difference.
    fn into_error(self, rows: &[String], heads: &[String]) -> CliError {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "graph head(s) not applied: {}",
                self.missing.join(", ")
            ));
        }
        // Rows in table order, unknown ones marked.
        let extra: Vec<String> = rows
            .iter()
            .filter(|r| !heads.contains(r))
            .map(|r| {
                if self.unknown.contains(&r.as_str()) {
                    format!("{r} (not in the revisions directory)")
                } else {
                    r.clone()
                }
            })
            .collect();
        if !extra.is_empty() {
            parts.push(format!(
                "version-table row(s) that are not graph heads: {}",
                extra.join(", ")
            ));
        }
        let mut err = CliError::check_failed(format!(
            "the database is not at the graph's heads ({}): {}",
            if heads.is_empty() {
                "base".to_string()
            } else {
                heads.join(", ")
            },
            parts.join("; ")
        ));
        if !self.unknown.is_empty() {
            err = err.with_hint(
                "a newer deploy may have applied revisions this checkout lacks: update the revisions directory",
            );
        }
        if !self.missing.is_empty() {
            err = err.with_hint("run 'mergepoint upgrade heads' to apply the missing heads");
        } else if !self.not_heads.is_empty() {
            err = err.with_hint(
                "'mergepoint check --database' shows the rows that are not heads and the repair SQL",
            );
        }
        err
    }
}

pub fn run(ctx: &mut Ctx, args: CurrentArgs) -> CliResult {
    args.fleet.check(false)?;
    if args.fleet.is_fleet() {
        if args.verbose {
            return Err(CliError::input(
                "--verbose shows one database in full; with a target list, current prints one line per target",
            )
            .with_hint("drop --verbose, or run 'mergepoint current --verbose' on one target"));
        }
        let ws = ctx.workspace()?;
        let opts = run_options(&ws, &args.db)?;
        let heads = graph_head_rows(&ws.graph)?;
        let req = CurrentRequest {
            opts: &opts,
            heads: &heads,
            json: args.json,
            check_heads: args.check_heads,
        };
        return fleet::run_current(ctx, &ws, &args.fleet, &args.db, req);
    }
    let project = ctx.project()?;
    let connecting = PendingConnection::start(&project, &args.db);
    let ws = workspace::survey(project).into_workspace()?;
    let opts = run_options(&ws, &args.db)?;
    let mut database = connecting.finish()?;
    let rows = version_rows(&mut database, &opts)?;
    let g = &ws.graph;
    let known: Vec<usize> = rows.iter().filter_map(|r| g.find(r)).collect();
    let heads = graph_head_rows(g)?;
    let view = CurrentView {
        database: database.masked_url().to_string(),
        revisions: RevisionView::list(g, &known),
        unknown: rows
            .iter()
            .filter(|r| g.find(r).is_none())
            .cloned()
            .collect(),
        at_heads: rows == heads,
        rows,
        heads,
    };
    if args.json {
        ctx.json(&view)?;
    } else {
        write_text(ctx, &view, args.verbose)?;
    }
    if args.check_heads {
        let mismatch = HeadsMismatch::of(g, &view.rows, &view.heads);
        if mismatch.is_empty() {
            return Ok(());
        }
        return Err(mismatch.into_error(&view.rows, &view.heads));
    }
    if !view.unknown.is_empty() && !args.json {
        return Err(CliError::input(format!(
            "the version table names revision(s) not in the revisions directory: {}",
            view.unknown.join(", ")
        ))
        .with_hint(
            "restore the missing revision files, or fix the table with 'mergepoint stamp --purge'",
        ));
    }
    Ok(())
}

fn write_text(ctx: &mut Ctx, view: &CurrentView, verbose: bool) -> CliResult {
    if verbose {
        writeln!(ctx.out, "Current revision(s) for {}:", view.database)?;
    }
    for v in &view.revisions {
        if verbose {
            let entry = v.entry_with(EntryOpts {
                mark_not_head: true,
            });
            writeln!(ctx.out, "{entry}")?;
        } else {
            let line = v.line(LineOpts {
                tree: true,
                ..LineOpts::default()
            });
            writeln!(ctx.out, "{line}")?;
        }
    }
    for u in &view.unknown {
        writeln!(ctx.out, "{u} (not in the revisions directory)")?;
    }
    Ok(())
}
