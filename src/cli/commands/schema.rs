//! `mergepoint schema dump [SIDE]`: a schema as the DDL that builds it
//! from an empty database, or as the model (`--json`).

use crate::cli::database::DbArgs;
use crate::cli::schema_sides::{parse_side, read_sides, SchemaArgs};
use crate::cli::{CliError, CliResult, Ctx};
use crate::schema::model::{Dependency, Object};
use crate::schema::{self, render, Side};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::collections::BTreeSet;

pub const AFTER_HELP: &str = "\
Examples:
  mergepoint schema dump                          the database of --database-url / DATABASE_URL
  mergepoint schema dump postgresql://localhost/app --schema public
  mergepoint schema dump rev:head --dev-url postgresql://localhost/postgres
  mergepoint schema dump schema/ --json           the model of a directory of .sql files";

pub const DUMP_AFTER_HELP: &str = "\
SIDE is a PostgreSQL URL, a .sql file or directory (loaded on the dev
server), or rev:IDENT [default: the database of --database-url, then
DATABASE_URL, then database_url in mergepoint.yaml]. The output loads into
an empty database with psql -v ON_ERROR_STOP=1; diffing the two then
prints nothing.

Examples:
  mergepoint schema dump > schema.sql
  mergepoint schema dump rev:head --dev-url postgresql://localhost/postgres
  mergepoint schema dump postgresql://localhost/app --json";

/// `schema dump --json`: the model with its objects as a list (JSON
/// object keys must be strings; each object carries its own id fields).
#[derive(Debug, Serialize)]
pub struct ModelView<'a> {
    pub objects: Vec<&'a Object>,
    pub depends: &'a BTreeSet<Dependency>,
}

#[derive(Debug, Args)]
pub struct SchemaCmdArgs {
    #[command(subcommand)]
    pub command: SchemaCommand,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print a schema as SQL (the DDL that builds it from empty, in
    /// dependency order), or as the model with --json.
    #[command(after_help = DUMP_AFTER_HELP)]
    Dump(DumpArgs),
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The schema: URL, .sql file or directory, or rev:IDENT.
    #[arg(value_name = "SIDE")]
    pub side: Option<String>,
    /// Print the model (docs/json.md) instead of SQL.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
    /// Only --database-url is used (the default side).
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(ctx: &mut Ctx, args: SchemaCmdArgs) -> CliResult {
    match args.command {
        SchemaCommand::Dump(a) => dump(ctx, a),
    }
}

fn dump(ctx: &mut Ctx, args: DumpArgs) -> CliResult {
    let side = match &args.side {
        Some(text) => parse_side(text)?,
        None => Side::Url(default_url(ctx, &args.db)?),
    };
    let catalog = read_sides(ctx, &args.schema, std::slice::from_ref(&side))?
        .pop()
        .expect("one side read");
    if args.json {
        let _phase = tracing::info_span!("render").entered();
        return ctx.json(&ModelView {
            objects: catalog.objects.values().collect(),
            depends: &catalog.depends,
        });
    }
    let plan = {
        let _phase = tracing::info_span!("diff").entered();
        schema::dump(&catalog)?
    };
    let _phase = tracing::info_span!("render").entered();
    ctx.out.write_all(render::script(&plan).as_bytes())?;
    Ok(())
}

/// `--database-url`, `DATABASE_URL`, then the project's `database_url`.
fn default_url(ctx: &Ctx, db: &DbArgs) -> CliResult<String> {
    let config = ctx.project().map(|p| p.config).unwrap_or_default();
    config
        .database_url(db.database_url.as_deref())
        .ok_or_else(|| {
            CliError::input("no database to dump").with_hint(
                "name one (a URL, a .sql path or rev:IDENT), or pass --database-url, set DATABASE_URL or database_url in mergepoint.yaml",
            )
        })
}
