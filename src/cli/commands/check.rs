//! `mergepoint check`: the CI gate. Reports every problem, not the first.

use super::db::{connect, revision_sql, run_options, DbArgs};
use crate::cli::project::{self, LoadError};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::db::{self, DriftFinding};
use crate::graph::{GraphProblem, RevisionGraph};
use clap::Args;
use serde::Serialize;

pub const AFTER_HELP: &str = "\
Checks, in one run: every revision file parses; no duplicate revision ids or
branch labels; every parent and depends_on target exists; no cycles; exactly
one head (heads that another revision depends on do not count; an empty
project passes).

With --database it also reads the version table and the audit table:
applied revisions whose upgrade SQL changed since they ran (checksum drift),
rows naming unknown revisions, rows that are not heads. --repair accepts the
current SQL and deletes redundant rows (never unknown ones).

Exit status: 0 all good; 1 the check found something to act on (several
heads, drift); 2 broken input (the problems are listed); 3 database error.

Examples:
  mergepoint check
  mergepoint check --json         a report object: ok, revisions, heads, problems
  mergepoint --dir alembic check  works on Alembic directories too
  mergepoint check --database     also compare the database with the files
  mergepoint check --database --repair";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the report as a JSON object (see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Also check the database: applied revisions whose SQL changed since
    /// (checksum drift), version-table rows that are unknown or not heads.
    #[arg(long)]
    pub database: bool,
    /// With --database: accept the current SQL of drifted revisions and
    /// delete redundant version-table rows (under the migration lock).
    #[arg(long, requires = "database")]
    pub repair: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// What `check --database` found in the database.
#[derive(Debug, Serialize)]
pub struct DatabaseCheck {
    /// The URL, password masked.
    pub database: String,
    /// Version-table rows.
    pub rows: Vec<String>,
    /// The SQL `--repair` runs (or ran); empty when nothing to repair.
    pub repair_sql: String,
    /// True if `--repair` ran `repair_sql`.
    pub repaired: bool,
}

/// The report `check` prints.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// True when there is nothing to fix.
    pub ok: bool,
    /// Revisions that loaded.
    pub revisions: usize,
    /// The heads `upgrade head` resolves against (heads nothing depends
    /// on), if the graph could be built.
    pub heads: Vec<String>,
    pub problems: Vec<ProblemView>,
    /// Present with --database (and a graph that loaded cleanly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseCheck>,
}

/// Kinds that mean "the check found something" (exit 1) rather than
/// "the input is broken" (exit 2).
const FINDINGS: [&str; 4] = [
    "multiple_heads",
    "checksum_changed",
    "unknown_revision",
    "not_a_head",
];

fn drift_kind(f: &DriftFinding) -> &'static str {
    match f {
        DriftFinding::ChecksumChanged { .. } => "checksum_changed",
        DriftFinding::UnknownRevision { .. } => "unknown_revision",
        DriftFinding::NotAHead { .. } => "not_a_head",
        DriftFinding::DuplicateRow { .. } => "duplicate_row",
        DriftFinding::MissingPrimaryKey { .. } => "missing_primary_key",
    }
}

/// One problem: a stable kind for scripts and a message for people.
#[derive(Debug, Serialize)]
pub struct ProblemView {
    pub kind: &'static str,
    pub message: String,
}

fn load_kind(p: &LoadError) -> &'static str {
    match p {
        LoadError::Io { .. } => "unreadable_file",
        LoadError::Config { .. } | LoadError::NoProject { .. } => "config",
        _ => "parse_error",
    }
}

fn kind_of(p: &GraphProblem) -> &'static str {
    match p {
        GraphProblem::DuplicateId { .. } => "duplicate_id",
        GraphProblem::MissingParent { .. } => "missing_parent",
        GraphProblem::MissingDependency { .. } => "missing_dependency",
        GraphProblem::SelfReference { .. } => "self_reference",
        GraphProblem::DuplicateLabel { .. } => "duplicate_label",
        GraphProblem::LabelIsRevisionId { .. } => "label_is_revision_id",
        GraphProblem::InvalidName { .. } => "invalid_name",
        GraphProblem::Cycle { .. } => "cycle",
        GraphProblem::DependencyCycle { .. } => "dependency_cycle",
    }
}

pub fn run(ctx: &mut Ctx, args: CheckArgs) -> CliResult {
    let project = ctx.project()?;
    let loaded = project::load(&project);
    crate::cli::timings::mark("load");
    crate::cli::timings::cache(&loaded.cache);
    let mut problems: Vec<ProblemView> = loaded
        .problems
        .iter()
        .map(|p| ProblemView {
            kind: load_kind(p),
            message: p.to_string(),
        })
        .collect();
    let revisions = loaded.revisions.len();
    let mut heads = Vec::new();
    let clean_load = problems.is_empty();
    let mut workspace = None;
    match RevisionGraph::build(loaded.revisions) {
        Ok(g) => {
            // Every head counts, as for `upgrade head`: a head that another
            // revision only depends on still makes `head` ambiguous.
            heads = g.ids(g.heads());
            if heads.len() > 1 {
                problems.push(ProblemView {
                    kind: "multiple_heads",
                    message: format!(
                        "there are {} heads: {}; merge them with 'mergepoint merge heads -m MSG'",
                        heads.len(),
                        heads.join(", ")
                    ),
                });
            }
            if clean_load {
                workspace = Some(Workspace {
                    project,
                    graph: g,
                    bodies: loaded.bodies,
                });
            }
        }
        Err(errs) => problems.extend(errs.problems.iter().map(|p| ProblemView {
            kind: kind_of(p),
            message: p.to_string(),
        })),
    }
    let mut database = None;
    if args.database {
        let Some(ws) = &workspace else {
            return Err(CliError::input(
                "the database was not checked: the revision files have problems",
            )
            .with_hint("run 'mergepoint check' without --database and fix what it lists first"));
        };
        let opts = run_options(ws, &args.db)?;
        let sql = revision_sql(ws);
        let mut conn = connect(ws, &args.db)?;
        let mut drift = db::check_drift(conn.client(), &ws.graph, &sql, &opts.table)?;
        let mut repaired = false;
        if args.repair && !drift.repair_sql.is_empty() {
            let ran = db::repair(&mut conn, &ws.graph, &sql, &opts)?;
            repaired = true;
            // What is left after the repair (unknown rows are never
            // deleted automatically).
            drift = db::check_drift(conn.client(), &ws.graph, &sql, &opts.table)?;
            drift.repair_sql = ran.repair_sql;
        }
        problems.extend(drift.findings.iter().map(|f| ProblemView {
            kind: drift_kind(f),
            message: f.to_string(),
        }));
        database = Some(DatabaseCheck {
            database: conn.masked_url().to_string(),
            rows: drift.rows,
            repair_sql: drift.repair_sql,
            repaired,
        });
    }
    let report = CheckReport {
        ok: problems.is_empty(),
        revisions,
        heads,
        problems,
        database,
    };
    if args.json {
        ctx.json(&report)?;
    } else if report.ok {
        if report.heads.is_empty() {
            writeln!(ctx.out, "ok: no revisions yet")?;
        } else {
            writeln!(
                ctx.out,
                "ok: {} revision{}, head {}",
                report.revisions,
                if report.revisions == 1 { "" } else { "s" },
                report.heads.join(", ")
            )?;
        }
    } else {
        for p in &report.problems {
            writeln!(ctx.out, "{}: {}", p.kind, p.message)?;
        }
    }
    if let (false, Some(d)) = (args.json, &report.database) {
        if d.repaired {
            writeln!(ctx.out, "repaired {}; ran:\n{}", d.database, d.repair_sql)?;
        } else if !d.repair_sql.is_empty() {
            writeln!(
                ctx.out,
                "repair SQL (run it with 'mergepoint check --database --repair'):\n{}",
                d.repair_sql
            )?;
        } else if report.ok {
            writeln!(ctx.out, "ok: database {} matches the revisions", d.database)?;
        }
    }
    if report.ok {
        return Ok(());
    }
    let n = report.problems.len();
    let summary = format!("check found {n} problem{}", if n == 1 { "" } else { "s" });
    if report.problems.iter().all(|p| FINDINGS.contains(&p.kind)) {
        let hint = if report.problems.iter().all(|p| p.kind == "multiple_heads") {
            "merge the heads with 'mergepoint merge heads -m MSG'"
        } else {
            "see each finding for what to do"
        };
        Err(CliError::check_failed(summary).with_hint(hint))
    } else {
        Err(CliError::input(summary).with_hint("fix the problems listed above and run check again"))
    }
}
