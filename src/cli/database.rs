/*!
What the database commands share, below them: the options every one takes
([`DbArgs`]), where the URL and the run options come from, the connection
(also opened in the background while revisions load), the one source of
revision SQL for online and offline runs ([`WorkspaceSql`]), and the JSON
lines `upgrade`, `downgrade` and `stamp` print.

The database URL comes from `--database-url`, then `DATABASE_URL`, then
`mergepoint.yaml`; libpq's `PG*` variables and `~/.pgpass` fill what it
leaves out (with none of the three, the variables alone name the server
when `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE` or `PGUSER` is set). It
is only ever shown masked. The options can be given before the command too
(`mergepoint --database-url URL upgrade heads`): [`DbArgs::or`] merges the
two places, the command's own winning.

Every database operation the commands run through [`crate::db`] is a
function here ([`connect`], [`version_rows`], [`run_plan`], [`stamp`],
[`audit_history`], [`check_drift`], [`repair`], [`offline_script`]), so a
change of the database layer's API is made in this one file. (The commands
still use its plain types and helpers: `RunOptions`, `StampOutcome`,
`quote_literal`.)
*/

use super::error::{CliError, CliResult};
use super::workspace::Workspace;
use crate::alembic_run::AlembicFiles;
use crate::config::LockKind;
use crate::db::{self, Database, DbError, DriftReport, HistoryEntry, RunObserver, RunOptions};
use crate::db::{
    LockChoice, RunOutcome, StampOutcome, StepSql, StepText, Timeouts, VersionTable,
    DEFAULT_LEASE_TTL,
};
use crate::graph::Plan;
use crate::graph::{Direction, RevisionGraph};
use crate::script::{Body, Format, Project};
use clap::Args;
use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;

/// Options every database command shares (also accepted before the
/// command, see [`DbArgs::or`]).
#[derive(Debug, Default, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL URL or key=value settings, as libpq reads them
    /// (postgresql://user@host:5432/db?sslmode=verify-full&sslrootcert=ca.crt)
    /// [default: $DATABASE_URL, then database_url in mergepoint.yaml]. What
    /// it leaves out comes from PGHOST, PGPORT, PGUSER, PGDATABASE,
    /// PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, ... and ~/.pgpass; sslmode
    /// disable|allow|prefer|require|verify-ca|verify-full, default prefer.
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
    /// Schema of the version table, of mergepoint_history and of
    /// mergepoint_lock [default: version_table_schema in mergepoint.yaml,
    /// else the first schema on the search path].
    #[arg(long, value_name = "SCHEMA")]
    pub version_table_schema: Option<String>,
    /// Which migration lock to take: `advisory` (a PostgreSQL advisory
    /// lock; refused behind PgBouncer in transaction pooling) or `lease` (a
    /// row in mergepoint_lock, renewed while the run lasts; works through
    /// transaction pooling) [default: lock in mergepoint.yaml, else
    /// advisory].
    #[arg(long, value_name = "KIND", value_parser = ["advisory", "lease"])]
    pub lock: Option<String>,
    /// With --lock lease: seconds the lease lasts unless renewed (renewed
    /// every third of that); a crashed runner's lease is taken over this
    /// long after its last renewal; 1 to 86400 [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_ttl: Option<u64>,
}

impl DbArgs {
    /// These options, each one that is not given taken from `outer` (the
    /// same options written before the command).
    pub fn or(self, outer: &DbArgs) -> DbArgs {
        DbArgs {
            database_url: self.database_url.or_else(|| outer.database_url.clone()),
            lock_timeout: self.lock_timeout.or(outer.lock_timeout),
            version_table: self.version_table.or_else(|| outer.version_table.clone()),
            version_table_schema: self
                .version_table_schema
                .or_else(|| outer.version_table_schema.clone()),
            lock: self.lock.or_else(|| outer.lock.clone()),
            lease_ttl: self.lease_ttl.or(outer.lease_ttl),
        }
    }
}

/// The version table, the lock and its timeout: the command line, else the
/// project's config, else the defaults.
pub fn run_options(ws: &Workspace, args: &DbArgs) -> CliResult<RunOptions> {
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
    let lease = match args.lock.as_deref() {
        Some(kind) => kind == "lease",
        None => cfg.lock == Some(LockKind::Lease),
    };
    let lock = match (lease, args.lease_ttl) {
        (true, ttl) => LockChoice::Lease {
            ttl: ttl.map(Duration::from_secs).unwrap_or(DEFAULT_LEASE_TTL),
        },
        (false, None) => LockChoice::Advisory,
        (false, Some(_)) => {
            return Err(
                CliError::input("--lease-ttl only applies to the lease lock")
                    .with_hint("add --lock lease (or `lock: lease` in mergepoint.yaml)"),
            )
        }
    };
    Ok(RunOptions {
        table,
        lock_timeout: Duration::from_secs(secs),
        lock,
        audit: cfg.audit != Some(crate::config::Audit::Off),
        ..RunOptions::default()
    })
}

/// What `--no-audit` (or `audit: off`) costs, said on stderr before a run
/// or stamp that writes no audit rows.
pub const NO_AUDIT_NOTE: &str = "audit is off: only the version table is written; nothing goes to mergepoint_history, so `mergepoint log` will not show this run, `check --database` cannot see checksum drift of what it applies, and an interrupted non-transactional step will not be reported by the next run";

/// `--no-audit` on top of `audit:` in `mergepoint.yaml`; prints
/// [`NO_AUDIT_NOTE`] when the audit is off.
pub fn apply_no_audit(opts: &mut RunOptions, no_audit: bool) {
    if no_audit {
        opts.audit = false;
    }
    if !opts.audit {
        eprintln!("note: {NO_AUDIT_NOTE}");
    }
}

/// Connects to the database the options name.
pub fn connect(ws: &Workspace, args: &DbArgs) -> CliResult<Database> {
    Ok(open(&database_url(&ws.project, args)?)?)
}

/// The database URL as given (unmasked: for a child process's
/// environment, never for output), empty when `PG*` variables name the
/// server.
pub fn database_url_for_child(ws: &Workspace, args: &DbArgs) -> CliResult<String> {
    database_url(&ws.project, args)
}

/// Connects with this process's `PG*` variables and files, printing the
/// settings' warnings (a password file ignored for its permissions) on
/// stderr as libpq does.
fn open(url: &str) -> Result<Database, DbError> {
    Database::connect_reporting(url, &db::process_environment(), &mut |w| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "warning: {w}");
    })
}

/// The variables that name a server on their own, as they do for psql.
const SERVER_VARS: &[&str] = &["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER"];

/// `--database-url`, else `DATABASE_URL`, else the project's
/// `database_url`, else (an empty string, filled from the variables) when
/// a `PG*` variable names the server.
fn database_url(project: &Project, args: &DbArgs) -> CliResult<String> {
    if let Some(url) = project.config.database_url(args.database_url.as_deref()) {
        return Ok(url);
    }
    let named = SERVER_VARS
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if named {
        return Ok(String::new());
    }
    Err(CliError::input("no database URL").with_hint(
        "pass --database-url, set DATABASE_URL or PGHOST/PGDATABASE (as for psql), or add database_url to mergepoint.yaml",
    ))
}

/// A connection opened in the background while the revisions load:
/// connecting costs about as much as loading 1,000 files, so a read-only
/// command does both at once. Errors are reported in the usual order (the
/// revision files' first, then the URL's, then the connection's).
pub struct PendingConnection(CliResult<std::thread::JoinHandle<Result<Database, DbError>>>);

impl PendingConnection {
    pub fn start(project: &Project, args: &DbArgs) -> PendingConnection {
        let url = database_url(project, args);
        PendingConnection(url.map(|url| std::thread::spawn(move || open(&url))))
    }

    pub fn finish(self) -> CliResult<Database> {
        match self.0?.join() {
            Ok(connected) => Ok(connected?),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The SQL of each native revision; Alembic revisions have none. The one
/// SQL source of online runs, offline scripts and the drift check.
///
/// `step_sql` / `step_text` answer from the loaded bodies (which the parse
/// cache may have served): enough to know which revisions have SQL and to
/// compare checksums. `read_step`, what a run or an offline script uses for
/// each step, reads the file afresh ([`crate::script::read_native_body`]),
/// so the SQL that runs, and the checksum recorded, are the file's now.
pub struct WorkspaceSql<'a>(pub &'a Workspace);

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

    fn step_text(&self, revision: &str, direction: Direction) -> Option<StepText<'_>> {
        let (sql, transactional) = self.step_sql(revision, direction)?;
        let (reverse, _) = self.step_sql(revision, direction.reverse())?;
        let timeouts = self.timeouts_of(revision);
        Some(StepText {
            sql,
            reverse: Some(reverse),
            transactional,
            timeouts,
            alembic: false,
            checksum: None,
        })
    }

    fn read_step(
        &self,
        revision: &str,
        direction: Direction,
    ) -> Result<Option<StepText<'_>>, String> {
        let Some(ix) = self.0.graph.find(revision) else {
            return Ok(None);
        };
        if !matches!(self.0.bodies[ix], Body::Native(_)) {
            return Ok(None);
        }
        let body =
            crate::script::read_native_body(self.0.graph.rev(ix)).map_err(|e| e.to_string())?;
        let (sql, reverse) = match direction {
            Direction::Upgrade => (body.upgrade, body.downgrade),
            Direction::Downgrade => (body.downgrade, body.upgrade),
        };
        Ok(Some(StepText {
            sql: Cow::Owned(sql),
            reverse: Some(Cow::Owned(reverse)),
            transactional: body.transactional,
            timeouts: Timeouts {
                lock_timeout: body.lock_timeout,
                statement_timeout: body.statement_timeout,
            },
            alembic: false,
            checksum: None,
        }))
    }
}

impl WorkspaceSql<'_> {
    /// The loaded revision's own timeouts.
    fn timeouts_of(&self, revision: &str) -> Timeouts {
        match self.0.graph.find(revision).map(|ix| &self.0.bodies[ix]) {
            Some(Body::Native(b)) => Timeouts {
                lock_timeout: b.lock_timeout.clone(),
                statement_timeout: b.statement_timeout.clone(),
            },
            _ => Timeouts::default(),
        }
    }
}

/// Moves the database to `target` in `direction` under the migration lock
/// ([`db::run`]), telling `observer` about each step.
pub fn run_plan(
    database: &mut Database,
    sql: &WorkspaceSql,
    direction: Direction,
    target: &str,
    opts: &RunOptions,
    observer: impl RunObserver,
) -> Result<RunOutcome, DbError> {
    db::move_to(
        database,
        &sql.0.graph,
        direction,
        target,
        sql,
        opts,
        observer,
    )
}

/// The version-table rows ([`db::current`]), sorted.
pub fn version_rows(database: &mut Database, opts: &RunOptions) -> Result<Vec<String>, DbError> {
    db::current(database.client(), &opts.table)
}

/// Sets the version table to `targets` under the migration lock
/// ([`db::stamp`]).
pub fn stamp(
    database: &mut Database,
    g: &RevisionGraph,
    opts: &RunOptions,
    purge: bool,
    targets: Vec<String>,
) -> Result<StampOutcome, DbError> {
    db::stamp(database, g, opts, purge, |_| Ok(targets))
}

/// The audit history, oldest first, the newest `limit` entries
/// ([`db::history`]).
pub fn audit_history(
    database: &mut Database,
    opts: &RunOptions,
    limit: Option<i64>,
) -> Result<Vec<HistoryEntry>, DbError> {
    db::history(database.client(), &opts.table, limit)
}

/// The offline script of `plan` with the SQL of `sql`, checked and ready
/// to write ([`db::OfflineScript`]).
pub fn offline_script<'a, S: StepSql>(
    plan: &'a Plan,
    sql: &'a S,
    opts: &'a RunOptions,
) -> CliResult<db::OfflineScript<'a>> {
    let script = db::OfflineScript::new(plan, sql, &opts.table)?;
    Ok(if opts.audit {
        script
    } else {
        script.without_audit()
    })
}

/// [`db::check_drift`]: what the database holds against the files.
/// On an Alembic project the checksums are the revision files'.
pub fn check_drift(
    database: &mut Database,
    sql: &WorkspaceSql,
    opts: &RunOptions,
) -> Result<DriftReport, DbError> {
    let g = &sql.0.graph;
    if sql.0.project.format == Format::Alembic {
        return db::check_drift(database.client(), g, &AlembicFiles(g), &opts.table);
    }
    db::check_drift(database.client(), g, sql, &opts.table)
}

/// [`db::repair`]: runs the repair SQL of a fresh drift report.
pub fn repair(
    database: &mut Database,
    sql: &WorkspaceSql,
    opts: &RunOptions,
) -> Result<DriftReport, DbError> {
    let g = &sql.0.graph;
    if sql.0.project.format == Format::Alembic {
        return db::repair(database, g, &AlembicFiles(g), opts);
    }
    db::repair(database, g, sql, opts)
}

/// Fleets ([`db::fleet`]): the admin URL the options name (`--database-url`
/// and the rest, as for one database), for database names, schemas and
/// the targets query.
pub fn admin_url(project: &Project, args: &DbArgs) -> CliResult<String> {
    database_url(project, args)
}

/// Fleets: moves one target ([`db::fleet::move_target`]) on sessions of
/// its own.
pub fn move_target(
    target: &db::fleet::Target,
    sql: &WorkspaceSql,
    direction: Direction,
    ident: &str,
    opts: &RunOptions,
    notice: &(dyn Fn(&db::Notice) + Sync),
) -> db::fleet::TargetRun {
    db::fleet::move_target(target, &sql.0.graph, direction, ident, sql, opts, notice)
}

/// Fleets: one target's version-table rows ([`db::fleet::read_target`]).
pub fn read_target(target: &db::fleet::Target, opts: &RunOptions) -> Result<Vec<String>, DbError> {
    db::fleet::read_target(target, opts)
}

/// Fleets: the targets query's column ([`db::fleet::query_targets`]).
pub fn query_targets(database: &mut Database, sql: &str) -> Result<Vec<String>, DbError> {
    db::fleet::query_targets(database, sql)
}

/// What to tell the user about a [`db::Notice`], one line each (without the
/// `note: ` prefix).
pub fn notice_lines(notice: &db::Notice) -> Vec<String> {
    match notice {
        db::Notice::Interrupted(attempts) => attempts
            .iter()
            .map(|a| {
                format!(
                    "an earlier run was interrupted during the {} of {} (started {} by {}): statements it had committed stay committed; this run starts the step again from its first statement",
                    a.direction.as_str(),
                    a.revision,
                    a.started_at,
                    a.by
                )
            })
            .collect(),
        db::Notice::Retrying {
            revision,
            direction,
            attempt,
            of,
            wait,
            ..
        } => vec![format!(
            "the {} of {revision} gave up waiting for a lock on attempt {attempt} of {of}; trying again in {:.1} s",
            direction.as_str(),
            wait.as_secs_f64()
        )],
    }
}

/// The message of revision `id` (empty for `base` or an unknown id).
pub fn message<'g>(g: &'g RevisionGraph, id: &str) -> &'g str {
    g.find(id)
        .map(|ix| g.rev(ix).message.as_str())
        .unwrap_or("")
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
    /// The revision's whole message.
    pub message: &'a str,
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

/// Milliseconds, rounded to the microsecond.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Writes `value` as one JSON line and flushes, so a reader sees each step
/// as it happens.
pub fn json_line<T: Serialize>(out: &mut dyn std::io::Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::workspace::survey;
    use crate::script::Project;

    /// What a run executes comes from the file as it is now, never from the
    /// loaded body (which the parse cache may have served).
    #[test]
    fn runs_read_each_steps_sql_from_the_file_not_the_loaded_body() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mergepoint.yaml"), "format: native\n").unwrap();
        std::fs::create_dir(dir.path().join("revisions")).unwrap();
        let file = dir.path().join("revisions/aaaa00000001_a.yaml");
        let text = |up: &str| {
            format!("id: aaaa00000001\nparents: []\nmessage: a\ntransactional: true\nupgrade: |\n  {up}\ndowngrade: |\n  DROP TABLE t;\n")
        };
        std::fs::write(&file, text("CREATE TABLE t (x int);")).unwrap();
        let project = Project::locate(Some(dir.path())).unwrap();
        let mut ws = survey(project).into_workspace().unwrap();
        // A stale body, as a cache entry that no longer matches would be.
        if let Body::Native(b) = &mut ws.bodies[0] {
            b.upgrade = "SELECT 'stale';".to_string();
        }
        std::fs::write(&file, text("CREATE TABLE t (y int);")).unwrap();
        let sql = WorkspaceSql(&ws);
        let stale = sql.step_text("aaaa00000001", Direction::Upgrade).unwrap();
        assert_eq!(stale.sql, "SELECT 'stale';");
        let fresh = sql
            .read_step("aaaa00000001", Direction::Upgrade)
            .unwrap()
            .unwrap();
        assert_eq!(fresh.sql.trim(), "CREATE TABLE t (y int);");
        assert_eq!(
            fresh.reverse.as_deref().map(str::trim),
            Some("DROP TABLE t;")
        );
        // A file that now declares another revision is refused, not run.
        std::fs::write(&file, text("x").replace("aaaa00000001", "bbbb00000002")).unwrap();
        let e = sql
            .read_step("aaaa00000001", Direction::Upgrade)
            .unwrap_err();
        assert!(e.contains("changed underneath this run"), "{e}");
    }
}
