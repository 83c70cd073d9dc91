/*!
What the schema commands (`diff`, `schema dump`, `revision --autogenerate`,
`verify`, `check --schema`) share: the dev server option and connection,
the refusal of Alembic projects where revisions must run, and reading a side ([`crate::schema::source`]) with the project
loaded only when a `rev:` side needs it and the dev server connected only
when a `.sql` or `rev:` side needs it.
*/

use super::database::{run_options, DbArgs, WorkspaceSql};
use super::error::{CliError, CliResult};
use super::{Ctx, Workspace};
use crate::config::{Config, Format};
use crate::db::VersionTable;
use crate::schema::source::{self, Revisions, Side, SideContext};
use crate::schema::{Catalog, DevServer};
use clap::Args;

/// The dev server and the schema filter.
#[derive(Debug, Default, Clone, Args)]
pub struct SchemaArgs {
    /// Only this schema (repeatable) [default: every schema that is not a
    /// system schema].
    #[arg(long = "schema", value_name = "NAME")]
    pub schemas: Vec<String>,
    /// The dev server: a PostgreSQL URL where mergepoint may create and
    /// drop temporary databases (mergepoint_tmp_*), for .sql and rev:
    /// sides; needs CREATEDB [default: $MERGEPOINT_DEV_URL, then dev_url in
    /// mergepoint.yaml].
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
}

/// Reads each side in order, with one dev server connection for all.
pub fn read_sides(ctx: &Ctx, args: &SchemaArgs, sides: &[Side]) -> CliResult<Vec<Catalog>> {
    let project = ctx.project().ok();
    let config = project
        .as_ref()
        .map(|p| p.config.clone())
        .unwrap_or_default();
    let dev = match sides.iter().find(|s| s.needs_dev_server()) {
        None => None,
        Some(side) => Some(dev_server(&config, args, &side.describe())?),
    };
    let workspace = match sides.iter().any(|s| matches!(s, Side::Rev(_))) {
        true => Some(ctx.workspace()?),
        false => None,
    };
    let options = match &workspace {
        Some(ws) => Some(run_options(ws, &DbArgs::default())?),
        None => None,
    };
    let sql = workspace.as_ref().map(WorkspaceSql);
    let revisions = match (&workspace, &sql, &options) {
        (Some(ws), Some(sql), Some(options)) => Some(Revisions {
            graph: &ws.graph,
            sql,
            options,
        }),
        _ => None,
    };
    let version_table = match &options {
        Some(o) => o.table.clone(),
        None => VersionTable::new(
            config.version_table.as_deref().unwrap_or("alembic_version"),
            config.version_table_schema.as_deref(),
        )?,
    };
    let side_ctx = SideContext {
        dev: dev.as_ref(),
        revisions,
        schemas: args.schemas.clone(),
        version_table,
    };
    // Both sides at once: each is mostly waiting on its own server (or on
    // the dev server's DDL), so reading them side by side halves the wait.
    let side_ctx = &side_ctx;
    std::thread::scope(|scope| {
        let running: Vec<_> = sides
            .iter()
            .map(|side| scope.spawn(move || source::read(side, side_ctx)))
            .collect();
        running
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(read) => Ok(read?),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Parses a side argument.
pub fn parse_side(text: &str) -> CliResult<Side> {
    Ok(Side::parse(text)?)
}

/// Connects to the dev server of `args` and `config`; `what` (a side, a
/// command) is what needs it, for the message when none is configured.
pub fn dev_server(config: &Config, args: &SchemaArgs, what: &str) -> CliResult<DevServer> {
    let Some(url) = config.dev_url(args.dev_url.as_deref()) else {
        return Err(CliError::from(source::SourceError::NoDevServer {
            side: what.to_string(),
        }));
    };
    DevServer::connect(&url).map_err(|e| {
        CliError::from(e).with_hint(
            "the dev server comes from --dev-url, MERGEPOINT_DEV_URL or dev_url: in mergepoint.yaml",
        )
    })
}

/// Refuses an Alembic project for `command`, which builds schemas by
/// running the project's revisions: mergepoint does not run Alembic's
/// Python revisions yet (exit 2).
pub fn require_native(ws: &Workspace, command: &str) -> CliResult<()> {
    if ws.project.format != Format::Alembic {
        return Ok(());
    }
    Err(CliError::input(format!(
        "{command} needs to run the project's revisions, and {} holds Alembic revisions (Python), which mergepoint cannot run yet",
        ws.project.root.display()
    ))
    .with_hint("convert the project with 'mergepoint import-alembic --out DIR' and run the command there, or wait for support for running Alembic revisions"))
}
