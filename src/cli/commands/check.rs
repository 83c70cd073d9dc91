//! `mergepoint check`: the CI gate. Reports every problem, not the first.

use crate::cli::commands::diff::plan_view;
use crate::cli::commands::merge::{check_commute, commute_text, CommuteView};
use crate::cli::database::{self, connect, run_options, DbArgs, WorkspaceSql};
use crate::cli::schema_sides::{dev_server, require_native, SchemaArgs};
use crate::cli::workspace::{self, Survey};
use crate::cli::{CliError, CliResult, Ctx, Workspace};
use crate::db::DriftFinding;
use crate::graph::GraphProblem;
use crate::schema::source::{self, Revisions, SourceError};
use crate::schema::{self as engine, read_catalog, render, DiffOptions, Plan, ReadOptions};
use crate::script::LoadError;
use clap::Args;
use serde::{Serialize, Serializer};

pub const AFTER_HELP: &str = "\
Checks, in one run: every revision file parses; no duplicate revision ids or
branch labels; every parent and depends_on target exists; no cycles; exactly
one head (heads that another revision depends on do not count; an empty
project passes).

With --database it also reads the version table and the audit table:
applied revisions whose upgrade SQL changed since they ran (checksum drift),
rows naming unknown revisions, rows that are not heads. --repair accepts the
current SQL and deletes redundant rows (never unknown ones).

With --schema it compares the database's live schema with the schema its
own applied revisions (its version-table rows) build on a temporary database
of the dev server (--dev-url, MERGEPOINT_DEV_URL or dev_url: in
mergepoint.yaml), and prints what was changed outside the migrations: the
SQL that would bring the revisions' schema to the live one, hazards as
`-- hazard:` comments. mergepoint's own tables (the version table,
mergepoint_history, mergepoint_lock) are not drift.

With --merges it proves every merge revision safe: its parents' branches,
applied from their common ancestor in every order on temporary databases of
the dev server, must leave the same schema (merge_not_commuting otherwise;
the report says which revision failed in which order, or what the orders
leave differently).

Exit status: 0 all good; 1 the check found something to act on (several
heads, drift, a schema changed by hand); 2 broken input (the problems are
listed; an Alembic project with --schema); 3 database error.

Examples:
  mergepoint check
  mergepoint check --json         a report object: ok, revisions, heads, problems
  mergepoint --dir alembic check  works on Alembic directories too
  mergepoint check --database     also compare the database with the files
  mergepoint check --database --repair
  mergepoint check --schema       CI: every schema change went through a revision
  mergepoint check --schema --json --schema-name public
  mergepoint check --merges       every merge revision's branches commute";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("uses_dev_server").args(["schema_drift", "merges"]).multiple(true)))]
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
    /// Also compare the database's live schema with the schema its applied
    /// revisions build on the dev server: changes made outside the
    /// migrations (exit 1).
    #[arg(long = "schema")]
    pub schema_drift: bool,
    /// Also prove every merge revision safe: its branches, applied from
    /// their common ancestor in every order on the dev server, must leave
    /// the same schema (exit 1 otherwise).
    #[arg(long)]
    pub merges: bool,
    /// With --schema or --merges: compare only this schema (repeatable)
    /// [default: every schema that is not a system schema].
    #[arg(
        long = "schema-name",
        value_name = "NAME",
        requires = "uses_dev_server"
    )]
    pub schema_names: Vec<String>,
    /// With --schema or --merges: the dev server, where mergepoint may
    /// create and drop temporary databases (mergepoint_tmp_*) [default:
    /// $MERGEPOINT_DEV_URL, then dev_url in mergepoint.yaml].
    #[arg(long, value_name = "URL", requires = "uses_dev_server")]
    pub dev_url: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// What `check --schema` found.
#[derive(Debug, Serialize)]
pub struct SchemaCheck {
    /// The URL, password masked.
    pub database: String,
    /// The version-table rows whose revisions were built.
    pub rows: Vec<String>,
    /// The SQL from the revisions' schema to the live one: what was
    /// changed outside the migrations (empty: no drift), each as in
    /// `diff --json`.
    pub statements: serde_json::Value,
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
    /// Present with --schema (and a graph that loaded cleanly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaCheck>,
    /// Present with --merges: one merge check per merge revision (as
    /// `merge::CommuteView`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merges: Option<Vec<serde_json::Value>>,
}

/// One problem: a stable kind for scripts and a message for people.
#[derive(Debug, Serialize)]
pub struct ProblemView {
    pub kind: ProblemKind,
    pub message: String,
}

/// What kind of problem `check` found; in JSON and text as its snake_case
/// name (docs/json.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    UnreadableFile,
    Config,
    ParseError,
    DuplicateId,
    MissingParent,
    MissingDependency,
    SelfReference,
    DuplicateLabel,
    LabelIsRevisionId,
    InvalidName,
    Cycle,
    DependencyCycle,
    MultipleHeads,
    ChecksumChanged,
    SchemaDrift,
    MergeNotCommuting,
    UnknownRevision,
    NotAHead,
    DuplicateRow,
    MissingPrimaryKey,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::UnreadableFile => "unreadable_file",
            ProblemKind::Config => "config",
            ProblemKind::ParseError => "parse_error",
            ProblemKind::DuplicateId => "duplicate_id",
            ProblemKind::MissingParent => "missing_parent",
            ProblemKind::MissingDependency => "missing_dependency",
            ProblemKind::SelfReference => "self_reference",
            ProblemKind::DuplicateLabel => "duplicate_label",
            ProblemKind::LabelIsRevisionId => "label_is_revision_id",
            ProblemKind::InvalidName => "invalid_name",
            ProblemKind::Cycle => "cycle",
            ProblemKind::DependencyCycle => "dependency_cycle",
            ProblemKind::MultipleHeads => "multiple_heads",
            ProblemKind::ChecksumChanged => "checksum_changed",
            ProblemKind::SchemaDrift => "schema_drift",
            ProblemKind::MergeNotCommuting => "merge_not_commuting",
            ProblemKind::UnknownRevision => "unknown_revision",
            ProblemKind::NotAHead => "not_a_head",
            ProblemKind::DuplicateRow => "duplicate_row",
            ProblemKind::MissingPrimaryKey => "missing_primary_key",
        }
    }

    /// True when the check did its job and found something to act on
    /// (exit 1), false when the input is broken (exit 2).
    pub fn is_finding(self) -> bool {
        match self {
            ProblemKind::MultipleHeads
            | ProblemKind::ChecksumChanged
            | ProblemKind::SchemaDrift
            | ProblemKind::MergeNotCommuting
            | ProblemKind::UnknownRevision
            | ProblemKind::NotAHead
            | ProblemKind::DuplicateRow
            | ProblemKind::MissingPrimaryKey => true,
            ProblemKind::UnreadableFile
            | ProblemKind::Config
            | ProblemKind::ParseError
            | ProblemKind::DuplicateId
            | ProblemKind::MissingParent
            | ProblemKind::MissingDependency
            | ProblemKind::SelfReference
            | ProblemKind::DuplicateLabel
            | ProblemKind::LabelIsRevisionId
            | ProblemKind::InvalidName
            | ProblemKind::Cycle
            | ProblemKind::DependencyCycle => false,
        }
    }

    fn of_load(p: &LoadError) -> Self {
        match p {
            LoadError::Io { .. } => ProblemKind::UnreadableFile,
            LoadError::Config { .. } | LoadError::NoProject { .. } => ProblemKind::Config,
            _ => ProblemKind::ParseError,
        }
    }

    fn of_graph(p: &GraphProblem) -> Self {
        match p {
            GraphProblem::DuplicateId { .. } => ProblemKind::DuplicateId,
            GraphProblem::MissingParent { .. } => ProblemKind::MissingParent,
            GraphProblem::MissingDependency { .. } => ProblemKind::MissingDependency,
            GraphProblem::SelfReference { .. } => ProblemKind::SelfReference,
            GraphProblem::DuplicateLabel { .. } => ProblemKind::DuplicateLabel,
            GraphProblem::LabelIsRevisionId { .. } => ProblemKind::LabelIsRevisionId,
            GraphProblem::InvalidName { .. } => ProblemKind::InvalidName,
            GraphProblem::Cycle { .. } => ProblemKind::Cycle,
            GraphProblem::DependencyCycle { .. } => ProblemKind::DependencyCycle,
        }
    }

    fn of_drift(f: &DriftFinding) -> Self {
        match f {
            DriftFinding::ChecksumChanged { .. } => ProblemKind::ChecksumChanged,
            DriftFinding::UnknownRevision { .. } => ProblemKind::UnknownRevision,
            DriftFinding::NotAHead { .. } => ProblemKind::NotAHead,
            DriftFinding::DuplicateRow { .. } => ProblemKind::DuplicateRow,
            DriftFinding::MissingPrimaryKey { .. } => ProblemKind::MissingPrimaryKey,
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProblemKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl ProblemView {
    fn new(kind: ProblemKind, message: impl ToString) -> Self {
        ProblemView {
            kind,
            message: message.to_string(),
        }
    }
}

pub fn run(ctx: &mut Ctx, args: CheckArgs) -> CliResult {
    let survey = workspace::survey(ctx.project()?);
    let revisions = survey.revisions;
    let (mut problems, heads, workspace) = file_problems(survey);
    let mut database = None;
    if args.database {
        let ws = loaded(&workspace, "the database was", "--database")?;
        let (check, findings) = check_database(ws, &args)?;
        problems.extend(findings);
        database = Some(check);
    }
    let mut schema = None;
    let mut drift_sql = String::new();
    if args.schema_drift {
        let ws = loaded(&workspace, "the schema was", "--schema")?;
        let (check, plan) = check_schema(ws, &args)?;
        if !plan.is_empty() {
            let n = plan.statements.len();
            problems.push(ProblemView::new(
                ProblemKind::SchemaDrift,
                format!(
                    "the schema of {} differs from the one its applied revisions ({}) build: {n} statement{} would bring the revisions' schema to it (changed outside the migrations?)",
                    check.database,
                    if check.rows.is_empty() { "none".to_string() } else { check.rows.join(", ") },
                    if n == 1 { "" } else { "s" }
                ),
            ));
            drift_sql = render::body(&plan);
        }
        schema = Some(check);
    }
    let mut merges = None;
    let mut merges_text = String::new();
    if args.merges {
        let ws = loaded(&workspace, "the merges were", "--merges")?;
        let (views, findings, text) = check_merges(ws, &args)?;
        problems.extend(findings);
        merges_text = text;
        merges = Some(views);
    }
    let report = CheckReport {
        ok: problems.is_empty(),
        revisions,
        heads,
        problems,
        database,
        schema,
        merges,
    };
    if args.json {
        ctx.json(&report)?;
    } else {
        write_text(ctx, &report)?;
        if !drift_sql.is_empty() {
            writeln!(
                ctx.out,
                "-- The SQL from the revisions' schema to the live one:\n"
            )?;
            ctx.out.write_all(drift_sql.as_bytes())?;
        }
        ctx.out.write_all(merges_text.as_bytes())?;
    }
    verdict(&report)
}

/// The workspace a database, schema or merge check needs; when the files
/// have problems, `subject` ("the schema was") was not checked.
fn loaded<'a>(
    workspace: &'a Option<Workspace>,
    subject: &str,
    flag: &str,
) -> CliResult<&'a Workspace> {
    workspace.as_ref().ok_or_else(|| {
        CliError::input(format!(
            "{subject} not checked: the revision files have problems"
        ))
        .with_hint(format!(
            "run 'mergepoint check' without {flag} and fix what it lists first"
        ))
    })
}

/// `--merges`: every merge revision's branches applied in every order;
/// the reports (JSON), a finding per merge that does not commute, and the
/// reports as text.
fn check_merges(
    ws: &Workspace,
    args: &CheckArgs,
) -> CliResult<(Vec<serde_json::Value>, Vec<ProblemView>, String)> {
    require_native(ws, "check --merges")?;
    let schema_args = SchemaArgs {
        schemas: args.schema_names.clone(),
        dev_url: args.dev_url.clone(),
    };
    let (mut views, mut findings, mut text) = (Vec::new(), Vec::new(), String::new());
    for m in ws.graph.mergepoints() {
        let id = ws.graph.id(m).to_string();
        let parents = ws.graph.ids(ws.graph.parents(m));
        let report = check_commute(ws, &parents, &schema_args, "check --merges")?;
        if !report.commutes() {
            findings.push(ProblemView::new(
                ProblemKind::MergeNotCommuting,
                format!(
                    "merge revision {id}: the branches of {} do not commute (see below)",
                    parents.join(", ")
                ),
            ));
        }
        text.push_str(&format!("merge revision {id}: {}", commute_text(&report)));
        views.push(serde_json::to_value(CommuteView::new(Some(&id), &report))?);
    }
    Ok((views, findings, text))
}

/// `--schema`: the live schema against the one the database's own rows
/// build on the dev server; the plan from the latter to the former.
fn check_schema(ws: &Workspace, args: &CheckArgs) -> CliResult<(SchemaCheck, Plan)> {
    require_native(ws, "check --schema")?;
    let opts = run_options(ws, &args.db)?;
    let sql = WorkspaceSql(ws);
    let mut conn = connect(ws, &args.db)?;
    let rows = database::version_rows(&mut conn, &opts)?;
    let schema_args = SchemaArgs {
        schemas: args.schema_names.clone(),
        dev_url: args.dev_url.clone(),
    };
    let dev = dev_server(&ws.project.config, &schema_args, "check --schema")?;
    let masked = conn.masked_url().to_string();
    let read = |client: &mut postgres::Client, exclude, side: &str| {
        let options = ReadOptions {
            schemas: args.schema_names.clone(),
            exclude_tables: exclude,
        };
        read_catalog(client, &options).map_err(|source| SourceError::Read {
            side: side.to_string(),
            source,
        })
    };
    let exclude = source::own_tables(&mut conn, &opts.table)?;
    let live = read(conn.client(), exclude, &masked)?;
    let revisions = Revisions {
        graph: &ws.graph,
        sql: &sql,
        options: &opts,
    };
    let side = format!("the revisions applied to {masked}");
    let built = source::built_catalog(
        &dev,
        &revisions,
        Some(&rows),
        &args.schema_names,
        &side,
        |database| source::build_rows(database, &revisions, &rows),
    )?;
    let plan = engine::diff(&built, &live, &DiffOptions::default())?;
    let check = SchemaCheck {
        database: masked,
        rows,
        statements: serde_json::to_value(plan_view(&plan))?,
    };
    Ok((check, plan))
}

/// Every problem of the files and the graph, the heads, and the workspace
/// when there is no problem that stops a database check.
fn file_problems(survey: Survey) -> (Vec<ProblemView>, Vec<String>, Option<Workspace>) {
    let mut problems: Vec<ProblemView> = survey
        .load_problems
        .iter()
        .map(|p| ProblemView::new(ProblemKind::of_load(p), p))
        .collect();
    let mut heads = Vec::new();
    match &survey.graph {
        Ok(g) => {
            // Every head counts, as for `upgrade head`: a head that another
            // revision only depends on still makes `head` ambiguous.
            heads = g.ids(g.heads());
            if heads.len() > 1 {
                let message = format!(
                    "there are {} heads: {}; merge them with 'mergepoint merge heads -m MSG'",
                    heads.len(),
                    heads.join(", ")
                );
                problems.push(ProblemView::new(ProblemKind::MultipleHeads, message));
            }
        }
        Err(errs) => problems.extend(
            errs.problems
                .iter()
                .map(|p| ProblemView::new(ProblemKind::of_graph(p), p)),
        ),
    }
    let workspace = survey.into_workspace().ok();
    (problems, heads, workspace)
}

/// `--database` (and `--repair`): the drift check, with what it found.
fn check_database(
    ws: &Workspace,
    args: &CheckArgs,
) -> CliResult<(DatabaseCheck, Vec<ProblemView>)> {
    let opts = run_options(ws, &args.db)?;
    let sql = WorkspaceSql(ws);
    let mut conn = connect(ws, &args.db)?;
    let mut drift = database::check_drift(&mut conn, &sql, &opts)?;
    let mut repaired = false;
    if args.repair && !drift.repair_sql.is_empty() {
        let ran = database::repair(&mut conn, &sql, &opts)?;
        repaired = true;
        // What is left after the repair (unknown rows are never deleted
        // automatically).
        drift = database::check_drift(&mut conn, &sql, &opts)?;
        drift.repair_sql = ran.repair_sql;
    }
    let findings = drift
        .findings
        .iter()
        .map(|f| ProblemView::new(ProblemKind::of_drift(f), f))
        .collect();
    let check = DatabaseCheck {
        database: conn.masked_url().to_string(),
        rows: drift.rows,
        repair_sql: drift.repair_sql,
        repaired,
    };
    Ok((check, findings))
}

fn write_text(ctx: &mut Ctx, report: &CheckReport) -> CliResult {
    if report.ok {
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
    if let Some(d) = &report.database {
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
    Ok(())
}

/// Exit 0 when clean, 1 when everything found is a finding, else 2.
fn verdict(report: &CheckReport) -> CliResult {
    if report.ok {
        return Ok(());
    }
    let n = report.problems.len();
    let summary = format!("check found {n} problem{}", if n == 1 { "" } else { "s" });
    if report.problems.iter().all(|p| p.kind.is_finding()) {
        let only_heads = report
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::MultipleHeads);
        let hint = if only_heads {
            "merge the heads with 'mergepoint merge heads -m MSG'"
        } else {
            "see each finding for what to do"
        };
        Err(CliError::check_failed(summary).with_hint(hint))
    } else {
        Err(CliError::input(summary).with_hint("fix the problems listed above and run check again"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_their_names() {
        let kind = ProblemKind::LabelIsRevisionId;
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            "\"label_is_revision_id\""
        );
        assert_eq!(kind.to_string(), "label_is_revision_id");
        assert!(ProblemKind::NotAHead.is_finding());
        assert!(!ProblemKind::Cycle.is_finding());
    }
}
