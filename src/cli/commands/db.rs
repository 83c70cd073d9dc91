//! Database commands: `current`, `upgrade`, `downgrade`, `stamp`, on top of
//! [`crate::db`]. The database URL comes from `--database-url`, then
//! `DATABASE_URL`, then `mergepoint.yaml`; it is only ever shown masked.
//!
//! `upgrade --sql` / `downgrade --sql` need no database: they print the
//! script Alembic's offline mode would, for native (YAML) revisions.

use crate::cli::view::{LineOpts, RevisionView};
use crate::cli::{resolve, CliError, CliResult, Ctx, ErrorKind, Workspace};
use crate::db::{self, Database, DbError, RevisionSql, RunOptions, VersionTable};
use crate::graph::{Plan, RevisionGraph};
use crate::script::Body;
use clap::Args;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

pub const CURRENT_AFTER_HELP: &str = "\
Prints the revisions recorded in the version table (alembic_version), one
line each, like `alembic current`.

Examples:
  mergepoint current --database-url postgresql://app@localhost/shop
  DATABASE_URL=postgresql://app@localhost/shop mergepoint current --json";

pub const UPGRADE_AFTER_HELP: &str = "\
TARGET is any identifier: head, heads, a revision, label@head, +1. Each
revision and its version-table update commit in one transaction (revisions
marked `transactional: false` run outside one). Concurrent runners wait for
the migration lock, then find nothing left to do.

Examples:
  mergepoint upgrade head
  mergepoint upgrade heads --lock-timeout 120
  mergepoint upgrade head --sql > upgrade.sql          offline: print the SQL
  mergepoint upgrade a1b2:head --sql                   offline, from a1b2";

pub const DOWNGRADE_AFTER_HELP: &str = "\
Examples:
  mergepoint downgrade -1
  mergepoint downgrade a1b2
  mergepoint downgrade base
  mergepoint downgrade head:base --sql     offline needs FROM:TO";

pub const LOG_AFTER_HELP: &str = "\
One line per step ever run, oldest first: when (UTC), direction, revision,
ok/FAILED, duration, who and from where; failures add their error.

Examples:
  mergepoint log
  mergepoint log -n 20
  mergepoint log --json";

pub const STAMP_AFTER_HELP: &str = "\
Examples:
  mergepoint stamp head        mark an existing database as up to date
  mergepoint stamp base        empty the version table
  mergepoint stamp a1b2 --purge";

/// Options every database command shares.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL [default: $DATABASE_URL, then database_url in mergepoint.yaml].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Seconds to wait for the migration lock before giving up (exit 4)
    /// [default: lock_timeout_secs in mergepoint.yaml, else 60].
    #[arg(long, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Show each applied revision in full.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print a JSON object: the masked URL, the rows, the revisions.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MoveArgs {
    /// Where to go: a revision, head, heads, base, +N / -N, label@head;
    /// with --sql also FROM:TO.
    #[arg(value_name = "TARGET", allow_hyphen_values = true)]
    pub target: String,
    /// Print the SQL instead of running it (offline mode, no database).
    #[arg(long)]
    pub sql: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only the newest N entries.
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<i64>,
    /// Print a JSON array of audit entries (see docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// The revision(s) to record as applied (base empties the table).
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Empty the version table first (also drops rows of unknown revisions).
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

impl From<DbError> for CliError {
    fn from(err: DbError) -> Self {
        let kind = match err.exit_code() {
            3 => ErrorKind::Database,
            4 => ErrorKind::LockTimeout,
            _ => ErrorKind::Input,
        };
        CliError::new(kind, err.to_string())
    }
}

/// The SQL of every native revision, by id. Alembic revisions have none.
pub(crate) fn revision_sql(ws: &Workspace) -> HashMap<String, RevisionSql> {
    let mut map = HashMap::new();
    for (ix, body) in ws.bodies.iter().enumerate() {
        if let Body::Native(b) = body {
            map.insert(
                ws.graph.id(ix).to_string(),
                RevisionSql {
                    upgrade: b.upgrade.clone(),
                    downgrade: b.downgrade.clone(),
                    transactional: b.transactional,
                },
            );
        }
    }
    map
}

pub(crate) fn run_options(ws: &Workspace, args: &DbArgs) -> CliResult<RunOptions> {
    let cfg = &ws.project.config;
    let table = VersionTable::new(
        cfg.version_table.as_deref().unwrap_or("alembic_version"),
        cfg.version_table_schema.as_deref(),
    )?;
    let secs = args.lock_timeout.or(cfg.lock_timeout_secs).unwrap_or(60);
    Ok(RunOptions {
        table,
        lock_timeout: Duration::from_secs(secs),
        ..RunOptions::default()
    })
}

pub(crate) fn connect(ws: &Workspace, args: &DbArgs) -> CliResult<Database> {
    let url = ws
        .project
        .config
        .database_url(args.database_url.as_deref())
        .ok_or_else(|| {
            CliError::input("no database URL").with_hint(
                "pass --database-url, set DATABASE_URL, or add database_url to mergepoint.yaml",
            )
        })?;
    Ok(Database::connect(&url)?)
}

/// Version-table rows for the applied side of an offline range.
fn rows_for(g: &RevisionGraph, from: &str) -> CliResult<Vec<String>> {
    if from.is_empty() || from == "base" {
        return Ok(Vec::new());
    }
    let applied = resolve::resolve_many(g, from)?;
    Ok(g.ids(&g.heads_of(&g.ancestors_with_deps(&applied))))
}

fn offline(ctx: &mut Ctx, ws: &Workspace, args: &MoveArgs, plan: Plan) -> CliResult {
    let opts = run_options(ws, &args.db)?;
    let text = db::render_offline(&plan, &revision_sql(ws), &opts.table)?;
    ctx.out.write_all(text.as_bytes())?;
    Ok(())
}

fn message(g: &RevisionGraph, id: &str) -> String {
    g.find(id)
        .map(|ix| g.rev(ix).message.clone())
        .unwrap_or_default()
}

/// What `current --json` prints.
#[derive(Debug, Serialize)]
pub struct CurrentView {
    /// The database URL with any password masked.
    pub database: String,
    /// The version-table rows, sorted.
    pub rows: Vec<String>,
    /// The rows that are known revisions.
    pub revisions: Vec<RevisionView>,
    /// Rows naming no revision in the revisions directory.
    pub unknown: Vec<String>,
}

pub fn current(ctx: &mut Ctx, args: CurrentArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let opts = run_options(&ws, &args.db)?;
    let mut database = connect(&ws, &args.db)?;
    let rows = db::current(database.client(), &opts.table)?;
    let g = &ws.graph;
    let known: Vec<usize> = rows.iter().filter_map(|r| g.find(r)).collect();
    let view = CurrentView {
        database: database.masked_url().to_string(),
        revisions: RevisionView::list(g, &known),
        unknown: rows
            .iter()
            .filter(|r| g.find(r).is_none())
            .cloned()
            .collect(),
        rows,
    };
    if args.json {
        return ctx.json(&view);
    }
    if args.verbose {
        writeln!(ctx.out, "Current revision(s) for {}:", view.database)?;
    }
    for v in &view.revisions {
        if args.verbose {
            writeln!(ctx.out, "{}", v.entry())?;
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
    if !view.unknown.is_empty() {
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

fn run_move(ctx: &mut Ctx, args: MoveArgs, up: bool) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    if args.sql {
        let (from, to) = match args.target.split_once(':') {
            Some((f, t)) => (f.to_string(), t.to_string()),
            None if up => (String::new(), args.target.clone()),
            None => return Err(CliError::input(format!(
                "downgrade --sql needs FROM:TO, got '{}'",
                args.target
            ))
            .with_hint(
                "offline there is no database to read the current revision from, e.g. head:base",
            )),
        };
        let rows = rows_for(g, &from)?;
        let plan = if up {
            g.plan_upgrade(&rows, &to)
        } else {
            g.plan_downgrade(&rows, &to)
        }
        .map_err(CliError::from)?;
        return offline(ctx, &ws, &args, plan);
    }
    let opts = run_options(&ws, &args.db)?;
    let sql = revision_sql(&ws);
    let mut database = connect(&ws, &args.db)?;
    let out = &mut *ctx.out;
    let mut write_err = None;
    let on_step = |step: &crate::graph::Step, took: Duration| {
        let line = format!(
            "Running {}, {} ({} ms)",
            step.short_log(),
            message(g, &step.revision),
            took.as_millis()
        );
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            write_err.get_or_insert(e);
        }
    };
    let outcome = if up {
        db::upgrade(&mut database, g, &args.target, &sql, &opts, on_step)
    } else {
        db::downgrade(&mut database, g, &args.target, &sql, &opts, on_step)
    }?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if outcome.plan.steps.is_empty() {
        writeln!(
            ctx.out,
            "Nothing to do: the database is already at {}.",
            if outcome.plan.end_heads.is_empty() {
                "base".to_string()
            } else {
                outcome.plan.end_heads.join(", ")
            }
        )?;
    }
    Ok(())
}

pub fn upgrade(ctx: &mut Ctx, args: MoveArgs) -> CliResult {
    run_move(ctx, args, true)
}

pub fn downgrade(ctx: &mut Ctx, args: MoveArgs) -> CliResult {
    run_move(ctx, args, false)
}

pub fn stamp(ctx: &mut Ctx, args: StampArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    let targets = g.ids(&resolve::resolve_many(g, &args.target)?);
    let opts = run_options(&ws, &args.db)?;
    let mut database = connect(&ws, &args.db)?;
    let outcome = db::stamp(&mut database, g, &opts, args.purge, |_| Ok(targets))?;
    let show = |rows: &[String]| {
        if rows.is_empty() {
            "(empty)".to_string()
        } else {
            rows.join(", ")
        }
    };
    writeln!(
        ctx.out,
        "Stamped: version table {} -> {}",
        show(&outcome.before),
        show(&outcome.after)
    )?;
    Ok(())
}

pub fn log(ctx: &mut Ctx, args: LogArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let opts = run_options(&ws, &args.db)?;
    let mut database = connect(&ws, &args.db)?;
    let entries = db::history(database.client(), &opts.table, args.limit)?;
    if args.json {
        return ctx.json(&entries);
    }
    for e in &entries {
        let took = e
            .duration_ms
            .map(|ms| format!("{ms:.1} ms"))
            .unwrap_or_else(|| "-".to_string());
        write!(
            ctx.out,
            "{}  {:<9} {}  {}  {}  {}@{}",
            e.started_at,
            e.direction,
            e.revision,
            if e.success { "ok" } else { "FAILED" },
            took,
            e.db_user,
            e.client_host
        )?;
        match &e.error {
            Some(err) => writeln!(ctx.out, "  error: {err}")?,
            None => writeln!(ctx.out)?,
        }
    }
    Ok(())
}
