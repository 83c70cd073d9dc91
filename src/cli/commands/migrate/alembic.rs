//! `upgrade` / `downgrade` of an Alembic project: the worker started with
//! the project's Python ([`crate::alembic_run`]), then the one runner.

use super::MoveArgs;
use crate::alembic_run::{self, Worker, WorkerError};
use crate::cli::database::{self, database_url_for_child, version_rows, WorkspaceSql};
use crate::cli::{CliError, CliResult, ErrorKind, Workspace};
use crate::db::{Database, DbError, RunObserver, RunOptions, RunOutcome};
use crate::graph::Direction;

/// Runs the plan with Alembic's Operations. The outer error is the CLI's
/// own (no interpreter, a project Alembic cannot load); the inner one the
/// run's.
pub fn run(
    ws: &Workspace,
    args: &MoveArgs,
    db: &mut Database,
    direction: Direction,
    opts: &RunOptions,
    observer: impl RunObserver,
) -> CliResult<Result<RunOutcome, DbError>> {
    // Nothing to do (the common deploy case): no Python is started. The
    // runner plans again under the lock; if another runner moved the
    // database meanwhile, the Alembic steps have no SQL and are refused
    // (nothing runs).
    if nothing_to_do(ws, db, direction, &args.target, opts) {
        let sql = WorkspaceSql(ws);
        return Ok(database::run_plan(
            db,
            &sql,
            direction,
            &args.target,
            opts,
            observer,
        ));
    }
    let url = database_url_for_child(ws, &args.db)?;
    let python = alembic_run::choose_python(args.python.as_deref(), &ws.project.root);
    let mut worker =
        Worker::start(&python, &ws.project, &url).map_err(|e| worker_error(e, &python))?;
    let hello = &worker.hello;
    eprintln!(
        "Running Alembic {} revisions with {python} (Python {}, SQLAlchemy {}, driver {})",
        hello.alembic, hello.python, hello.sqlalchemy, hello.driver
    );
    if let Some(note) = &worker.hello.env_note {
        eprintln!("note: {note}");
    }
    if let Some(problem) = alembic_run::version_table_mismatch(&worker.hello, opts) {
        return Err(CliError::input(format!(
            "{problem}; nothing was done"
        ))
        .with_hint("set version_table (and version_table_schema) in mergepoint.yaml, or pass --version-table / --version-table-schema, to the table env.py names"));
    }
    Ok(alembic_run::move_to(
        db,
        &mut worker,
        &ws.graph,
        direction,
        &args.target,
        opts,
        observer,
    ))
}

/// True when the version table's rows, read without the lock, leave
/// nothing to do.
fn nothing_to_do(
    ws: &Workspace,
    db: &mut Database,
    direction: Direction,
    target: &str,
    opts: &RunOptions,
) -> bool {
    let Ok(rows) = version_rows(db, opts) else {
        return false;
    };
    let plan = match direction {
        Direction::Upgrade => ws.graph.plan_upgrade(&rows, target),
        Direction::Downgrade => ws.graph.plan_downgrade(&rows, target),
    };
    matches!(plan, Ok(p) if p.steps.is_empty())
}

/// A worker that could not start, as the user's error with what to do.
fn worker_error(e: WorkerError, python: &str) -> CliError {
    let hint: Option<String> = match &e {
        WorkerError::NoPython { .. } => Some(format!(
            "install Python 3 with Alembic, or pass --python PATH (or set {}) to the interpreter of the project's virtualenv; tried '{python}'",
            alembic_run::PYTHON_ENV
        )),
        WorkerError::NoAlembic { .. } => Some(format!(
            "install it for that interpreter (`{python} -m pip install alembic`), or point --python / {} at the virtualenv the project uses",
            alembic_run::PYTHON_ENV
        )),
        WorkerError::NoDriver { .. } => Some(format!(
            "install one for that interpreter: `{python} -m pip install 'psycopg[binary]'` (or psycopg2, or asyncpg)"
        )),
        WorkerError::Load { .. } => Some(
            "check that `alembic history` works in this directory with the same Python (prepend_sys_path in alembic.ini puts the project's modules on the path)"
                .to_string(),
        ),
        WorkerError::Connect { .. } | WorkerError::Failed { .. } => None,
    };
    let kind = match &e {
        WorkerError::Connect { .. } => ErrorKind::Database,
        _ => ErrorKind::Input,
    };
    let err = CliError::new(kind, format!("{e}; nothing was done"));
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}
