//! Downgrade testing (`mergepoint verify`): on a temporary database, walk
//! the upgrade path one revision at a time; after each upgrade, downgrade
//! that one revision and compare the schema with the one before the
//! upgrade (with the schema engine's diff), then upgrade it again (the
//! "stairway": up, down, up) and go on.
//!
//! A revision fails when its upgrade fails (nothing after it can be
//! checked, so the walk stops there), when its downgrade is missing (no
//! statement, while the upgrade has some), when the downgrade fails, when
//! it does not restore the schema (the difference is kept as a plan: the
//! SQL that would bring the schema the downgrade left back to the one
//! before the upgrade, which is what the downgrade lacks), or when the
//! upgrade fails the second time. After a failure other than the upgrade's,
//! the database is built again from empty up to that revision, so the next
//! revision is checked on the schema the upgrades alone build.
//!
//! The walk goes through the runner ([`db::run`]) as one plan of exactly
//! those steps (up, down, up for each revision;
//! [`crate::graph::RevisionGraph::plan_steps`]), so the version table and
//! the audit table are kept as on any database, a downgrade at a merge or
//! beside another branch moves that revision only, and the runner's set-up
//! (lock session, pooler check, version table) is paid once, not once per
//! revision. The catalog is read on a second session after each step
//! commits, with its queries prepared once and planned once for the whole
//! walk; a revision that needs the database built again stops the run
//! ([`db::RunObserver::go_on`]), and the walk goes on with a new one.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::devserver::{DevServer, TempDatabase};
use super::diff::{diff, DiffOptions};
use super::model::{Catalog, QualName};
use super::plan::Plan;
use super::read::{read_catalog_with, ReadOptions, Statements};
use super::source::{own_tables, require_sql, Revisions, SourceError};
use crate::db::{self, Database, DbError, RunObserver, StepSql};
use crate::graph::{Direction, Step};
use postgres::Client;

/// What to walk: the revisions after `from` (all of them when `None`) up
/// to `to`, the schemas compared.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Built first, unchecked: the upgrade path to this identifier.
    pub from: Option<String>,
    /// The identifier the walk ends at (`heads` for every branch).
    pub to: String,
    /// The `--schema` filter of the comparison (every schema when empty).
    pub schemas: Vec<String>,
}

/// How one revision fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Up, down, the schema restored, up again.
    Ok,
    /// The upgrade failed; the walk stops here.
    UpgradeFailed,
    /// The upgrade has statements, the downgrade none.
    MissingDowngrade,
    /// The downgrade failed.
    DowngradeFailed,
    /// The downgrade ran, but the schema differs from the one before the
    /// upgrade.
    NotRestored,
    /// The upgrade failed when run again after the downgrade.
    ReupgradeFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UpgradeFailed => "upgrade_failed",
            Outcome::MissingDowngrade => "missing_downgrade",
            Outcome::DowngradeFailed => "downgrade_failed",
            Outcome::NotRestored => "not_restored",
            Outcome::ReupgradeFailed => "reupgrade_failed",
        }
    }
}

/// One revision's check.
#[derive(Clone, Debug)]
pub struct RevisionCheck {
    pub revision: String,
    pub outcome: Outcome,
    /// What failed: PostgreSQL's message for a failed step, why the
    /// schemas could not be compared for `NotRestored` without a plan.
    pub error: Option<String>,
    /// `NotRestored`: the SQL from the schema the downgrade left to the one
    /// before the upgrade (what the downgrade lacks).
    pub difference: Plan,
    /// The first upgrade's time, as the runner measured the step.
    pub upgrade: Duration,
    /// The downgrade's time (zero when it did not run).
    pub downgrade: Duration,
    /// The whole check: both upgrades, the downgrade, the catalog reads
    /// and the diff (not a rebuild after a failure).
    pub total: Duration,
}

impl RevisionCheck {
    fn new(revision: &str) -> RevisionCheck {
        RevisionCheck {
            revision: revision.to_string(),
            outcome: Outcome::Ok,
            error: None,
            difference: Plan::default(),
            upgrade: Duration::ZERO,
            downgrade: Duration::ZERO,
            total: Duration::ZERO,
        }
    }
}

/// The walk's result: every revision checked, in order.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub checks: Vec<RevisionCheck>,
    /// The revisions built before the first checked one (`--from`).
    pub built: usize,
    /// Revisions of the path left unchecked after an upgrade failed.
    pub not_checked: Vec<String>,
}

impl VerifyReport {
    pub fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.outcome != Outcome::Ok)
            .count()
    }
}

/// Walks the revisions of `options` on a temporary database of `dev`,
/// calling `on_check` after each revision (for output as it goes). Errors
/// are the walk's own (an identifier that does not resolve, revisions
/// without SQL, the dev server, a schema that cannot be read); what the
/// revisions do wrong is in the report.
pub fn verify<S: StepSql>(
    dev: &DevServer,
    revisions: &Revisions<'_, S>,
    options: &VerifyOptions,
    on_check: &mut dyn FnMut(&RevisionCheck),
) -> Result<VerifyReport, SourceError> {
    let graph = revisions.graph;
    let resolve = |ident: &str| {
        let ident = ident.to_string();
        move |source| SourceError::Resolve { ident, source }
    };
    let (built, start) = match &options.from {
        Some(from) => {
            let plan = graph.plan_upgrade(&[], from).map_err(resolve(from))?;
            (step_ids(&plan), plan.end_heads)
        }
        None => (Vec::new(), Vec::new()),
    };
    let path = graph
        .plan_upgrade(&start, &options.to)
        .map_err(resolve(&options.to))?;
    require_sql(&path.steps, revisions, &options.to)?;
    let mut walk = Walk {
        revisions,
        schemas: &options.schemas,
        temp: dev.temp_database()?,
        reader: None,
        exclude: Vec::new(),
    };
    let from_ident = options.from.as_deref().unwrap_or("base");
    walk.build(&built, from_ident)?;
    let mut report = VerifyReport {
        built: built.len(),
        ..VerifyReport::default()
    };
    let ids = step_ids(&path);
    let missing: Vec<bool> = ids
        .iter()
        .map(|id| {
            !has_statements(revisions.sql, id, Direction::Downgrade)
                && has_statements(revisions.sql, id, Direction::Upgrade)
        })
        .collect();
    let mut before = walk.read()?;
    let mut next = 0;
    while next < ids.len() {
        let stretch = walk.check_stretch(&ids[next..], &missing[next..], before, on_check)?;
        next += stretch.checks.len();
        let last = stretch.checks.last().map(|c| c.outcome);
        report.checks.extend(stretch.checks);
        before = stretch.before;
        match last {
            Some(Outcome::UpgradeFailed) => {
                report.not_checked = ids[next..].to_vec();
                break;
            }
            // A failure other than the upgrade's: the next revision is
            // checked on the schema the upgrades alone build.
            Some(Outcome::DowngradeFailed | Outcome::NotRestored | Outcome::ReupgradeFailed)
                if next < ids.len() =>
            {
                let applied: Vec<String> = built.iter().chain(&ids[..next]).cloned().collect();
                walk.temp = dev.temp_database()?;
                walk.build(&applied, &ids[next - 1])?;
            }
            _ => {}
        }
    }
    Ok(report)
}

fn step_ids(plan: &crate::graph::Plan) -> Vec<String> {
    plan.steps.iter().map(|s| s.revision.clone()).collect()
}

/// The temporary database and what reading it needs.
struct Walk<'a, 'r, S: StepSql> {
    revisions: &'a Revisions<'r, S>,
    schemas: &'a [String],
    temp: TempDatabase,
    /// A second session on `temp`: the catalog is read on it between the
    /// steps of a runner call (each step commits before the next), with
    /// the catalog queries it has prepared.
    reader: Option<(Client, Statements)>,
    exclude: Vec<QualName>,
}

/// What one runner call over a stretch of the walk checked.
struct Stretch {
    /// In order; the last one may have ended the stretch (a failure).
    checks: Vec<RevisionCheck>,
    /// The schema after the last checked revision's first upgrade (the
    /// one the next revision starts from).
    before: Catalog,
}

impl<S: StepSql> Walk<'_, '_, S> {
    /// Upgrades `ids`, in one runner call, on the (empty) temporary
    /// database; a failure names `ident`, the point being built.
    fn build(&mut self, ids: &[String], ident: &str) -> Result<(), SourceError> {
        let build = |source| SourceError::Build {
            ident: ident.to_string(),
            source: Box::new(source),
        };
        let steps: Vec<(Direction, &str)> = ids
            .iter()
            .map(|id| (Direction::Upgrade, id.as_str()))
            .collect();
        run_steps(
            self.temp.database(),
            self.revisions,
            &steps,
            |_: &Step, _| {},
        )
        .map_err(build)?;
        self.exclude =
            own_tables(self.temp.database(), &self.revisions.options.table).map_err(build)?;
        self.reader = Some((self.temp.database().open_session()?, Statements::default()));
        Ok(())
    }

    fn read_options(&self) -> ReadOptions {
        ReadOptions {
            schemas: self.schemas.to_vec(),
            exclude_tables: self.exclude.clone(),
        }
    }

    fn read(&mut self) -> Result<Catalog, SourceError> {
        let options = self.read_options();
        let side = self.temp.name().to_string();
        let reader = self.reader.as_mut().expect("built before it is read");
        read(reader, &options).map_err(|source| SourceError::Read { side, source })
    }

    /// Checks `ids` (up, read, down, read, up again each; only up when
    /// `missing` says the downgrade has no statement) in one runner call,
    /// which stops at the first revision that needs the database built
    /// again or ends the walk.
    fn check_stretch(
        &mut self,
        ids: &[String],
        missing: &[bool],
        before: Catalog,
        on_check: &mut dyn FnMut(&RevisionCheck),
    ) -> Result<Stretch, SourceError> {
        let options = self.read_options();
        let mut steps: Vec<(Direction, &str)> = Vec::with_capacity(3 * ids.len());
        for (id, &missing) in ids.iter().zip(missing) {
            steps.push((Direction::Upgrade, id));
            if !missing {
                steps.push((Direction::Downgrade, id));
                steps.push((Direction::Upgrade, id));
            }
        }
        let mut stairway = Stairway {
            ids,
            missing,
            reader: self.reader.as_mut().expect("built before it is checked"),
            options: &options,
            on_check,
            phase: Phase::Upgrade,
            check: RevisionCheck::new(&ids[0]),
            started: Instant::now(),
            before,
            after: None,
            checks: Vec::new(),
            stop: false,
            read_error: None,
        };
        let result = run_steps(self.temp.database(), self.revisions, &steps, &mut stairway);
        if let Some(source) = stairway.read_error {
            return Err(SourceError::Read {
                side: self.temp.name().to_string(),
                source,
            });
        }
        if let Err(e) = result {
            if stairway.checks.len() == ids.len() {
                // Every step ran; what failed came after them.
                return Err(SourceError::Build {
                    ident: ids[ids.len() - 1].clone(),
                    source: Box::new(e),
                });
            }
            stairway.check.outcome = match stairway.phase {
                Phase::Upgrade => Outcome::UpgradeFailed,
                Phase::Downgrade => Outcome::DowngradeFailed,
                Phase::Reupgrade => Outcome::ReupgradeFailed,
            };
            stairway.check.error = Some(step_error(&e));
            stairway.finish();
        }
        Ok(Stretch {
            checks: stairway.checks,
            before: stairway.before,
        })
    }
}

/// The step the runner does next for the revision being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Upgrade,
    Downgrade,
    Reupgrade,
}

/// Follows one runner call over a stretch of the walk: after each step it
/// reads the schema (after the first upgrade, after the downgrade),
/// compares it, finishes each revision's check, and stops the run when a
/// revision needs the database built again.
struct Stairway<'a> {
    ids: &'a [String],
    missing: &'a [bool],
    reader: &'a mut (Client, Statements),
    options: &'a ReadOptions,
    on_check: &'a mut dyn FnMut(&RevisionCheck),
    /// The revision being checked is `ids[checks.len()]`.
    phase: Phase,
    check: RevisionCheck,
    started: Instant,
    /// The schema before the current revision's upgrade, and after it.
    before: Catalog,
    after: Option<Catalog>,
    checks: Vec<RevisionCheck>,
    stop: bool,
    read_error: Option<crate::schema::ReadError>,
}

impl Stairway<'_> {
    fn read(&mut self) -> Option<Catalog> {
        match read(self.reader, self.options) {
            Ok(catalog) => Some(catalog),
            Err(e) => {
                self.read_error = Some(e);
                self.stop = true;
                None
            }
        }
    }

    /// The current revision's check is complete: reported, and the next
    /// revision (if any) starts from the schema after this one's upgrade.
    fn finish(&mut self) {
        let n = self.checks.len() + 1;
        let next = RevisionCheck::new(self.ids.get(n).map_or("", String::as_str));
        let mut check = std::mem::replace(&mut self.check, next);
        check.total = self.started.elapsed();
        (self.on_check)(&check);
        self.checks.push(check);
        if let Some(after) = self.after.take() {
            self.before = after;
        }
        self.phase = Phase::Upgrade;
        self.started = Instant::now();
    }

    /// After the downgrade: the schema compared with the one before the
    /// upgrade; `false` when the revision failed (the check is finished).
    fn restored(&mut self, restored: &Catalog) -> bool {
        let _phase = tracing::debug_span!("verify diff").entered();
        match diff(restored, &self.before, &DiffOptions::default()) {
            Ok(plan) if plan.is_empty() => return true,
            Ok(plan) => self.check.difference = plan,
            Err(e) => {
                self.check.error = Some(format!(
                    "the schema differs from the one before the upgrade, in a way the diff cannot plan: {e}"
                ))
            }
        }
        self.check.outcome = Outcome::NotRestored;
        false
    }
}

impl RunObserver for &mut Stairway<'_> {
    fn step_done(&mut self, _step: &Step, took: Duration) {
        if self.stop {
            return;
        }
        match self.phase {
            Phase::Upgrade => {
                self.check.upgrade = took;
                let Some(after) = self.read() else { return };
                self.after = Some(after);
                if self.missing[self.checks.len()] {
                    self.check.outcome = Outcome::MissingDowngrade;
                    self.check.error = Some("the downgrade has no statement".to_string());
                    self.finish();
                } else {
                    self.phase = Phase::Downgrade;
                }
            }
            Phase::Downgrade => {
                self.check.downgrade = took;
                let Some(restored) = self.read() else { return };
                if self.restored(&restored) {
                    self.phase = Phase::Reupgrade;
                } else {
                    self.finish();
                    self.stop = true;
                }
            }
            Phase::Reupgrade => self.finish(),
        }
    }

    fn go_on(&mut self) -> bool {
        !self.stop
    }
}

/// What a failed step says in its revision's check: the step and the
/// server's message, and whether partial effects may remain, without the
/// runner's account of the run (in a walk, every step before this one).
fn step_error(e: &DbError) -> String {
    match e {
        DbError::StepFailed(f) => {
            let mut text = format!(
                "{} of revision {} failed: {}",
                f.direction.as_str(),
                f.revision,
                f.message
            );
            if f.may_have_partial_effects() {
                text.push_str(
                    "\n(it is non-transactional or ended its transaction: partial effects may remain)",
                );
            }
            text
        }
        other => other.to_string(),
    }
}

fn read(
    (client, statements): &mut (Client, Statements),
    options: &ReadOptions,
) -> Result<Catalog, crate::schema::ReadError> {
    let _phase = tracing::debug_span!("verify read").entered();
    read_catalog_with(client, statements, options)
}

/// Whether the revision's SQL in `direction` holds a statement (comments
/// and blank lines are none).
fn has_statements<S: StepSql>(sql: &S, id: &str, direction: Direction) -> bool {
    sql.step_sql(id, direction)
        .is_some_and(|(text, _)| !crate::sql::split_statements(&text).is_empty())
}

/// Runs exactly `steps`, in order, through the runner in one call
/// ([`crate::graph::RevisionGraph::plan_steps`]), `observer` told of each
/// step as it commits.
fn run_steps<S: StepSql>(
    database: &mut Database,
    revisions: &Revisions<'_, S>,
    steps: &[(Direction, &str)],
    observer: impl RunObserver,
) -> Result<(), DbError> {
    if steps.is_empty() {
        return Ok(());
    }
    let _phase = tracing::debug_span!("verify steps").entered();
    db::run(
        database,
        revisions.graph,
        revisions.sql,
        revisions.options,
        |g: &crate::graph::RevisionGraph, rows: &[String]| g.plan_steps(rows, steps),
        observer,
    )?;
    Ok(())
}
