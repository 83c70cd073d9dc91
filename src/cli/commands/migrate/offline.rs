//! `upgrade --sql` / `downgrade --sql`: the script Alembic's offline mode
//! would print, without a database. Native revisions give their SQL; for
//! Alembic revisions each step's SQL is a placeholder that fails.

use super::{plan_error, MoveArgs};
use crate::cli::database::{offline_script, run_options, WorkspaceSql};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::db::{self, StepSql};
use crate::graph::{Direction, Plan, RevisionGraph};
use crate::script::Format;
use std::borrow::Cow;

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
    let opts = run_options(ws, &args.db)?;
    if ws.project.format == Format::Alembic {
        let script = offline_script(plan, &AlembicPlaceholders, &opts)?;
        eprintln!(
            "note: {} holds Alembic revisions: this script has their steps and version-table statements, but each step's SQL is a placeholder that stops the script; 'alembic upgrade --sql' writes the real SQL",
            ws.project.root.display()
        );
        ctx.out.write_all(ALEMBIC_OFFLINE_HEADER.as_bytes())?;
        script.write_to(ctx.out)?;
    } else {
        let sql = WorkspaceSql(ws);
        offline_script(plan, &sql, &opts)?.write_to(ctx.out)?;
    }
    Ok(())
}

const ALEMBIC_OFFLINE_HEADER: &str = "\
-- Alembic project: mergepoint reads the revision graph but does not run the
-- Python upgrade()/downgrade() functions. Every step below raises an error in
-- place of its SQL, so this script can show the plan but never records a
-- revision that did not run. For the real SQL use 'alembic upgrade --sql', or
-- convert the project with 'mergepoint import-alembic'.
";

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
