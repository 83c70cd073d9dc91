//! `mergepoint upgrade` and `mergepoint downgrade`: one command that moves
//! the database in a [`Direction`], online (under the migration lock, one
//! line or JSON object per step) or offline (`--sql`, in `offline.rs`).

mod alembic;
mod offline;

use crate::cli::database::{self, connect, json_line, message, ms, run_options, DbArgs};
use crate::cli::database::{notice_lines, RunSummary, StepEvent, WorkspaceSql};
use crate::cli::fleet::{self, MoveRequest, TargetArgs};
use crate::cli::view::first_line;
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::db::{DbError, Notice, RunObserver, RunOptions, RunOutcome, Timeouts};
use crate::graph::{Direction, ResolveError, RevisionGraph, Step};
use crate::script::Format;
use clap::Args;
use std::time::{Duration, Instant};

pub const UPGRADE_AFTER_HELP: &str = "\
TARGET is any identifier: head, heads, a revision, label@head, +1. Each
revision and its version-table update commit in one transaction (revisions
marked `transactional: false` run outside one). Concurrent runners wait for
the migration lock, then find nothing left to do. Each step prints one
line as it runs: direction, revision, message, time taken.

On an Alembic project (Python revisions) each step's upgrade() runs through
Alembic's own Operations in a Python worker started once per run with the
project's interpreter (--python, $MP_ALEMBIC_PYTHON, $VIRTUAL_ENV, .venv/ or
venv/ beside alembic.ini, python3), under mergepoint's lock, version table
and audit: replace `alembic upgrade head` in a deploy with
`mergepoint upgrade heads`. --sql prints the plan with a failing
placeholder in place of each step's SQL.

Examples:
  mergepoint upgrade head
  mergepoint upgrade heads --lock-timeout 120
  mergepoint upgrade head --transaction-per-run        all or nothing
  mergepoint upgrade head --json                       JSON lines
  mergepoint upgrade head --sql > upgrade.sql          offline: print the SQL
  mergepoint upgrade a1b2:head --sql                   offline, from a1b2

Fleets (one line per target as it finishes, then a summary table; exit 3
if some target failed, 4 if the only failures were lock timeouts):
  mergepoint upgrade heads --targets tenants.txt --jobs 8
  mergepoint upgrade heads --targets-query \"SELECT db FROM tenants\" --jobs 8
  mergepoint upgrade heads --schemas --targets-query \"SELECT schema FROM tenants\"
  mergepoint upgrade heads --targets tenants.txt --fail-fast --json";

pub const DOWNGRADE_AFTER_HELP: &str = "\
On an Alembic project each step's downgrade() runs through Alembic's own
Operations in a Python worker (see `mergepoint upgrade --help`).

Examples:
  mergepoint downgrade -1
  mergepoint downgrade a1b2
  mergepoint downgrade base
  mergepoint downgrade head:base --sql     offline needs FROM:TO
  mergepoint downgrade -1 --targets tenants.txt --jobs 4";

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
    /// PostgreSQL lock_timeout for each revision's SQL (e.g. 5s, 500ms):
    /// a statement waiting longer for a lock gives up instead of stalling
    /// the queries queued behind it [default: a revision's own
    /// lock_timeout:, else ddl_lock_timeout in mergepoint.yaml, else none].
    #[arg(long, value_name = "DURATION", conflicts_with = "sql")]
    pub ddl_lock_timeout: Option<String>,
    /// PostgreSQL statement_timeout for each revision's SQL [default: a
    /// revision's own statement_timeout:, else statement_timeout in
    /// mergepoint.yaml, else none].
    #[arg(long, value_name = "DURATION", conflicts_with = "sql")]
    pub statement_timeout: Option<String>,
    /// Try a step that gave up waiting for a lock (lock_timeout) up to N
    /// more times, pausing 0.5 s, 1 s, 2 s, ... between attempts; each
    /// attempt is shown and recorded [default: retries in mergepoint.yaml,
    /// else 0].
    #[arg(long, value_name = "N", conflicts_with = "sql")]
    pub retries: Option<u32>,
    /// Write no audit rows (and create no mergepoint_history): only the
    /// version table changes, as with Alembic. Lost: `mergepoint log` of
    /// this run, checksum drift in `check --database`, the report of an
    /// interrupted non-transactional step. With --sql: no audit table or
    /// rows in the script [default: audit in mergepoint.yaml, else on].
    #[arg(long)]
    pub no_audit: bool,
    /// Alembic projects: the Python interpreter that runs the revisions
    /// (it needs Alembic, SQLAlchemy and a PostgreSQL driver) [default:
    /// $MP_ALEMBIC_PYTHON, else $VIRTUAL_ENV's, else .venv/ or venv/ beside
    /// alembic.ini, else python3].
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub fleet: TargetArgs,
    /// With a target list: start no further target after the first one
    /// fails (those running finish); the rest are reported as skipped.
    #[arg(
        long,
        help_heading = "Fleet (many databases or schemas; see docs/database.md#fleets)"
    )]
    pub fail_fast: bool,
}

/// `upgrade TARGET` / `downgrade TARGET`.
pub fn run(ctx: &mut Ctx, args: MoveArgs, direction: Direction) -> CliResult {
    args.fleet.check(args.fail_fast)?;
    if args.sql && args.fleet.is_fleet() {
        return Err(CliError::input(
            "--sql prints one script and contacts no database, so it takes no targets",
        )
        .with_hint("drop --targets / --targets-query, or drop --sql to run on the targets"));
    }
    let ws = ctx.workspace()?;
    if args.sql {
        return offline::run(ctx, &ws, &args, direction);
    }
    let alembic = ws.project.format == Format::Alembic;
    if alembic && args.fleet.is_fleet() {
        return Err(refuse_alembic_fleet(&ws, direction));
    }
    let mut opts = run_options(&ws, &args.db)?;
    opts.transaction_per_run = args.transaction_per_run;
    step_timeouts(&mut opts, &ws, &args)?;
    database::apply_no_audit(&mut opts, args.no_audit);
    if args.fleet.is_fleet() {
        refuse_bad_target(&ws.graph, direction, &args.target)?;
        let req = MoveRequest {
            direction,
            ident: &args.target,
            opts: &opts,
            json: args.json,
            fail_fast: args.fail_fast,
        };
        return fleet::run_move(ctx, &ws, &args.fleet, &args.db, req);
    }
    let sql = WorkspaceSql(&ws);
    let mut db = connect(&ws, &args.db)?;
    let started = Instant::now();
    let mut progress = Progress {
        ws: &ws,
        out: &mut *ctx.out,
        json: args.json,
        error: None,
    };
    let ran = if alembic {
        alembic::run(&ws, &args, &mut db, direction, &opts, &mut progress)?
    } else {
        database::run_plan(&mut db, &sql, direction, &args.target, &opts, &mut progress)
    };
    let outcome = ran.map_err(|e| match e {
        DbError::Plan(e) => plan_error(e, direction),
        e => CliError::from(e),
    })?;
    if let Some(e) = progress.error {
        return Err(e.into());
    }
    finish(
        ctx,
        &args,
        direction,
        db.masked_url(),
        &outcome,
        started.elapsed(),
    )
}

/// The run's timeouts and retries: flags, else `mergepoint.yaml` (the
/// project's timeouts sit under each revision's own), each duration checked.
fn step_timeouts(opts: &mut RunOptions, ws: &Workspace, args: &MoveArgs) -> CliResult {
    let cfg = &ws.project.config;
    let checked = |value: &Option<String>, what: &str| -> CliResult<Option<String>> {
        match value {
            Some(v) => crate::sql::check_duration(v)
                .map(|_| Some(v.clone()))
                .map_err(|reason| CliError::input(format!("{what} '{v}' {reason}"))),
            None => Ok(None),
        }
    };
    opts.run_timeouts = Timeouts {
        lock_timeout: checked(&args.ddl_lock_timeout, "--ddl-lock-timeout")?,
        statement_timeout: checked(&args.statement_timeout, "--statement-timeout")?,
    };
    opts.default_timeouts = Timeouts {
        lock_timeout: checked(&cfg.ddl_lock_timeout, "ddl_lock_timeout in mergepoint.yaml")?,
        statement_timeout: checked(
            &cfg.statement_timeout,
            "statement_timeout in mergepoint.yaml",
        )?,
    };
    opts.retries = args.retries.or(cfg.retries).unwrap_or(0);
    Ok(())
}

/// Writes one line (or JSON object) per step as it commits, and notices
/// on stderr. A write error is kept for the end: the run itself goes on.
struct Progress<'o> {
    ws: &'o Workspace,
    out: &'o mut dyn std::io::Write,
    json: bool,
    error: Option<std::io::Error>,
}

impl RunObserver for &mut Progress<'_> {
    fn step_done(&mut self, step: &Step, took: Duration) {
        let message = message(&self.ws.graph, &step.revision);
        let written = if self.json {
            let event = StepEvent {
                kind: "step",
                revision: &step.revision,
                direction: step.direction.as_str(),
                from: &step.from,
                to: &step.to,
                message,
                duration_ms: ms(took),
            };
            json_line(self.out, &event)
        } else {
            // One line per step: only the message's first line, as Alembic.
            writeln!(
                self.out,
                "{}  {}  {}  ({} ms)",
                step.direction.as_str(),
                step.revision,
                first_line(message),
                took.as_millis()
            )
            .and_then(|_| self.out.flush())
        };
        if let Err(e) = written {
            self.error.get_or_insert(e);
        }
    }

    fn notice(&mut self, notice: &Notice) {
        match notice {
            Notice::Retrying {
                revision,
                direction,
                statement,
                attempt,
                of,
                wait,
                blockers,
            } => {
                let part = match statement {
                    Some((k, n)) => format!(" (statement {k} of {n})"),
                    None => String::new(),
                };
                let by = match blockers.first() {
                    Some(b) => format!(", blocked by {b}"),
                    None => String::new(),
                };
                let written = if self.json {
                    let event = serde_json::json!({
                        "type": "retry",
                        "revision": revision,
                        "direction": direction.as_str(),
                        "statement": statement.map(|(k, _)| k),
                        "attempt": attempt,
                        "of": of,
                        "wait_ms": ms(*wait),
                        "blocked_by": blockers.iter().map(|b| b.pid).collect::<Vec<_>>(),
                    });
                    json_line(self.out, &event)
                } else {
                    writeln!(
                        self.out,
                        "retry  {}  {revision}{part}  gave up waiting for a lock on attempt {attempt} of {of}{by}; trying again in {:.1} s",
                        direction.as_str(),
                        wait.as_secs_f64()
                    )
                    .and_then(|_| self.out.flush())
                };
                if let Err(e) = written {
                    self.error.get_or_insert(e);
                }
            }
            Notice::Interrupted(_) => {
                for line in notice_lines(notice) {
                    eprintln!("note: {line}");
                }
            }
        }
    }
}

/// The JSON summary, or "Nothing to do" when the plan was empty.
fn finish(
    ctx: &mut Ctx,
    args: &MoveArgs,
    direction: Direction,
    masked_url: &str,
    outcome: &RunOutcome,
    took: Duration,
) -> CliResult {
    let plan = &outcome.plan;
    if args.json {
        let summary = RunSummary {
            kind: "summary",
            command: direction.as_str(),
            target: &args.target,
            database: masked_url,
            before: &plan.start_heads,
            after: &plan.end_heads,
            steps: plan.steps.len(),
            duration_ms: ms(took),
        };
        json_line(ctx.out, &summary)?;
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

/// Fleets of Alembic projects are not run yet: refused before any
/// target is contacted.
fn refuse_alembic_fleet(ws: &Workspace, direction: Direction) -> CliError {
    let command = direction.as_str();
    CliError::input(format!(
        "{} holds Alembic revisions: 'mergepoint {command}' runs them on one database at a time, not on --targets / --targets-query / --schemas; nothing was done and no database was contacted",
        ws.project.root.display()
    ))
    .with_hint(format!(
        "run 'mergepoint {command} TARGET --database-url URL' once per database"
    ))
}

/// Refuses, before any target is contacted, a target identifier that no
/// database could reach (unknown, ambiguous, several heads for `head`):
/// otherwise every target of a fleet would fail on it alike. Errors that
/// depend on where a database stands (a relative step) are left to each
/// target.
fn refuse_bad_target(g: &RevisionGraph, direction: Direction, ident: &str) -> CliResult {
    let planned = match direction {
        Direction::Upgrade => g.plan_upgrade(&[], ident),
        Direction::Downgrade => match g.resolve_many("heads") {
            Ok(heads) => {
                let rows = g.ids(&g.heads_of(&g.ancestors_with_deps(&heads)));
                g.plan_downgrade(&rows, ident)
            }
            Err(_) => return Ok(()),
        },
    };
    match planned {
        Err(
            e @ (ResolveError::Unknown { .. }
            | ResolveError::AmbiguousPrefix { .. }
            | ResolveError::MultipleHeads { .. }
            | ResolveError::Invalid { .. }),
        ) => Err(plan_error(e, direction)),
        _ => Ok(()),
    }
}

/// A planning error, with the hints that fit upgrade / downgrade.
fn plan_error(e: ResolveError, direction: Direction) -> CliError {
    let several = matches!(e, ResolveError::MultipleHeads { .. });
    let err = CliError::from(e);
    if several && direction == Direction::Upgrade {
        err.with_hint("to apply every head instead, run 'mergepoint upgrade heads'")
    } else {
        err
    }
}
