//! `mergepoint diff FROM TO`: the SQL that turns FROM's schema into TO's.

use crate::cli::schema_sides::{parse_side, read_sides, SchemaArgs};
use crate::cli::{CliError, CliResult, Ctx};
use crate::schema::{self, render, DiffOptions, Hazard, Plan, StatementKind};
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
Each side is a PostgreSQL URL (postgresql://..., postgres://... or key=value
settings: that database's live schema), a .sql file or a directory of .sql
files read in sorted order (loaded into a temporary database on the dev
server), or rev:IDENT (the schema the project's revisions build at IDENT:
rev:head, rev:heads, rev:base, rev:3f2a, rev:coupons@head, on a temporary
database). The script goes to stdout, each statement's hazards as
`-- hazard:` comments above it; nothing at all when the schemas match.
Temporary databases are named mergepoint_tmp_<pid>_<random> and always
dropped, also on error and Ctrl-C.

Examples:
  mergepoint diff postgresql://localhost/prod postgresql://localhost/staging
  mergepoint diff rev:head schema.sql --dev-url postgresql://localhost/postgres
  mergepoint diff $DATABASE_URL rev:heads --exit-code     CI: fail on drift
  mergepoint diff rev:base rev:head --json
  mergepoint diff old.sql new.sql --concurrently > change.sql
  psql -v ON_ERROR_STOP=1 -d mydb -f change.sql

Exit codes: 0 the schemas match (or differences without --exit-code),
1 differences with --exit-code, 2 a bad side (a .sql file that fails to
load, an unresolvable rev:, no dev server, an object kind not supported
yet), 3 a database error (a server that cannot be reached).";

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The schema to start from: URL, .sql file or directory, or rev:IDENT.
    #[arg(value_name = "FROM")]
    pub from: String,
    /// The schema to reach: URL, .sql file or directory, or rev:IDENT.
    #[arg(value_name = "TO")]
    pub to: String,
    /// Exit 1 when the schemas differ (as `git diff --exit-code`).
    #[arg(long)]
    pub exit_code: bool,
    /// Print the planned statements as a JSON array (docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Build indexes on existing tables with CREATE INDEX CONCURRENTLY
    /// (those statements then run outside a transaction).
    #[arg(long)]
    pub concurrently: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// One statement of `diff --json`.
#[derive(Debug, Serialize)]
pub struct StatementView<'a> {
    /// The statement, without the trailing `;`.
    pub sql: &'a str,
    /// The object it changes, as messages name it (`table public.orders`).
    pub object: String,
    /// The object's kind (`table`, `index`, ...).
    pub object_kind: &'static str,
    /// `create`, `drop`, `alter`, `replace`, `validate`, `comment`,
    /// `grant`, `revoke`.
    pub kind: StatementKind,
    pub hazards: &'a [Hazard],
    /// False for statements that must run outside a transaction block.
    pub transactional: bool,
}

/// The `--json` form of a plan.
pub fn plan_view(plan: &Plan) -> Vec<StatementView<'_>> {
    plan.statements
        .iter()
        .map(|s| StatementView {
            sql: &s.sql,
            object: s.object.to_string(),
            object_kind: s.object.kind_name(),
            kind: s.kind,
            hazards: &s.hazards,
            transactional: s.transactional,
        })
        .collect()
}

pub fn run(ctx: &mut Ctx, args: DiffArgs) -> CliResult {
    let sides = [parse_side(&args.from)?, parse_side(&args.to)?];
    let catalogs = read_sides(ctx, &args.schema, &sides)?;
    let plan = {
        let _phase = tracing::info_span!("diff").entered();
        let options = DiffOptions {
            concurrently: args.concurrently,
        };
        schema::diff(&catalogs[0], &catalogs[1], &options)?
    };
    // The process ends soon: freeing two large models object by object
    // would only delay it (a few ms at 1,000 tables).
    std::mem::forget(catalogs);
    {
        let _phase = tracing::info_span!("render").entered();
        if args.json {
            ctx.json(&plan_view(&plan))?;
        } else if !plan.is_empty() {
            ctx.out.write_all(render::script(&plan).as_bytes())?;
        }
    }
    if args.exit_code && !plan.is_empty() {
        ctx.out.flush()?;
        return Err(CliError::check_failed(format!(
            "the schemas differ: {} statement{}",
            plan.statements.len(),
            if plan.statements.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}
