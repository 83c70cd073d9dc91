//! Online runs of Alembic projects: each planned step's `upgrade()` /
//! `downgrade()` runs through Alembic's own `Operations` and
//! `MigrationContext`, in a Python worker embedded in the binary
//! (`worker.py`, started once per run with the project's interpreter).
//!
//! mergepoint keeps everything else, with the one runner
//! ([`crate::db::run_in`] / [`crate::db::run_on`]): the plan made under the
//! migration lock, the lock itself (on mergepoint's own session), the
//! version-table rows (the rows Alembic writes) and the audit. The worker
//! owns the connection the revisions run on, and each step's operations,
//! version-table change and audit row commit there in one transaction
//! ([`session::WorkerSession`]).
//!
//! - [`worker`]: the process and its line protocol ([`Worker`]).
//! - [`session`]: the runner's [`crate::db::Session`] on the worker.
//! - [`AlembicFiles`]: the step texts: each revision file's text, so the
//!   checksum recorded is the SHA-256 of the file.

pub mod session;
pub mod worker;

pub use session::WorkerSession;
pub use worker::{Hello, Worker, WorkerError, URL_ENV, WORKER_SOURCE};

use crate::db::{Database, DbError, RunObserver, RunOptions, RunOutcome, StepSql, StepText};
use crate::graph::{Direction, RevisionGraph};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// What mergepoint's embedded Python scripts share (loading the project as
/// located, running env.py offline), written in front of each.
pub const PROJECT_PRELUDE: &str = include_str!("project.py");

/// One of mergepoint's embedded Python scripts (`source`), with the
/// [`PROJECT_PRELUDE`] in front, written to a fresh temporary file (removed
/// when dropped) named `<prefix>…py`.
pub fn script_file(prefix: &str, source: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".py")
        .tempfile()?;
    file.write_all(PROJECT_PRELUDE.as_bytes())?;
    file.write_all(b"\n")?;
    file.write_all(source.as_bytes())?;
    file.flush()?;
    Ok(file)
}

/// `p` made absolute (resolving symlinks when it exists).
pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// How the embedded scripts are told where the project is: its settings
/// files and script directory as mergepoint located them (alembic.ini,
/// pyproject.toml's [tool.alembic], Flask-Migrate), or, with neither file,
/// the script directory and the version locations.
pub(crate) fn project_args(project: &crate::script::Project) -> Vec<std::ffi::OsString> {
    let settings = project.alembic_settings();
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    let mut pair = |flag: &str, path: &Path| {
        args.push(flag.into());
        args.push(path.as_os_str().to_owned());
    };
    if let Some(ini) = &settings.ini {
        pair("--ini", ini);
    }
    if let Some(toml) = &settings.pyproject {
        pair("--toml", toml);
    }
    pair("--script-dir", &settings.script_dir);
    if settings.ini.is_none() && settings.pyproject.is_none() {
        for d in &project.revisions_dirs {
            pair("--version-location", &absolute(d));
        }
    }
    args
}

/// Environment variable naming the Python interpreter (after `--python`).
pub const PYTHON_ENV: &str = "MP_ALEMBIC_PYTHON";

/// The interpreter of a project rooted at `root`: `--python`, then
/// `MP_ALEMBIC_PYTHON`, then the active virtual environment
/// (`VIRTUAL_ENV`), then `.venv/` or `venv/` beside `alembic.ini`, then
/// `python3`.
pub fn choose_python(from_cli: Option<&str>, root: &Path) -> String {
    if let Some(p) = from_cli {
        return from_here(p);
    }
    if let Some(p) = std::env::var(PYTHON_ENV).ok().filter(|s| !s.is_empty()) {
        return from_here(&p);
    }
    let in_venv = |venv: PathBuf| -> Option<String> {
        ["bin/python", "Scripts/python.exe"]
            .iter()
            .map(|p| venv.join(p))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    };
    if let Some(p) = std::env::var_os("VIRTUAL_ENV")
        .filter(|v| !v.is_empty())
        .and_then(|v| in_venv(PathBuf::from(v)))
    {
        return p;
    }
    // Absolute: the worker starts in the project root, where a relative
    // path would be looked up again.
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    for dir in [".venv", "venv"] {
        if let Some(p) = in_venv(root.join(dir)) {
            return p;
        }
    }
    "python3".to_string()
}

/// A relative interpreter path (`.venv/bin/python`) made absolute from
/// this process's directory: the worker starts in the project root, where
/// it would be looked up again. A bare name (`python3`) is left to `PATH`.
fn from_here(python: &str) -> String {
    let p = Path::new(python);
    if p.is_absolute() || !python.contains('/') {
        return python.to_string();
    }
    std::env::current_dir()
        .map(|d| d.join(p).display().to_string())
        .unwrap_or_else(|_| python.to_string())
}

/// The text of each Alembic revision's step: the revision file as it is
/// now (so the checksum recorded is the file's SHA-256), marked to run
/// through the worker. Both directions have the same text, so no reverse
/// is given: `check --database` compares one checksum per file.
pub struct AlembicFiles<'g>(pub &'g RevisionGraph);

impl AlembicFiles<'_> {
    fn file_text(&self, revision: &str) -> Result<Option<String>, String> {
        let Some(ix) = self.0.find(revision) else {
            return Ok(None);
        };
        let origin = &self.0.rev(ix).origin;
        if origin.is_empty() {
            return Ok(None);
        }
        std::fs::read(origin)
            .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
            .map_err(|e| format!("{origin}: cannot read the revision file: {e}"))
    }
}

impl StepSql for AlembicFiles<'_> {
    fn step_sql(&self, revision: &str, _direction: Direction) -> Option<(Cow<'_, str>, bool)> {
        self.file_text(revision)
            .ok()
            .flatten()
            .map(|t| (Cow::Owned(t), true))
    }

    fn step_text(&self, revision: &str, direction: Direction) -> Option<StepText<'_>> {
        let (sql, _) = self.step_sql(revision, direction)?;
        Some(StepText {
            // One file, one checksum: recorded with the upgrade only.
            reverse: None,
            sql,
            transactional: true,
            timeouts: Default::default(),
            alembic: true,
            checksum: None,
        })
    }

    fn read_step(
        &self,
        revision: &str,
        _direction: Direction,
    ) -> Result<Option<StepText<'_>>, String> {
        Ok(self.file_text(revision)?.map(|t| StepText {
            reverse: None,
            sql: Cow::Owned(t),
            transactional: true,
            timeouts: Default::default(),
            alembic: true,
            checksum: None,
        }))
    }
}

/// The version table env.py configures, when it is not the run's: the two
/// tools would then keep their rows in different tables.
pub fn version_table_mismatch(hello: &Hello, opts: &RunOptions) -> Option<String> {
    let name = hello.version_table.as_deref().unwrap_or("alembic_version");
    let schema = hello.version_table_schema.as_deref();
    let ours = &opts.table;
    if name == ours.name() && (schema.is_none() || schema == ours.schema()) {
        return None;
    }
    let theirs = match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    };
    Some(format!(
        "env.py configures the version table {theirs}, but this run uses {}",
        ours.display_name()
    ))
}

/// Moves the database to `target` in `direction` under the migration lock,
/// each step run by `worker` (see the module docs).
pub fn move_to(
    db: &mut Database,
    worker: &mut Worker,
    graph: &RevisionGraph,
    direction: Direction,
    target: &str,
    opts: &RunOptions,
    observer: impl RunObserver,
) -> Result<RunOutcome, DbError> {
    let files = AlembicFiles(graph);
    crate::db::run_in(db, opts, |inner| {
        let mut session = WorkerSession::new(inner, worker, opts.transaction_per_run);
        crate::db::run_on(
            &mut session,
            graph,
            &files,
            opts,
            |g: &RevisionGraph, rows: &[String]| match direction {
                Direction::Upgrade => g.plan_upgrade(rows, target),
                Direction::Downgrade => g.plan_downgrade(rows, target),
            },
            observer,
        )
    })
}
