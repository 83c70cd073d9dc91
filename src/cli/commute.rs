/*!
What `merge --verify` and `check --merges` share: applying the branches of
some heads in every order on the dev server
([`crate::schema::commute`]), and the report's text.
*/

use std::io::Write;

use super::database::{run_options, DbArgs, WorkspaceSql};
use super::error::{CliError, CliResult};
use super::schema_sides::SchemaArgs;
use super::Workspace;
use crate::graph::Ix;
use crate::schema::commute::{self, CommuteError, CommuteReport};
use crate::schema::source::{Revisions, SourceError};
use crate::schema::DevServer;

/// Connects the dev server of `args` (or the project's), or says how to
/// configure one; `what` names the command for the message.
pub fn dev_server(ws: &Workspace, args: &SchemaArgs, what: &str) -> CliResult<DevServer> {
    let Some(url) = ws.project.config.dev_url(args.dev_url.as_deref()) else {
        return Err(CliError::input(format!(
            "{what} applies the branches on temporary databases of a dev server, and none is configured; nothing was checked"
        ))
        .with_hint("pass --dev-url, set MERGEPOINT_DEV_URL or dev_url: in mergepoint.yaml (any server where mergepoint may create and drop mergepoint_tmp_* databases)"));
    };
    DevServer::connect(&url).map_err(|e| {
        CliError::from(e).with_hint(
            "the dev server comes from --dev-url, MERGEPOINT_DEV_URL or dev_url: in mergepoint.yaml",
        )
    })
}

/// Applies the branches of `heads` in every order and compares the
/// schemas they leave.
pub fn verify_heads(
    ws: &Workspace,
    dev: &DevServer,
    heads: &[Ix],
    args: &SchemaArgs,
    what: &str,
) -> CliResult<CommuteReport> {
    let options = run_options(ws, &DbArgs::default())?;
    let sql = WorkspaceSql(ws);
    let revisions = Revisions {
        graph: &ws.graph,
        sql: &sql,
        options: &options,
    };
    commute::check(dev, &revisions, heads, &args.schemas).map_err(|e| match e {
        CommuteError::Source(SourceError::NoSql { revisions, .. }) => CliError::input(format!(
            "{what} runs the branches' revisions, and {} {} Alembic .py revision{} mergepoint cannot run yet; nothing was checked",
            revisions.join(", "),
            if revisions.len() == 1 { "is an" } else { "are" },
            if revisions.len() == 1 { "" } else { "s" },
        ))
        .with_hint("running Alembic revisions online is not supported yet; convert the project with 'mergepoint import-alembic' to verify merges"),
        CommuteError::Source(e) => CliError::from(e),
        CommuteError::Diff(e) => CliError::from(e),
    })
}

/// The report as text: one line per order, the differences, the verdict.
pub fn write_report(out: &mut dyn Write, report: &CommuteReport) -> std::io::Result<()> {
    let base = if report.base.is_empty() {
        "an empty database".to_string()
    } else {
        report.base.join(", ")
    };
    writeln!(
        out,
        "branches of {}, applied from {base} in {} order{}:",
        report.heads.join(", "),
        report.orders.len(),
        if report.orders.len() == 1 { "" } else { "s" }
    )?;
    for order in &report.orders {
        let name = order.order.join(" then ");
        match (&order.failure, order.difference.is_empty()) {
            (Some(f), _) => {
                let at = f
                    .revision
                    .as_deref()
                    .map(|r| format!("revision {r} failed: "))
                    .unwrap_or_default();
                writeln!(out, "  {name}: FAILED: {at}{}", f.message)?;
            }
            (None, true) => writeln!(out, "  {name}: applied")?,
            (None, false) => {
                writeln!(out, "  {name}: applied, leaves a different schema; from the first order's schema to this one:")?;
                for d in &order.difference {
                    writeln!(
                        out,
                        "    -- {}\n    {};",
                        d.object,
                        d.sql.replace('\n', "\n    ")
                    )?;
                }
            }
        }
    }
    if report.commutes() {
        writeln!(
            out,
            "ok: the branches commute (every order applied and left the same schema)"
        )?;
    } else {
        if !report.differing.is_empty() {
            writeln!(
                out,
                "the branches do not commute: the order changes {}",
                report.differing.join(", ")
            )?;
        }
        if !report.touched_by_several.is_empty() {
            writeln!(
                out,
                "objects more than one branch changes: {}",
                report.touched_by_several.join(", ")
            )?;
        }
    }
    Ok(())
}

/// The error a non-commuting report ends with (exit 1).
pub fn refusal(report: &CommuteReport, what: &str) -> CliError {
    let failed = report.orders.iter().filter(|o| o.failure.is_some()).count();
    let message = if failed > 0 {
        format!(
            "{what}: {failed} of {} orders of the branches of {} failed to apply",
            report.orders.len(),
            report.heads.join(", ")
        )
    } else {
        format!(
            "{what}: the branches of {} do not commute (the order they are applied in changes {})",
            report.heads.join(", "),
            report.differing.join(", ")
        )
    };
    CliError::check_failed(message).with_hint(
        "make the branches independent (or one depend on the other with depends_on), then merge",
    )
}
