/*!
The command line: clap definitions, one module per command, text and JSON
output.

[`Cli`] is the parsed command line and [`Command`] the one dispatch enum;
each variant's arguments and `run` function live in `commands/<name>.rs`
(`upgrade` and `downgrade` share `commands/migrate/`). Below the commands:
[`workspace`] loads the project (the one loader every command uses),
[`database`] holds what the database commands share, [`fleet`] their
runs on many targets (`--targets`), [`view`] what the
read commands print about a revision, [`error`] the error type and how
library errors map to exit codes and hints, [`timings`] the
`MERGEPOINT_TIMINGS` report.

Commands write to the writers handed to them (never to the process's
stdout directly), return a [`CliError`] on failure, and leave exit codes
and the `error:` line to `main`.
*/

pub mod commands;
pub mod database;
pub mod error;
pub mod fleet;
pub mod schema_sides;
pub mod timings;
pub mod view;
pub mod workspace;

pub use error::{CliError, CliResult, ErrorKind};
pub use workspace::Workspace;

use crate::script::Project;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  mergepoint init                       start a project in the current directory
  mergepoint revision -m 'add orders'   write a revision on top of the head
  mergepoint heads --check              CI: fail if the graph has several heads
  mergepoint history -r base:head       list revisions, newest first
  mergepoint plan base heads            show the steps from an empty database
  mergepoint --dir alembic/ history     read an Alembic project
  mergepoint diff rev:head schema.sql   the SQL from the revisions' schema to a file's
  mergepoint revision --autogenerate -m MSG
                                        the SQL from the head's schema to `schema:`'s
  mergepoint verify                     each revision up, down, up again: downgrades tested
  mergepoint check --schema             CI: the database's schema is what its revisions build

Exit codes: 0 ok, 1 a check failed, 2 usage or input error, 3 database error,
4 lock not obtained in time.

Environment: DATABASE_URL (database commands, after --database-url);
libpq's PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE,
PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGAPPNAME, PGCONNECT_TIMEOUT and the
password file (PGPASSFILE, default ~/.pgpass) fill what the URL leaves out,
as for psql; MERGEPOINT_CACHE=off turns off the parse cache of revision
files, kept in MERGEPOINT_CACHE_DIR (default: $XDG_CACHE_HOME/mergepoint or
~/.cache/mergepoint); MERGEPOINT_DEV_URL the dev server of `diff`,
`schema dump`, `revision --autogenerate`, `verify` and `check --schema`
(after --dev-url); MERGEPOINT_TIMINGS=1 prints the time of each phase
(load, graph, command) and the cache's hits to stderr.";

/// A database migration engine built around a revision graph.
///
/// mergepoint reads a directory of revisions (its own YAML files, or an
/// Alembic `versions/` directory), finds heads, writes merge revisions and
/// plans the exact upgrade or downgrade path between any two points.
#[derive(Debug, Parser)]
#[command(name = "mergepoint", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Project root or revisions directory [default: the current directory].
    #[arg(long, global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,

    /// The database options, accepted here too (`mergepoint --database-url
    /// URL upgrade heads`); the command's own win. Not `global = true`:
    /// each database command declares them itself (so its --help lists
    /// them), and clap allows one declaration per name along a path.
    #[command(
        flatten,
        next_help_heading = "Database options (also after the command)"
    )]
    pub db: database::DbArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a project: mergepoint.yaml and an empty revisions/ directory.
    #[command(after_help = commands::init::AFTER_HELP)]
    Init(commands::init::InitArgs),
    /// Write a new revision on top of the current head.
    ///
    /// The new revision's parent is the single head of the graph. If there
    /// are several heads, mergepoint refuses rather than silently opening a
    /// new branch: name the parent with --head, or merge the heads first.
    #[command(after_help = commands::revision::AFTER_HELP)]
    Revision(commands::revision::RevisionArgs),
    /// Write a merge revision whose parents are the given heads.
    #[command(after_help = commands::merge::AFTER_HELP)]
    Merge(commands::merge::MergeArgs),
    /// List the heads: revisions that nothing builds on.
    #[command(after_help = commands::heads::AFTER_HELP)]
    Heads(commands::heads::HeadsArgs),
    /// List the branch points and the revisions that branch off them.
    #[command(after_help = commands::branches::AFTER_HELP)]
    Branches(commands::branches::BranchesArgs),
    /// List revisions newest first, in the same order as `alembic history`.
    #[command(after_help = commands::history::AFTER_HELP)]
    History(commands::history::HistoryArgs),
    /// Show one revision (or several, for `heads`) in full.
    #[command(after_help = commands::show::AFTER_HELP)]
    Show(commands::show::ShowArgs),
    /// Show the steps that move a database from one point to another.
    #[command(after_help = commands::plan::AFTER_HELP)]
    Plan(commands::plan::PlanArgs),
    /// CI gate: load every revision and report every problem.
    ///
    /// Fails on files that do not parse, duplicate ids or branch labels,
    /// missing parents, cycles, and more than one head.
    #[command(after_help = commands::check::AFTER_HELP)]
    Check(commands::check::CheckArgs),
    /// Draw the revision graph as Graphviz dot or a Mermaid flowchart.
    #[command(after_help = commands::graph::AFTER_HELP)]
    Graph(commands::graph::GraphArgs),
    /// Show the revisions applied to the database.
    #[command(after_help = commands::current::AFTER_HELP)]
    Current(commands::current::CurrentArgs),
    /// Upgrade the database to a target revision.
    #[command(after_help = commands::migrate::UPGRADE_AFTER_HELP)]
    Upgrade(commands::migrate::MoveArgs),
    /// Downgrade the database to a target revision.
    #[command(after_help = commands::migrate::DOWNGRADE_AFTER_HELP)]
    Downgrade(commands::migrate::MoveArgs),
    /// Show the audit history: every step run against the database.
    #[command(after_help = commands::log::AFTER_HELP)]
    Log(commands::log::LogArgs),
    /// Set the version table to a revision without running any migration.
    #[command(after_help = commands::stamp::AFTER_HELP)]
    Stamp(commands::stamp::StampArgs),
    /// Print the SQL that turns one schema into another (URL, .sql, rev:).
    ///
    /// Reads both schemas from PostgreSQL's catalogs and plans the ordered
    /// statements between them, each with its hazards (data loss, table
    /// rewrite, long locks, index builds, possible renames).
    #[command(after_help = commands::diff::AFTER_HELP)]
    Diff(commands::diff::DiffArgs),
    /// Test every downgrade: each revision up, down (the schema must come
    /// back), up again.
    ///
    /// Runs on a temporary database of the dev server.
    /// Reports every revision whose upgrade fails, whose downgrade fails or
    /// is missing, or whose downgrade does not restore the schema (with the
    /// SQL that would), one line per revision with its times.
    #[command(after_help = commands::verify::AFTER_HELP)]
    Verify(commands::verify::VerifyArgs),
    /// Schema commands: `schema dump`.
    #[command(after_help = commands::schema::AFTER_HELP)]
    Schema(commands::schema::SchemaCmdArgs),
    /// Convert an Alembic project into a native one, SQL from Alembic's offline mode.
    #[command(after_help = commands::import_alembic::AFTER_HELP)]
    ImportAlembic(commands::import_alembic::ImportAlembicArgs),
}

/// What a command gets: the global options and where to write.
pub struct Ctx<'a> {
    pub dir: Option<PathBuf>,
    pub out: &'a mut dyn Write,
}

impl Ctx<'_> {
    /// Finds the project (`--dir` or the current directory).
    pub fn project(&self) -> CliResult<Project> {
        Ok(Project::locate(self.dir.as_deref())?)
    }

    /// Loads every revision and builds the graph; any file that fails to
    /// parse or any graph problem is an input error listing all of them.
    pub fn workspace(&self) -> CliResult<Workspace> {
        workspace::survey(self.project()?).into_workspace()
    }

    /// Writes `value` as pretty JSON and a newline.
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> CliResult {
        serde_json::to_writer_pretty(&mut *self.out, value)?;
        writeln!(self.out)?;
        Ok(())
    }
}

impl Command {
    /// The database options of a database command.
    fn db_args_mut(&mut self) -> Option<&mut database::DbArgs> {
        match self {
            Command::Current(a) => Some(&mut a.db),
            Command::Upgrade(a) | Command::Downgrade(a) => Some(&mut a.db),
            Command::Log(a) => Some(&mut a.db),
            Command::Stamp(a) => Some(&mut a.db),
            Command::Check(a) => Some(&mut a.db),
            Command::Schema(commands::schema::SchemaCmdArgs {
                command: commands::schema::SchemaCommand::Dump(a),
            }) => Some(&mut a.db),
            _ => None,
        }
    }
}

/// Runs a parsed command line, writing its output to `out`.
pub fn run(mut cli: Cli, out: &mut dyn Write) -> CliResult {
    // Options written before the command fill what the command's own
    // leave out; commands without a database ignore them, so that an
    // alias `mergepoint --database-url URL` works for every command.
    if let Some(db) = cli.command.db_args_mut() {
        *db = std::mem::take(db).or(&cli.db);
    }
    let mut ctx = Ctx { dir: cli.dir, out };
    use crate::graph::Direction;
    use commands::*;
    let result = match cli.command {
        Command::Init(args) => init::run(&mut ctx, args),
        Command::Revision(args) => revision::run(&mut ctx, args),
        Command::Merge(args) => merge::run(&mut ctx, args),
        Command::Heads(args) => heads::run(&mut ctx, args),
        Command::Branches(args) => branches::run(&mut ctx, args),
        Command::History(args) => history::run(&mut ctx, args),
        Command::Show(args) => show::run(&mut ctx, args),
        Command::Plan(args) => plan::run(&mut ctx, args),
        Command::Check(args) => check::run(&mut ctx, args),
        Command::Graph(args) => graph::run(&mut ctx, args),
        Command::Current(args) => current::run(&mut ctx, args),
        Command::Upgrade(args) => migrate::run(&mut ctx, args, Direction::Upgrade),
        Command::Downgrade(args) => migrate::run(&mut ctx, args, Direction::Downgrade),
        Command::Stamp(args) => stamp::run(&mut ctx, args),
        Command::Log(args) => log::run(&mut ctx, args),
        Command::ImportAlembic(args) => import_alembic::run(&mut ctx, args),
        Command::Diff(args) => diff::run(&mut ctx, args),
        Command::Schema(args) => schema::run(&mut ctx, args),
        Command::Verify(args) => verify::run(&mut ctx, args),
    };
    result?;
    ctx.out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    /// The database options of `args` after [`run`]'s merge.
    fn merged(args: &[&str]) -> database::DbArgs {
        let mut cli = Cli::try_parse_from(args).unwrap();
        let outer = cli.db.clone();
        let db = cli.command.db_args_mut().expect("a database command");
        std::mem::take(db).or(&outer)
    }

    #[test]
    fn database_options_go_before_or_after_the_command() {
        let db = merged(&[
            "mergepoint",
            "--database-url",
            "postgresql://before/db",
            "--lock-timeout",
            "7",
            "upgrade",
            "heads",
            "--version-table",
            "deploys",
        ]);
        assert_eq!(db.database_url.as_deref(), Some("postgresql://before/db"));
        assert_eq!(db.lock_timeout, Some(7));
        assert_eq!(db.version_table.as_deref(), Some("deploys"));
        // The command's own win.
        let db = merged(&[
            "mergepoint",
            "--database-url",
            "postgresql://before/db",
            "--version-table-schema",
            "a",
            "current",
            "--database-url",
            "postgresql://after/db",
        ]);
        assert_eq!(db.database_url.as_deref(), Some("postgresql://after/db"));
        assert_eq!(db.version_table_schema.as_deref(), Some("a"));
        // Commands without a database accept them.
        let cli = Cli::try_parse_from(["mergepoint", "--database-url", "x", "heads"]).unwrap();
        assert_eq!(cli.db.database_url.as_deref(), Some("x"));
    }
}
