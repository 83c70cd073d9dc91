//! `upgrade --sql` / `downgrade --sql`: the script Alembic's offline mode
//! would print, without a database. Native revisions give their SQL;
//! Alembic revisions the SQL Alembic's offline mode renders for them (the
//! import driver, run with the project's Python), or, where it cannot, a
//! placeholder that fails, with a comment saying why.

use super::{plan_error, MoveArgs};
use crate::alembic_import::{self, DriverRevision};
use crate::alembic_run::AlembicFiles;
use crate::cli::database::{offline_script, run_options, WorkspaceSql};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::db::{self, StepSql, StepText};
use crate::graph::{Direction, Plan, RevisionGraph};
use crate::script::Format;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Plans `args.target` (`FROM:TO`, or `TO` from base for an upgrade) and
/// writes the script.
pub(super) fn run(
    ctx: &mut Ctx,
    ws: &Workspace,
    args: &MoveArgs,
    direction: Direction,
) -> CliResult {
    let g = &ws.graph;
    let (from, to) =
        match args.target.split_once(':') {
            Some(range) => range,
            None if direction == Direction::Upgrade => ("", args.target.as_str()),
            None => return Err(CliError::input(format!(
                "downgrade --sql needs FROM:TO, got '{}'",
                args.target
            ))
            .with_hint(
                "offline there is no database to read the current revision from, e.g. head:base",
            )),
        };
    let plan = {
        let _phase = tracing::info_span!("plan").entered();
        let rows = offline_start(g, from)?;
        match direction {
            Direction::Upgrade => g.plan_upgrade(&rows, to),
            Direction::Downgrade => g.plan_downgrade(&rows, to),
        }
        .map_err(|e| plan_error(e, direction))?
    };
    let _phase = tracing::info_span!("render").entered();
    write_script(ctx, ws, args, &plan)
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

fn write_script(ctx: &mut Ctx, ws: &Workspace, args: &MoveArgs, plan: &Plan) -> CliResult {
    let mut opts = run_options(ws, &args.db)?;
    if args.no_audit {
        opts.audit = false;
    }
    if ws.project.format != Format::Alembic {
        let sql = WorkspaceSql(ws);
        offline_script(plan, &sql, &opts)?.write_to(ctx.out)?;
        return Ok(());
    }
    let placeholders_only = std::env::var(PLACEHOLDERS_ENV).is_ok_and(|v| v == "placeholders");
    if plan.steps.is_empty() || placeholders_only {
        // Nothing to render, or asked for the plan alone: no Python.
        if placeholders_only && !plan.steps.is_empty() {
            eprintln!(
                "note: {PLACEHOLDERS_ENV}=placeholders: each step's SQL is a placeholder that stops the script; unset it for the SQL Alembic renders"
            );
        }
        let sql = AlembicOffline::placeholders(&ws.graph);
        let script = offline_script(plan, &sql, &opts)?;
        ctx.out.write_all(sql.header.as_bytes())?;
        script.write_to(ctx.out)?;
        return Ok(());
    }
    let python = crate::alembic_run::choose_python(args.python.as_deref(), &ws.project.root);
    let sql = match alembic_import::run_driver(&python, &ws.project, "postgresql") {
        Ok(report) => {
            if let Some(note) = &report.env_note {
                eprintln!("note: {note}");
            }
            let header = format!(
                "-- Alembic project: each step's SQL below was rendered by Alembic {} in offline\n\
                 -- mode (Python {}, SQLAlchemy {}), framed by mergepoint. A step Alembic cannot\n\
                 -- render offline (it reads the database through op.get_bind(), say) holds a\n\
                 -- statement that raises an error instead, with a comment saying why, so this\n\
                 -- script never records a revision whose SQL did not run.\n",
                report.alembic_version, report.python_version, report.sqlalchemy_version
            );
            AlembicOffline {
                revisions: Some(report.revisions),
                header,
                files: AlembicFiles(&ws.graph),
            }
        }
        Err(e) => {
            eprintln!(
                "note: {} holds Alembic revisions and their SQL could not be rendered ({e}); this script has their steps and version-table statements, but each step's SQL is a placeholder that stops the script; give --python (or MP_ALEMBIC_PYTHON) an interpreter with Alembic for the real SQL",
                ws.project.root.display()
            );
            AlembicOffline::placeholders(&ws.graph)
        }
    };
    let script = offline_script(plan, &sql, &opts)?;
    ctx.out.write_all(sql.header.as_bytes())?;
    script.write_to(ctx.out)?;
    Ok(())
}

/// `MERGEPOINT_ALEMBIC_SQL=placeholders`: `--sql` on an Alembic project
/// runs no Python and prints the plan with a placeholder per step (what
/// the graph-only differential harness needs, in milliseconds).
const PLACEHOLDERS_ENV: &str = "MERGEPOINT_ALEMBIC_SQL";

const ALEMBIC_OFFLINE_HEADER: &str = "\
-- Alembic project: mergepoint did not run Alembic to render the Python
-- upgrade()/downgrade() functions. Every step below raises an error in
-- place of its SQL, so this script can show the plan but never records a
-- revision that did not run. For the real SQL give --python an interpreter
-- with Alembic, or use 'alembic upgrade --sql'.
";

/// The SQL of Alembic revisions in offline scripts: what Alembic renders
/// for each in offline mode ([`alembic_import::run_driver`]); where it
/// cannot (no report, or the function failed offline), a statement that
/// fails, with a comment saying why, so that piping the script into psql
/// cannot record a revision whose SQL never ran (each step's version-table
/// update is in the same transaction).
struct AlembicOffline<'g> {
    revisions: Option<BTreeMap<String, DriverRevision>>,
    header: String,
    /// The revision files, whose SHA-256 the audit rows record (as an
    /// online run does), so `check --database` sees edits of them.
    files: AlembicFiles<'g>,
}

impl<'g> AlembicOffline<'g> {
    fn placeholders(g: &'g RevisionGraph) -> Self {
        AlembicOffline {
            revisions: None,
            header: ALEMBIC_OFFLINE_HEADER.to_string(),
            files: AlembicFiles(g),
        }
    }
}

/// A statement that stops the script, after a comment saying why.
fn placeholder(revision: &str, direction: Direction, why: &str) -> String {
    let message = db::quote_literal(&format!(
        "mergepoint: revision {revision} is an Alembic revision; its {} SQL is not in this script",
        direction.as_str()
    ));
    let why: String = why.lines().map(|l| format!("-- {l}\n")).collect();
    format!(
        "-- revision {revision}: its {}() cannot be written as SQL here:\n{why}DO $mergepoint$ BEGIN RAISE EXCEPTION USING MESSAGE = {message}; END $mergepoint$;\n",
        direction.as_str()
    )
}

impl StepSql for AlembicOffline<'_> {
    fn step_text(&self, revision: &str, direction: Direction) -> Option<StepText<'_>> {
        let (sql, transactional) = self.step_sql(revision, direction)?;
        let checksum = self
            .files
            .step_sql(revision, direction)
            .map(|(file, _)| db::sql_sha256(&file));
        Some(StepText {
            sql,
            reverse: None,
            transactional,
            timeouts: Default::default(),
            alembic: false,
            checksum,
        })
    }

    fn step_sql(&self, revision: &str, direction: Direction) -> Option<(Cow<'_, str>, bool)> {
        let Some(revisions) = &self.revisions else {
            let why = "Alembic was not run (see the note on stderr, or MERGEPOINT_ALEMBIC_SQL)";
            return Some((Cow::Owned(placeholder(revision, direction, why)), true));
        };
        let Some(r) = revisions.get(revision) else {
            let why = "Alembic did not report it";
            return Some((Cow::Owned(placeholder(revision, direction, why)), true));
        };
        let (sql, error) = match direction {
            Direction::Upgrade => (&r.upgrade_sql, &r.upgrade_error),
            Direction::Downgrade => (&r.downgrade_sql, &r.downgrade_error),
        };
        match (sql, error) {
            (_, Some(e)) => {
                let why = format!(
                    "Alembic's offline mode failed on it: {e} (it needs a live database connection, typically op.get_bind())"
                );
                Some((Cow::Owned(placeholder(revision, direction, &why)), true))
            }
            (Some(_), None) if r.transaction_control => {
                let why = "its SQL holds BEGIN/COMMIT/ROLLBACK of its own, which this script's per-step transaction cannot hold";
                Some((Cow::Owned(placeholder(revision, direction, why)), true))
            }
            // autocommit_block(): the whole step outside a transaction.
            (Some(sql), None) => Some((Cow::Borrowed(sql.as_str()), !r.autocommit_block)),
            (None, None) => {
                let why = "Alembic rendered nothing for it";
                Some((Cow::Owned(placeholder(revision, direction, why)), true))
            }
        }
    }
}
