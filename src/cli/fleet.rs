/*!
Fleets on the command line: `upgrade` / `downgrade` / `current` with
`--targets FILE`, `--targets-query SQL` or `--schemas`, `--jobs N` and
`--fail-fast`.

[`TargetArgs`] are the options; [`load`] turns them into the targets
([`crate::db::fleet::targets`] reads the list); [`run_move`] and
[`run_current`] run every target through [`crate::db::fleet::for_each`]
and print one line (or JSON event) per target as it finishes, then the
summary table. The pure part, from the results to the table and the exit
code ([`Row`], [`table`], [`verdict`]), is unit-tested here.

Exit codes: 0 when every target succeeded; 3 when some target failed, or
4 when every failure was a lock timeout (another runner holds the lock of
those targets: running again later is all it takes); 2 for a bad target
list, before any target is contacted.
*/

use super::database::{self, admin_url, json_line, ms, notice_lines, DbArgs, WorkspaceSql};
use super::error::{CliError, CliResult, ErrorKind};
use super::{Ctx, Workspace};
use crate::db::fleet::targets::{self, LineError, TargetKind};
use crate::db::fleet::{self, FleetOptions, Target, TargetRun};
use crate::db::{Notice, RunOptions};
use crate::graph::{Direction, RevisionGraph};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the targets of a fleet run come from, and how many run at once.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Fleet (many databases or schemas; see docs/database.md#fleets)")]
pub struct TargetArgs {
    /// Run on every target listed in FILE, one per line: a URL, key=value
    /// settings, or a database name (put into --database-url); `LABEL:
    /// TARGET` names one; `#` comment lines and blank lines are skipped.
    #[arg(long, value_name = "FILE", conflicts_with = "targets_query")]
    pub targets: Option<PathBuf>,
    /// Run on the targets this SQL lists: run read-only against
    /// --database-url, it returns one column of URLs, key=value settings
    /// or database names (put into --database-url).
    #[arg(long, value_name = "SQL")]
    pub targets_query: Option<String>,
    /// The targets are schemas of the --database-url database (one per
    /// tenant): each runs with search_path and the version table in its
    /// schema.
    #[arg(long)]
    pub schemas: bool,
    /// Targets run at once, each on its own connections under its own
    /// lock [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
}

impl TargetArgs {
    /// True when a target list is given: the command runs on a fleet.
    pub fn is_fleet(&self) -> bool {
        self.targets.is_some() || self.targets_query.is_some()
    }

    /// Refuses fleet options without a target list (`--fail-fast` too,
    /// for the commands that have it).
    pub fn check(&self, fail_fast: bool) -> CliResult {
        if self.is_fleet() {
            return Ok(());
        }
        let given: Vec<&str> = [
            (self.schemas, "--schemas"),
            (self.jobs.is_some(), "--jobs"),
            (fail_fast, "--fail-fast"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if given.is_empty() {
            return Ok(());
        }
        Err(CliError::input(format!(
            "{} only apply to a fleet run, and no targets are given",
            given.join(", ")
        ))
        .with_hint("list the targets with --targets FILE or --targets-query SQL"))
    }

    fn options(&self, fail_fast: bool) -> FleetOptions {
        FleetOptions {
            jobs: usize::from(self.jobs.unwrap_or(1)),
            fail_fast,
        }
    }
}

/// The targets the options name, checked: a bad line is exit 2 naming the
/// file and line, before any target is contacted.
pub fn load(ws: &Workspace, args: &TargetArgs, db: &DbArgs) -> CliResult<Vec<Target>> {
    let kind = if args.schemas {
        TargetKind::Schemas
    } else {
        TargetKind::Databases
    };
    if args.schemas && db.version_table_schema.is_some() {
        return Err(CliError::input(
            "--schemas keeps each target's version table in the target's own schema, so --version-table-schema cannot be used with it",
        )
        .with_hint("drop --version-table-schema"));
    }
    let admin = admin_url(&ws.project, db);
    let (lines, source) = if let Some(path) = &args.targets {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::input(format!(
                "cannot read the targets file {}: {e}",
                path.display()
            ))
        })?;
        let source = path.display().to_string();
        (
            targets::parse_lines(&text, kind).map_err(|e| bad_lines(&source, &e))?,
            source,
        )
    } else if let Some(sql) = &args.targets_query {
        admin.clone()?;
        let mut conn = database::connect(ws, db)?;
        let values = database::query_targets(&mut conn, sql)?;
        let source = "the --targets-query result".to_string();
        (
            targets::parse_rows(&values, kind).map_err(|e| bad_lines(&source, &e))?,
            source,
        )
    } else {
        return Err(CliError::input("no targets given"));
    };
    if lines.is_empty() {
        return Err(CliError::input(format!("{source} lists no targets"))
            .with_hint("list one target per line: a URL, key=value settings or a database name"));
    }
    let admin = admin.ok();
    targets::resolve(&lines, admin.as_deref()).map_err(|e| bad_lines(&source, &[e]))
}

/// Exit 2 naming every bad line of `source`.
fn bad_lines(source: &str, errors: &[LineError]) -> CliError {
    let mut message = format!("{source} has {} bad line(s):", errors.len());
    for e in errors {
        message.push_str(&format!("\n  {source}:{e}"));
    }
    CliError::input(message).with_hint(
        "each line is a URL (postgresql://...), key=value settings, or a database name (a schema name with --schemas), optionally after 'LABEL: '; '#' starts a comment line",
    )
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Its error, as the user would see it for one database.
    Failed(CliError),
    /// Not started (`--fail-fast`, after a failure).
    Skipped,
}

/// One target's line of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    /// The target's line in the target list.
    pub line: usize,
    /// The masked connection string.
    pub database: String,
    pub schema: Option<String>,
    pub from: Option<Vec<String>>,
    pub to: Option<Vec<String>>,
    pub steps: usize,
    pub took: Duration,
    pub outcome: Outcome,
}

impl Row {
    /// A target not started.
    fn skipped(target: &Target) -> Row {
        Row {
            name: target.name.clone(),
            line: target.line,
            database: target.masked_url(),
            schema: target.schema.clone(),
            from: None,
            to: None,
            steps: 0,
            took: Duration::ZERO,
            outcome: Outcome::Skipped,
        }
    }

    /// A target's run, its error as the user would see it.
    fn of_run(target: &Target, run: TargetRun) -> Row {
        Row {
            from: run.from,
            to: run.to,
            steps: run.steps,
            took: run.took,
            outcome: match run.error {
                None => Outcome::Ok,
                Some(e) => Outcome::Failed(CliError::from(e)),
            },
            ..Row::skipped(target)
        }
    }

    fn outcome_word(&self) -> &'static str {
        match &self.outcome {
            Outcome::Ok => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped => "skipped",
        }
    }

    /// The progress line: `ok  <target>  <from> -> <to>  N steps  T ms` or
    /// `FAILED <target>: <error's first line>`.
    pub fn progress_line(&self) -> String {
        match &self.outcome {
            Outcome::Failed(e) => format!("FAILED {}: {}", self.name, first_line(&e.message)),
            _ => format!(
                "ok  {}  {} -> {}  {}  {} ms",
                self.name,
                rows_text(self.from.as_deref()),
                rows_text(self.to.as_deref()),
                steps_text(self.steps),
                self.took.as_millis()
            ),
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn steps_text(n: usize) -> String {
    if n == 1 {
        "1 step".to_string()
    } else {
        format!("{n} steps")
    }
}

/// Version-table rows as shown: comma-separated, `base` for none, `?`
/// when they could not be read.
fn rows_text(rows: Option<&[String]>) -> String {
    match rows {
        None => "?".to_string(),
        Some([]) => "base".to_string(),
        Some(r) => r.join(","),
    }
}

/// Lines of columns, each padded to its widest cell.
fn columns(lines: &[Vec<String>]) -> String {
    let n = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// The summary table of a move: target, from, to, steps, time, outcome,
/// in target-list order, then the counts.
pub fn table(rows: &[Row], took: Duration) -> String {
    let mut lines = vec![vec![
        "target".to_string(),
        "from".to_string(),
        "to".to_string(),
        "steps".to_string(),
        "time".to_string(),
        "outcome".to_string(),
    ]];
    for r in rows {
        let skipped = r.outcome == Outcome::Skipped;
        let dash = || "-".to_string();
        lines.push(vec![
            r.name.clone(),
            if skipped {
                dash()
            } else {
                rows_text(r.from.as_deref())
            },
            if skipped {
                dash()
            } else {
                rows_text(r.to.as_deref())
            },
            if skipped { dash() } else { r.steps.to_string() },
            if skipped {
                dash()
            } else {
                format!("{} ms", r.took.as_millis())
            },
            match &r.outcome {
                Outcome::Ok => "ok".to_string(),
                Outcome::Failed(e) if e.kind == ErrorKind::LockTimeout => {
                    "FAILED (lock timeout)".to_string()
                }
                Outcome::Failed(_) => "FAILED".to_string(),
                Outcome::Skipped => "skipped (--fail-fast)".to_string(),
            },
        ]);
    }
    let mut out = columns(&lines);
    let count = |w: &str| rows.iter().filter(|r| r.outcome_word() == w).count();
    out.push_str(&format!(
        "{} target(s): {} ok, {} failed, {} skipped; {} ms\n",
        rows.len(),
        count("ok"),
        count("failed"),
        count("skipped"),
        took.as_millis()
    ));
    out
}

/// Names, at most ten, then how many more.
fn some_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    let mut text = names
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 10 {
        text.push_str(&format!(" and {} more", names.len() - 10));
    }
    text
}

/// The exit of a move: `Ok` when every target succeeded; else exit 3, or
/// 4 when every failure was a lock timeout, naming the failed targets.
pub fn verdict(rows: &[Row]) -> CliResult {
    let failed: Vec<&Row> = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let all_locks = failed
        .iter()
        .all(|r| matches!(&r.outcome, Outcome::Failed(e) if e.kind == ErrorKind::LockTimeout));
    let skipped = rows
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .count();
    let mut message = format!(
        "{} of {} targets failed: {}",
        failed.len(),
        rows.len(),
        some_names(failed.iter().map(|r| r.name.as_str()))
    );
    if skipped > 0 {
        message.push_str(&format!("; {skipped} not started (--fail-fast)"));
    }
    let kind = if all_locks {
        ErrorKind::LockTimeout
    } else {
        ErrorKind::Database
    };
    Err(CliError::new(kind, message)
        .with_hint("each failed target's error is above; the others are done")
        .with_hint(
            "run the same command again once fixed: targets already there have nothing to do",
        ))
}

/// One line of a fleet's `--json`: a target that finished (or, at the
/// end, one never started).
#[derive(Debug, Serialize)]
struct TargetEvent<'a> {
    /// Always `"target"`.
    #[serde(rename = "type")]
    kind: &'static str,
    target: &'a str,
    line: usize,
    database: &'a str,
    schema: Option<&'a str>,
    /// `ok`, `failed` or `skipped`.
    outcome: &'static str,
    from: Option<&'a [String]>,
    to: Option<&'a [String]>,
    steps: usize,
    duration_ms: f64,
    error: Option<&'a str>,
    /// What this target alone would exit with.
    exit_code: u8,
}

impl<'a> TargetEvent<'a> {
    fn of(r: &'a Row) -> Self {
        let error = match &r.outcome {
            Outcome::Failed(e) => Some(e),
            _ => None,
        };
        TargetEvent {
            kind: "target",
            target: &r.name,
            line: r.line,
            database: &r.database,
            schema: r.schema.as_deref(),
            outcome: r.outcome_word(),
            from: r.from.as_deref(),
            to: r.to.as_deref(),
            steps: r.steps,
            duration_ms: ms(r.took),
            error: error.map(|e| e.message.as_str()),
            exit_code: error.map_or(0, CliError::exit_code),
        }
    }
}

/// The last line of a fleet's `--json`.
#[derive(Debug, Serialize)]
struct FleetSummary<'a> {
    /// Always `"summary"`.
    #[serde(rename = "type")]
    kind: &'static str,
    command: &'static str,
    target: &'a str,
    targets: usize,
    ok: usize,
    failed: usize,
    skipped: usize,
    jobs: usize,
    duration_ms: f64,
}

/// What a fleet move needs besides the targets.
pub struct MoveRequest<'a> {
    pub direction: Direction,
    pub ident: &'a str,
    pub opts: &'a RunOptions,
    pub json: bool,
    pub fail_fast: bool,
}

/// `upgrade` / `downgrade` on every target.
pub fn run_move(
    ctx: &mut Ctx,
    ws: &Workspace,
    args: &TargetArgs,
    db: &DbArgs,
    req: MoveRequest,
) -> CliResult {
    let targets = load(ws, args, db)?;
    let started = Instant::now();
    let sql = WorkspaceSql(ws);
    let fleet_opts = args.options(req.fail_fast);
    let mut write_error = None;
    let out = &mut *ctx.out;
    let results = fleet::for_each(
        targets.len(),
        fleet_opts,
        |i| {
            let target = &targets[i];
            let notice = |n: &Notice| {
                for line in notice_lines(n) {
                    eprintln!("note: {}: {line}", target.name);
                }
            };
            let run =
                database::move_target(target, &sql, req.direction, req.ident, req.opts, &notice);
            Row::of_run(target, run)
        },
        |row| matches!(row.outcome, Outcome::Failed(_)),
        |_, row| {
            let written = if req.json {
                json_line(out, &TargetEvent::of(row))
            } else {
                writeln!(out, "{}", row.progress_line()).and_then(|_| out.flush())
            };
            if let Err(e) = written {
                write_error.get_or_insert(e);
            }
        },
    );
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let rows: Vec<Row> = targets
        .iter()
        .zip(results)
        .map(|(t, r)| r.unwrap_or_else(|| Row::skipped(t)))
        .collect();
    let took = started.elapsed();
    if req.json {
        for r in rows.iter().filter(|r| r.outcome == Outcome::Skipped) {
            json_line(ctx.out, &TargetEvent::of(r))?;
        }
        let count = |w: &str| rows.iter().filter(|r| r.outcome_word() == w).count();
        let summary = FleetSummary {
            kind: "summary",
            command: req.direction.as_str(),
            target: req.ident,
            targets: rows.len(),
            ok: count("ok"),
            failed: count("failed"),
            skipped: count("skipped"),
            jobs: fleet_opts.jobs,
            duration_ms: ms(took),
        };
        json_line(ctx.out, &summary)?;
    } else {
        writeln!(ctx.out)?;
        write!(ctx.out, "{}", table(&rows, took))?;
        ctx.out.flush()?;
    }
    report_failures(&rows);
    verdict(&rows)
}

/// Each failed target's whole error and hints, on stderr, in list order.
fn report_failures(rows: &[Row]) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    for r in rows {
        if let Outcome::Failed(e) = &r.outcome {
            let _ = writeln!(err, "error: {}: {}", r.name, e.message);
            for h in &e.hints {
                let _ = writeln!(err, "hint: {h}");
            }
        }
    }
}

/// One target in `current --targets --json`.
#[derive(Debug, Serialize)]
struct CurrentTarget<'a> {
    target: &'a str,
    line: usize,
    database: String,
    schema: Option<&'a str>,
    /// Version-table rows, sorted; null when they could not be read.
    rows: Option<Vec<String>>,
    /// Rows naming no revision of the revisions directory.
    unknown: Vec<String>,
    at_heads: Option<bool>,
    error: Option<String>,
}

/// `current --targets --json`: one document.
#[derive(Debug, Serialize)]
struct CurrentFleet<'a> {
    /// The rows of a database at every graph head.
    heads: &'a [String],
    targets: Vec<CurrentTarget<'a>>,
}

/// What a fleet `current` needs besides the targets.
pub struct CurrentRequest<'a> {
    pub opts: &'a RunOptions,
    /// The rows of a database at every graph head.
    pub heads: &'a [String],
    pub json: bool,
    pub check_heads: bool,
}

/// `current` on every target: a table (or one JSON document) of where
/// each stands; exit 3 when some could not be read, else with
/// `check_heads` exit 1 when some are not at the heads.
pub fn run_current(
    ctx: &mut Ctx,
    ws: &Workspace,
    args: &TargetArgs,
    db: &DbArgs,
    req: CurrentRequest,
) -> CliResult {
    let CurrentRequest {
        opts,
        heads,
        json,
        check_heads,
    } = req;
    let targets = load(ws, args, db)?;
    let results = fleet::for_each(
        targets.len(),
        args.options(false),
        |i| database::read_target(&targets[i], opts).map_err(CliError::from),
        |_| false,
        |_, _| {},
    );
    let g: &RevisionGraph = &ws.graph;
    let entries: Vec<CurrentTarget> = targets
        .iter()
        .zip(results)
        .map(|(t, r)| {
            let r = r.unwrap_or_else(|| Err(CliError::input("not run")));
            let (rows, error) = match r {
                Ok(rows) => (Some(rows), None),
                Err(e) => (None, Some(e.message)),
            };
            CurrentTarget {
                target: &t.name,
                line: t.line,
                database: t.masked_url(),
                schema: t.schema.as_deref(),
                unknown: rows
                    .iter()
                    .flatten()
                    .filter(|r| g.find(r).is_none())
                    .cloned()
                    .collect(),
                at_heads: rows.as_ref().map(|r| r == heads),
                rows,
                error,
            }
        })
        .collect();
    let failed: Vec<&str> = entries
        .iter()
        .filter(|e| e.error.is_some())
        .map(|e| e.target)
        .collect();
    let behind: Vec<&str> = entries
        .iter()
        .filter(|e| e.at_heads == Some(false))
        .map(|e| e.target)
        .collect();
    let total = entries.len();
    if json {
        ctx.json(&CurrentFleet {
            heads,
            targets: entries,
        })?;
    } else {
        write_current_table(ctx, &entries, heads, behind.len(), failed.len())?;
    }
    if !failed.is_empty() {
        return Err(CliError::new(
            ErrorKind::Database,
            format!(
                "{} of {total} targets could not be read: {}",
                failed.len(),
                some_names(failed.into_iter())
            ),
        ));
    }
    if check_heads && !behind.is_empty() {
        return Err(CliError::check_failed(format!(
            "{} of {total} targets are not at the graph's heads ({}): {}",
            behind.len(),
            rows_text(Some(heads)),
            some_names(behind.into_iter())
        ))
        .with_hint("run 'mergepoint upgrade heads' with the same targets"));
    }
    Ok(())
}

fn write_current_table(
    ctx: &mut Ctx,
    entries: &[CurrentTarget],
    heads: &[String],
    behind: usize,
    failed: usize,
) -> CliResult {
    let mut lines = vec![vec![
        "target".to_string(),
        "current".to_string(),
        "status".to_string(),
    ]];
    for e in entries {
        let status = match (&e.error, e.at_heads) {
            (Some(err), _) => format!("FAILED: {}", first_line(err)),
            (None, Some(true)) => "at heads".to_string(),
            _ if !e.unknown.is_empty() => {
                "not at heads (rows not in the revisions directory)".to_string()
            }
            _ => "not at heads".to_string(),
        };
        lines.push(vec![
            e.target.to_string(),
            rows_text(e.rows.as_deref()),
            status,
        ]);
    }
    write!(ctx.out, "{}", columns(&lines))?;
    writeln!(
        ctx.out,
        "{} target(s): {} at heads ({}), {behind} not at heads, {failed} failed",
        entries.len(),
        entries.len() - failed - behind,
        rows_text(Some(heads)),
    )?;
    for e in entries {
        if let Some(err) = &e.error {
            eprintln!("error: {}: {err}", e.target);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, from: &[&str], to: &[&str], steps: usize, outcome: Outcome) -> Row {
        let v = |r: &[&str]| Some(r.iter().map(|s| s.to_string()).collect());
        Row {
            name: name.to_string(),
            line: 1,
            database: format!("postgresql://app:***@h/{name}"),
            schema: None,
            from: v(from),
            to: v(to),
            steps,
            took: Duration::from_millis(12),
            outcome,
        }
    }

    fn failed(kind: ErrorKind, message: &str) -> Outcome {
        Outcome::Failed(CliError::new(kind, message))
    }

    #[test]
    fn progress_lines_say_from_to_steps_and_time_or_the_errors_first_line() {
        let ok = row("t1", &[], &["bbbb"], 2, Outcome::Ok);
        assert_eq!(ok.progress_line(), "ok  t1  base -> bbbb  2 steps  12 ms");
        let one = row("t2", &["aaaa"], &["bbbb", "cccc"], 1, Outcome::Ok);
        assert_eq!(
            one.progress_line(),
            "ok  t2  aaaa -> bbbb,cccc  1 step  12 ms"
        );
        let bad = row(
            "t3",
            &[],
            &["aaaa"],
            1,
            failed(
                ErrorKind::Database,
                "upgrade of bbbb failed\nIts transaction was rolled back",
            ),
        );
        assert_eq!(bad.progress_line(), "FAILED t3: upgrade of bbbb failed");
    }

    #[test]
    fn the_table_lists_every_target_in_order_then_the_counts() {
        let mut unread = row("unreachable", &[], &[], 0, failed(ErrorKind::Database, "x"));
        unread.from = None;
        unread.to = None;
        let rows = vec![
            row("first", &[], &["bbbb"], 2, Outcome::Ok),
            unread,
            row(
                "locked",
                &[],
                &[],
                0,
                failed(ErrorKind::LockTimeout, "lock"),
            ),
            Row::skipped(&Target {
                line: 4,
                name: "later".into(),
                url: "postgresql://h/later".into(),
                schema: None,
            }),
        ];
        assert_eq!(
            table(&rows, Duration::from_millis(40)),
            "\
target       from  to    steps  time   outcome
first        base  bbbb  2      12 ms  ok
unreachable  ?     ?     0      12 ms  FAILED
locked       base  base  0      12 ms  FAILED (lock timeout)
later        -     -     -      -      skipped (--fail-fast)
4 target(s): 1 ok, 2 failed, 1 skipped; 40 ms
"
        );
    }

    #[test]
    fn the_exit_is_0_all_ok_4_only_lock_timeouts_else_3() {
        let ok = row("a", &[], &["b"], 1, Outcome::Ok);
        assert_eq!(verdict(std::slice::from_ref(&ok)), Ok(()));
        let locked = row("l", &[], &[], 0, failed(ErrorKind::LockTimeout, "lock"));
        let e = verdict(&[ok.clone(), locked.clone()]).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert_eq!(e.message, "1 of 2 targets failed: l");
        let broken = row("x", &[], &[], 0, failed(ErrorKind::Database, "boom"));
        let mut skipped = ok.clone();
        skipped.outcome = Outcome::Skipped;
        let e = verdict(&[ok, locked, broken, skipped]).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.message,
            "2 of 4 targets failed: l, x; 1 not started (--fail-fast)"
        );
    }

    #[test]
    fn long_lists_of_names_are_cut_at_ten() {
        let names: Vec<String> = (1..=13).map(|i| format!("t{i}")).collect();
        assert_eq!(
            some_names(names.iter().map(String::as_str)),
            "t1, t2, t3, t4, t5, t6, t7, t8, t9, t10 and 3 more"
        );
    }

    #[test]
    fn fleet_options_need_a_target_list() {
        let args = TargetArgs {
            schemas: true,
            jobs: Some(4),
            ..TargetArgs::default()
        };
        let e = args.check(true).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.message
                .starts_with("--schemas, --jobs, --fail-fast only apply"),
            "{e}"
        );
        assert_eq!(TargetArgs::default().check(false), Ok(()));
    }
}
