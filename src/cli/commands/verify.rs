//! `mergepoint verify`: downgrade testing on a temporary database of the
//! dev server ([`crate::schema::verify`]): each revision up, down (the
//! schema must be the one before it), up again.

use crate::cli::commands::diff::{plan_view, StatementView};
use crate::cli::database::{ms, run_options, DbArgs, WorkspaceSql};
use crate::cli::schema_sides::{dev_server, require_native, SchemaArgs};
use crate::cli::{CliError, CliResult, Ctx};
use crate::schema::render;
use crate::schema::source::Revisions;
use crate::schema::verify::{self, Outcome, RevisionCheck, VerifyOptions};
use clap::Args;
use serde::Serialize;
use std::time::Instant;

pub const AFTER_HELP: &str = "\
On a temporary database of the dev server (mergepoint_tmp_*, always
dropped), walks the upgrade path one revision at a time: upgrade it, read
the schema; downgrade that one revision and compare the schema with the one
before the upgrade; upgrade it again; go on. One line per revision, with its
times, as it is checked.

A revision fails when its upgrade fails (the walk stops: nothing after it
can be checked), its downgrade is missing (no statement while the upgrade
has some), its downgrade fails, its downgrade does not restore the schema
(the difference is printed: the SQL the downgrade lacks, hazards as
comments), or its upgrade fails the second time. After such a failure the
database is built again from the upgrades alone and the walk goes on.

Examples:
  mergepoint verify                       every revision, base to heads
  mergepoint verify --from origin-head    CI: only what a pull request adds
  mergepoint verify --to 3f2a --json
  mergepoint verify --dev-url postgresql://localhost/postgres

Exit codes: 0 every revision passed, 1 a revision failed, 2 bad input (an
identifier that does not resolve, no dev server, an Alembic project, an
object kind the schema engine does not support), 3 a database error (the
dev server cannot be reached).";

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check only the revisions after REV (the path up to REV is built
    /// first, unchecked) [default: from the base].
    #[arg(long, value_name = "REV")]
    pub from: Option<String>,
    /// The last revision to check: any identifier [default: heads].
    #[arg(long, value_name = "REV", default_value = "heads")]
    pub to: String,
    /// Print the report as one JSON object (docs/json.md).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// One revision in `verify --json`.
#[derive(Debug, Serialize)]
pub struct CheckView<'a> {
    pub revision: &'a str,
    pub message: &'a str,
    /// `ok`, `upgrade_failed`, `missing_downgrade`, `downgrade_failed`,
    /// `not_restored`, `reupgrade_failed`.
    pub outcome: Outcome,
    pub error: Option<&'a str>,
    /// `not_restored`: the statements from the schema the downgrade left to
    /// the one before the upgrade.
    pub difference: Vec<StatementView<'a>>,
    pub upgrade_ms: f64,
    pub downgrade_ms: f64,
    pub total_ms: f64,
}

/// `verify --json`.
#[derive(Debug, Serialize)]
pub struct VerifyView<'a> {
    pub ok: bool,
    pub checked: usize,
    pub failed: usize,
    /// Revisions built before the first checked one (`--from`).
    pub built: usize,
    /// Revisions left unchecked after an upgrade failed.
    pub not_checked: &'a [String],
    pub revisions: Vec<CheckView<'a>>,
    pub duration_ms: f64,
}

pub fn run(ctx: &mut Ctx, args: VerifyArgs) -> CliResult {
    let started = Instant::now();
    let ws = ctx.workspace()?;
    require_native(&ws, "verify")?;
    let dev = dev_server(&ws.project.config, &args.schema, "verify")?;
    let options = run_options(&ws, &DbArgs::default())?;
    let sql = WorkspaceSql(&ws);
    let revisions = Revisions {
        graph: &ws.graph,
        sql: &sql,
        options: &options,
    };
    let verify_options = VerifyOptions {
        from: args.from.clone(),
        to: args.to.clone(),
        schemas: args.schema.schemas.clone(),
    };
    let message = |id: &str| crate::cli::database::message(&ws.graph, id).to_string();
    let json = args.json;
    let mut write_error = None;
    let report = {
        let out = &mut *ctx.out;
        let mut on_check = |check: &RevisionCheck| {
            if json || write_error.is_some() {
                return;
            }
            let text = check_text(check, &message(&check.revision));
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                write_error = Some(e);
            }
        };
        verify::verify(&dev, &revisions, &verify_options, &mut on_check)?
    };
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let failed = report.failed();
    let duration = started.elapsed();
    if json {
        let messages: Vec<String> = report.checks.iter().map(|c| message(&c.revision)).collect();
        let view = VerifyView {
            ok: failed == 0,
            checked: report.checks.len(),
            failed,
            built: report.built,
            not_checked: &report.not_checked,
            revisions: report
                .checks
                .iter()
                .zip(&messages)
                .map(|(c, m)| CheckView {
                    revision: &c.revision,
                    message: m,
                    outcome: c.outcome,
                    error: c.error.as_deref(),
                    difference: plan_view(&c.difference),
                    upgrade_ms: ms(c.upgrade),
                    downgrade_ms: ms(c.downgrade),
                    total_ms: ms(c.total),
                })
                .collect(),
            duration_ms: ms(duration),
        };
        ctx.json(&view)?;
    } else {
        if !report.not_checked.is_empty() {
            writeln!(
                ctx.out,
                "not checked (after the failed upgrade): {}",
                report.not_checked.join(", ")
            )?;
        }
        writeln!(
            ctx.out,
            "verify: {} of {} revision{} passed{} in {:.1} s",
            report.checks.len() - failed,
            report.checks.len(),
            if report.checks.len() == 1 { "" } else { "s" },
            match report.built {
                0 => String::new(),
                n => format!(" ({n} built first, unchecked)"),
            },
            duration.as_secs_f64()
        )?;
    }
    if failed > 0 {
        ctx.out.flush()?;
        return Err(CliError::check_failed(format!(
            "verify: {failed} revision{} failed: {}",
            if failed == 1 { "" } else { "s" },
            report
                .checks
                .iter()
                .filter(|c| c.outcome != Outcome::Ok)
                .map(|c| format!("{} ({})", c.revision, c.outcome.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint(
            "fix each revision's downgrade (or upgrade) as printed above, then run verify again",
        ));
    }
    Ok(())
}

/// A revision's line (and, for a failure, what failed, indented).
fn check_text(check: &RevisionCheck, message: &str) -> String {
    let mut out = format!(
        "{:<6} {}  {:<40}  up {:>7.1} ms  down {:>7.1} ms  total {:>7.1} ms\n",
        if check.outcome == Outcome::Ok {
            "ok"
        } else {
            "FAILED"
        },
        check.revision,
        message,
        ms(check.upgrade),
        ms(check.downgrade),
        ms(check.total)
    );
    let what = match check.outcome {
        Outcome::Ok => return out,
        Outcome::UpgradeFailed => "the upgrade failed",
        Outcome::MissingDowngrade => "the downgrade is missing: the upgrade has statements, the downgrade none",
        Outcome::DowngradeFailed => "the downgrade failed",
        Outcome::NotRestored => "the downgrade does not restore the schema before the upgrade; this SQL would (add it to the downgrade)",
        Outcome::ReupgradeFailed => "the upgrade failed when run again after the downgrade",
    };
    out.push_str(&format!("    {what}\n"));
    if let Some(e) = &check.error {
        if check.outcome != Outcome::MissingDowngrade {
            for line in e.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    for line in render::body(&check.difference).trim_end().lines() {
        out.push_str(&format!("    {line}\n"));
    }
    out
}
