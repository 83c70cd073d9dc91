//! Database commands: `current`, `upgrade`, `downgrade`, `stamp`, on top of
//! [`crate::db`]. The database URL comes from `--database-url`, then
//! `DATABASE_URL`, then `mergepoint.yaml`; it is only ever shown masked.
//!
//! `upgrade --sql` / `downgrade --sql` need no database: they print the
//! script Alembic's offline mode would, for native (YAML) revisions; for
//! Alembic revisions each step's SQL is a failing placeholder.

use crate::cli::view::{LineOpts, RevisionView};
use crate::cli::{resolve, CliError, CliResult, Ctx, ErrorKind, Workspace};
use crate::db::{self, Database, DbError, RevisionSql, RunOptions, StepSql, VersionTable};
use crate::graph::{Direction, Plan, ResolveError, RevisionGraph, Step};
use crate::script::{Body, Format, Project};
use clap::Args;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const CURRENT_AFTER_HELP: &str = "\
Prints the revisions recorded in the version table (alembic_version), one
line each, like `alembic current`. --check-heads exits 1 unless the
database is at exactly the graph's heads (CI / deploy gate).

Examples:
  mergepoint current --database-url postgresql://app@localhost/shop
  mergepoint current --check-heads        exit 1 if not fully upgraded
  DATABASE_URL=postgresql://app@localhost/shop mergepoint current --json";

pub const UPGRADE_AFTER_HELP: &str = "\
TARGET is any identifier: head, heads, a revision, label@head, +1. Each
revision and its version-table update commit in one transaction (revisions
marked `transactional: false` run outside one). Concurrent runners wait for
the migration lock, then find nothing left to do. Each step prints one
line as it runs: direction, revision, message, time taken.

On an Alembic project (Python revisions) upgrade refuses to run; --sql still
prints the plan, with a failing placeholder in place of each step's SQL.

Examples:
  mergepoint upgrade head
  mergepoint upgrade heads --lock-timeout 120
  mergepoint upgrade head --transaction-per-run        all or nothing
  mergepoint upgrade head --json                       JSON lines
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
    /// Name of the version table [default: version_table in
    /// mergepoint.yaml, else alembic_version].
    #[arg(long, value_name = "NAME")]
    pub version_table: Option<String>,
    /// Schema of the version table and of mergepoint_history [default:
    /// version_table_schema in mergepoint.yaml, else the first schema on
    /// the search path].
    #[arg(long, value_name = "SCHEMA")]
    pub version_table_schema: Option<String>,
}

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
    /// Run the whole plan in one transaction: if any revision fails,
    /// nothing of this run stays applied. Refused when a revision of the
    /// plan is `transactional: false`.
    #[arg(long, conflicts_with = "sql")]
    pub transaction_per_run: bool,
    /// Print one JSON object per step as it runs, then a summary object
    /// (JSON lines, see docs/json.md).
    #[arg(long, conflicts_with = "sql")]
    pub json: bool,
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
    #[arg(value_name = "TARGET", allow_hyphen_values = true)]
    pub target: String,
    /// Empty the version table first (also drops rows of unknown revisions).
    #[arg(long)]
    pub purge: bool,
    /// Print one JSON object per stamped revision, then a summary object
    /// (JSON lines, see docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

impl From<DbError> for CliError {
    fn from(err: DbError) -> Self {
        if let DbError::Plan(e) = err {
            // Keeps the planner's hints (e.g. several heads).
            return CliError::from(e);
        }
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
        args.version_table
            .as_deref()
            .or(cfg.version_table.as_deref())
            .unwrap_or("alembic_version"),
        args.version_table_schema
            .as_deref()
            .or(cfg.version_table_schema.as_deref()),
    )?;
    let secs = args.lock_timeout.or(cfg.lock_timeout_secs).unwrap_or(60);
    Ok(RunOptions {
        table,
        lock_timeout: Duration::from_secs(secs),
        ..RunOptions::default()
    })
}

pub(crate) fn connect(ws: &Workspace, args: &DbArgs) -> CliResult<Database> {
    Ok(Database::connect(&database_url(&ws.project, args)?)?)
}

/// `--database-url`, else `DATABASE_URL`, else the project's `database_url`.
fn database_url(project: &Project, args: &DbArgs) -> CliResult<String> {
    project
        .config
        .database_url(args.database_url.as_deref())
        .ok_or_else(|| {
            CliError::input("no database URL").with_hint(
                "pass --database-url, set DATABASE_URL, or add database_url to mergepoint.yaml",
            )
        })
}

/// A connection opened in the background while the revisions load:
/// connecting costs about as much as loading 1,000 files, so a read-only
/// command does both at once. Errors are reported in the usual order (the
/// revision files' first, then the URL's, then the connection's).
struct PendingConnection(CliResult<std::thread::JoinHandle<Result<Database, DbError>>>);

impl PendingConnection {
    fn start(project: &Project, args: &DbArgs) -> PendingConnection {
        let url = database_url(project, args);
        PendingConnection(url.map(|url| std::thread::spawn(move || Database::connect(&url))))
    }

    fn finish(self) -> CliResult<Database> {
        match self.0?.join() {
            Ok(connected) => Ok(connected?),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Version-table rows for the applied side of an offline range.
fn rows_for(g: &RevisionGraph, from: &str) -> CliResult<Vec<String>> {
    if from.is_empty() || from == "base" {
        return Ok(Vec::new());
    }
    let applied = resolve::resolve_many(g, from)?;
    Ok(g.ids(&g.heads_of(&g.ancestors_with_deps(&applied))))
}

/// The starting point of an offline range `FROM:TO`: like Alembic's
/// `starting_rev`, exactly one revision (or base), so `heads:base` with
/// several heads is refused as ambiguous rather than guessed.
fn offline_start(g: &RevisionGraph, from: &str) -> CliResult<Vec<String>> {
    if from.is_empty() {
        return Ok(Vec::new());
    }
    let start = g.resolve_one(from).map_err(|e| {
        CliError::from(e).with_hint(
            "offline, FROM is the single revision the database is at; name one head (or use LABEL@head)",
        )
    })?;
    Ok(start
        .map(|ix| vec![g.id(ix).to_string()])
        .unwrap_or_default())
}

fn offline(ctx: &mut Ctx, ws: &Workspace, args: &MoveArgs, plan: Plan) -> CliResult {
    let opts = run_options(ws, &args.db)?;
    if ws.project.format == Format::Alembic {
        let script = db::OfflineScript::new(&plan, &AlembicPlaceholders, &opts.table)?;
        eprintln!(
            "note: {} holds Alembic revisions: this script has their steps and version-table statements, but each step's SQL is a placeholder that stops the script; 'alembic upgrade --sql' writes the real SQL",
            ws.project.root.display()
        );
        ctx.out.write_all(ALEMBIC_OFFLINE_HEADER.as_bytes())?;
        script.write_to(ctx.out)?;
    } else {
        let sql = WorkspaceSql(ws);
        db::OfflineScript::new(&plan, &sql, &opts.table)?.write_to(ctx.out)?;
    }
    crate::cli::timings::mark("render");
    Ok(())
}

const ALEMBIC_OFFLINE_HEADER: &str = "\
-- Alembic project: mergepoint reads the revision graph but does not run the
-- Python upgrade()/downgrade() functions. Every step below raises an error in
-- place of its SQL, so this script can show the plan but never records a
-- revision that did not run. For the real SQL use 'alembic upgrade --sql', or
-- convert the project with 'mergepoint import-alembic'.
";

/// The SQL of native revisions, read from the loaded files in place.
struct WorkspaceSql<'a>(&'a Workspace);

impl StepSql for WorkspaceSql<'_> {
    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)> {
        let ix = self.0.graph.find(revision)?;
        let Body::Native(body) = &self.0.bodies[ix] else {
            return None;
        };
        let text = match direction {
            Direction::Upgrade => &body.upgrade,
            Direction::Downgrade => &body.downgrade,
        };
        Some((Cow::Borrowed(text), body.transactional))
    }
}

/// Stand-in SQL for Alembic revisions in offline scripts: a statement that
/// fails, so that piping the script into psql cannot record a revision whose
/// SQL never ran (each step's version-table update is in the same
/// transaction).
struct AlembicPlaceholders;

impl StepSql for AlembicPlaceholders {
    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)> {
        let message = db::quote_literal(&format!(
            "mergepoint: revision {revision} is an Alembic revision; its {} SQL is not in this script",
            direction.as_str()
        ));
        let sql = format!(
            "DO $mergepoint$ BEGIN RAISE EXCEPTION USING MESSAGE = {message}; END $mergepoint$;\n"
        );
        Some((Cow::Owned(sql), true))
    }
}

fn message(g: &RevisionGraph, id: &str) -> String {
    g.find(id)
        .map(|ix| g.rev(ix).message.clone())
        .unwrap_or_default()
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
    let mut rows = rows_for(g, "heads")?;
    rows.sort();
    Ok(rows)
}

/// Why `rows` is not exactly `heads`, or None when it is.
fn heads_mismatch(g: &RevisionGraph, rows: &[String], heads: &[String]) -> Option<CliError> {
    let missing: Vec<&str> = heads
        .iter()
        .filter(|h| !rows.contains(h))
        .map(String::as_str)
        .collect();
    let extra: Vec<String> = rows
        .iter()
        .filter(|r| !heads.contains(r))
        .map(|r| {
            if g.find(r).is_none() {
                format!("{r} (not in the revisions directory)")
            } else {
                r.clone()
            }
        })
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("graph head(s) not applied: {}", missing.join(", ")));
    }
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
    if extra.iter().any(|e| e.ends_with("directory)")) {
        err = err.with_hint(
            "a newer deploy may have applied revisions this checkout lacks: update the revisions directory",
        );
    }
    if !missing.is_empty() {
        err = err.with_hint("run 'mergepoint upgrade heads' to apply the missing heads");
    }
    if rows
        .iter()
        .any(|r| g.find(r).is_some() && !heads.contains(r))
        && missing.is_empty()
    {
        err = err.with_hint(
            "'mergepoint check --database' shows the rows that are not heads and the repair SQL",
        );
    }
    Some(err)
}

pub fn current(ctx: &mut Ctx, args: CurrentArgs) -> CliResult {
    let project = ctx.project()?;
    let connecting = PendingConnection::start(&project, &args.db);
    let ws = ctx.workspace_of(project)?;
    let opts = run_options(&ws, &args.db)?;
    let mut database = connecting.finish()?;
    let rows = db::current(database.client(), &opts.table)?;
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
        if args.verbose {
            writeln!(ctx.out, "Current revision(s) for {}:", view.database)?;
        }
        for v in &view.revisions {
            if args.verbose {
                let mut entry = v.entry();
                if !v.is_head {
                    // Alembic marks heads only; say it plainly.
                    entry = entry.replacen('\n', " (not a head)\n", 1);
                }
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
    }
    if args.check_heads {
        return match heads_mismatch(g, &view.rows, &view.heads) {
            Some(err) => Err(err),
            None => Ok(()),
        };
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

/// Refuses to run the revisions of an Alembic project online, before any
/// connection: only Alembic can run Python. (Offline scripts are allowed;
/// see [`AlembicPlaceholders`].)
fn refuse_alembic(ws: &Workspace, command: &str) -> CliResult {
    if ws.project.format != Format::Alembic {
        return Ok(());
    }
    Err(CliError::input(format!(
        "{} holds Alembic revisions (Python upgrade()/downgrade() functions), which mergepoint cannot run; nothing was done and no database was contacted",
        ws.project.root.display()
    ))
    .with_hint(format!(
        "run them with Alembic: 'alembic {command} TARGET' (or 'alembic {command} TARGET --sql' for a script)"
    ))
    .with_hint("or convert them to native YAML revisions with 'mergepoint import-alembic'")
    .with_hint("graph commands, 'mergepoint current' and 'mergepoint stamp' work on Alembic projects"))
}

/// One line of `upgrade/downgrade/stamp --json`: a step that ran.
#[derive(Debug, Serialize)]
pub struct StepEvent<'a> {
    /// Always `"step"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub revision: &'a str,
    /// `upgrade`, `downgrade` or `stamp`.
    pub direction: &'a str,
    /// Alembic's log line: parents -> revision on upgrade, revision ->
    /// parents on downgrade; version-table rows before -> after on stamp.
    pub from: &'a [String],
    pub to: &'a [String],
    pub message: String,
    pub duration_ms: f64,
}

/// The last line of `upgrade/downgrade/stamp --json`, after a success.
#[derive(Debug, Serialize)]
pub struct RunSummary<'a> {
    /// Always `"summary"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `upgrade`, `downgrade` or `stamp`.
    pub command: &'static str,
    pub target: &'a str,
    /// The database URL with any password masked.
    pub database: &'a str,
    /// Version-table rows before and after the run.
    pub before: &'a [String],
    pub after: &'a [String],
    /// Steps run (0: nothing to do).
    pub steps: usize,
    pub duration_ms: f64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn json_line<T: Serialize>(out: &mut dyn std::io::Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    out.flush()
}

fn run_move(ctx: &mut Ctx, args: MoveArgs, up: bool) -> CliResult {
    let ws = ctx.workspace()?;
    let command = if up { "upgrade" } else { "downgrade" };
    if !args.sql {
        refuse_alembic(&ws, command)?;
    }
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
        let rows = offline_start(g, &from)?;
        let plan = if up {
            g.plan_upgrade(&rows, &to)
        } else {
            g.plan_downgrade(&rows, &to)
        }
        .map_err(|e| plan_error(e, up))?;
        crate::cli::timings::mark("plan");
        return offline(ctx, &ws, &args, plan);
    }
    let mut opts = run_options(&ws, &args.db)?;
    opts.transaction_per_run = args.transaction_per_run;
    let sql = revision_sql(&ws);
    let mut database = connect(&ws, &args.db)?;
    let masked = database.masked_url().to_string();
    let out = &mut *ctx.out;
    let json = args.json;
    let mut write_err = None;
    let started = Instant::now();
    let on_step = |step: &Step, took: Duration| {
        let written = if json {
            json_line(
                out,
                &StepEvent {
                    kind: "step",
                    revision: &step.revision,
                    direction: step.direction.as_str(),
                    from: &step.from,
                    to: &step.to,
                    message: message(g, &step.revision),
                    duration_ms: ms(took),
                },
            )
        } else {
            writeln!(
                out,
                "{}  {}  {}  ({} ms)",
                step.direction.as_str(),
                step.revision,
                message(g, &step.revision),
                took.as_millis()
            )
            .and_then(|_| out.flush())
        };
        if let Err(e) = written {
            write_err.get_or_insert(e);
        }
    };
    let outcome = if up {
        db::upgrade(&mut database, g, &args.target, &sql, &opts, on_step)
    } else {
        db::downgrade(&mut database, g, &args.target, &sql, &opts, on_step)
    }
    .map_err(|e| match e {
        DbError::Plan(e) => plan_error(e, up),
        e => CliError::from(e),
    })?;
    if let Some(e) = write_err {
        return Err(e.into());
    }
    let plan = &outcome.plan;
    if json {
        json_line(
            ctx.out,
            &RunSummary {
                kind: "summary",
                command,
                target: &args.target,
                database: &masked,
                before: &plan.start_heads,
                after: &plan.end_heads,
                steps: plan.steps.len(),
                duration_ms: ms(started.elapsed()),
            },
        )?;
    } else if plan.steps.is_empty() {
        writeln!(
            ctx.out,
            "Nothing to do: the database is already at {}.",
            if plan.end_heads.is_empty() {
                "base".to_string()
            } else {
                plan.end_heads.join(", ")
            }
        )?;
    }
    Ok(())
}

/// A planning error, with the hints that fit upgrade / downgrade.
fn plan_error(e: ResolveError, up: bool) -> CliError {
    let several = matches!(e, ResolveError::MultipleHeads { .. });
    let err = CliError::from(e);
    if several && up {
        err.with_hint("to apply every head instead, run 'mergepoint upgrade heads'")
    } else {
        err
    }
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
    let started = Instant::now();
    let outcome = db::stamp(&mut database, g, &opts, args.purge, |_| Ok(targets))?;
    let took = started.elapsed();
    if args.json {
        // One step per revision the stamp recorded (as in the audit
        // table): each added row, or `base` when the table was emptied.
        let added: Vec<&String> = outcome
            .after
            .iter()
            .filter(|r| !outcome.before.contains(r))
            .collect();
        let stamped: Vec<&str> = if added.is_empty() && outcome.before != outcome.after {
            vec!["base"]
        } else {
            added.iter().map(|s| s.as_str()).collect()
        };
        for rev in &stamped {
            json_line(
                ctx.out,
                &StepEvent {
                    kind: "step",
                    revision: rev,
                    direction: "stamp",
                    from: &outcome.before,
                    to: &outcome.after,
                    message: message(g, rev),
                    duration_ms: ms(took),
                },
            )?;
        }
        json_line(
            ctx.out,
            &RunSummary {
                kind: "summary",
                command: "stamp",
                target: &args.target,
                database: database.masked_url(),
                before: &outcome.before,
                after: &outcome.after,
                steps: stamped.len(),
                duration_ms: ms(took),
            },
        )?;
        return Ok(());
    }
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
