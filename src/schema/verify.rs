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
//! Each revision's up, down and up again go through the runner
//! ([`db::run`]) as one plan of exactly those steps
//! ([`crate::graph::RevisionGraph::plan_steps`]), so the version table and
//! the audit table are kept as on any database, a downgrade at a merge or
//! beside another branch moves that revision only, and the runner's set-up
//! (lock session, pooler check, version table) is paid once per revision;
//! the catalog is read on a second session after each step commits.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::devserver::{DevServer, TempDatabase};
use super::diff::{diff, DiffOptions};
use super::model::{Catalog, QualName};
use super::plan::Plan;
use super::read::{read_catalog, ReadOptions};
use super::source::{own_tables, require_sql, Revisions, SourceError};
use crate::db::{self, Database, DbError, StepSql};
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
    let mut applied = built;
    let mut before = walk.read()?;
    let ids = step_ids(&path);
    for (n, id) in ids.iter().enumerate() {
        let (check, after) = walk.check(id, &before)?;
        applied.push(id.clone());
        let outcome = check.outcome;
        on_check(&check);
        report.checks.push(check);
        match outcome {
            Outcome::UpgradeFailed => {
                report.not_checked = ids[n + 1..].to_vec();
                break;
            }
            Outcome::Ok | Outcome::MissingDowngrade => {}
            Outcome::DowngradeFailed | Outcome::NotRestored | Outcome::ReupgradeFailed => {
                walk.temp = dev.temp_database()?;
                walk.build(&applied, id)?;
            }
        }
        before = after.expect("read after every upgrade that succeeded");
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
    /// steps of one runner call (each step commits before the next).
    reader: Option<Client>,
    exclude: Vec<QualName>,
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
        run_steps(self.temp.database(), self.revisions, &steps, |_, _| {}).map_err(build)?;
        self.exclude =
            own_tables(self.temp.database(), &self.revisions.options.table).map_err(build)?;
        self.reader = Some(self.temp.database().open_session()?);
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

    /// Up, read, down, read, up again, as one runner call (the reads on
    /// the second session after each step commits); then the schema after
    /// the downgrade compared with `before`. Returns the check and, unless
    /// the first upgrade failed, the schema after it.
    fn check(
        &mut self,
        id: &str,
        before: &Catalog,
    ) -> Result<(RevisionCheck, Option<Catalog>), SourceError> {
        let started = Instant::now();
        let mut check = RevisionCheck::new(id);
        let missing = !has_statements(self.revisions.sql, id, Direction::Downgrade)
            && has_statements(self.revisions.sql, id, Direction::Upgrade);
        let steps: &[(Direction, &str)] = if missing {
            &[(Direction::Upgrade, id)]
        } else {
            &[
                (Direction::Upgrade, id),
                (Direction::Downgrade, id),
                (Direction::Upgrade, id),
            ]
        };
        let options = self.read_options();
        let reader = self.reader.as_mut().expect("built before it is checked");
        // After step 1: the schema after the upgrade; after step 2: after
        // the downgrade.
        let mut schemas: Vec<Catalog> = Vec::with_capacity(2);
        let mut read_error = None;
        let mut took: Vec<Duration> = Vec::with_capacity(3);
        let result = run_steps(self.temp.database(), self.revisions, steps, |_, d| {
            took.push(d);
            if took.len() <= 2 && read_error.is_none() {
                match read(reader, &options) {
                    Ok(c) => schemas.push(c),
                    Err(e) => read_error = Some(e),
                }
            }
        });
        if let Some(source) = read_error {
            return Err(SourceError::Read {
                side: self.temp.name().to_string(),
                source,
            });
        }
        check.upgrade = took.first().copied().unwrap_or_default();
        check.downgrade = took.get(1).copied().unwrap_or_default();
        let mut schemas = schemas.into_iter();
        let Some(after) = schemas.next() else {
            check.outcome = Outcome::UpgradeFailed;
            check.error = result.err().map(|e| e.to_string());
            check.total = started.elapsed();
            return Ok((check, None));
        };
        if missing {
            check.outcome = Outcome::MissingDowngrade;
            check.error = Some("the downgrade has no statement".to_string());
        } else if let Some(restored) = schemas.next() {
            let _phase = tracing::debug_span!("verify diff").entered();
            match diff(&restored, before, &DiffOptions::default()) {
                Ok(plan) if plan.is_empty() => {
                    if let Err(e) = result {
                        check.outcome = Outcome::ReupgradeFailed;
                        check.error = Some(e.to_string());
                    }
                }
                // Whatever the second upgrade did.
                Ok(plan) => {
                    check.outcome = Outcome::NotRestored;
                    check.difference = plan;
                }
                Err(e) => {
                    check.outcome = Outcome::NotRestored;
                    check.error = Some(format!(
                        "the schema differs from the one before the upgrade, in a way the diff cannot plan: {e}"
                    ));
                }
            }
        } else {
            check.outcome = Outcome::DowngradeFailed;
            check.error = result.err().map(|e| e.to_string());
        }
        check.total = started.elapsed();
        Ok((check, Some(after)))
    }
}

fn read(client: &mut Client, options: &ReadOptions) -> Result<Catalog, crate::schema::ReadError> {
    let _phase = tracing::debug_span!("verify read").entered();
    read_catalog(client, options)
}

/// Whether the revision's SQL in `direction` holds a statement (comments
/// and blank lines are none).
fn has_statements<S: StepSql>(sql: &S, id: &str, direction: Direction) -> bool {
    sql.step_sql(id, direction)
        .is_some_and(|(text, _)| !crate::sql::split_statements(&text).is_empty())
}

/// Runs exactly `steps`, in order, through the runner in one call
/// ([`crate::graph::RevisionGraph::plan_steps`]); `on_step` after each one
/// committed, with its time as the runner measured it.
fn run_steps<S: StepSql>(
    database: &mut Database,
    revisions: &Revisions<'_, S>,
    steps: &[(Direction, &str)],
    mut on_step: impl FnMut(&Step, Duration),
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
        |step: &Step, d: Duration| on_step(step, d),
    )?;
    Ok(())
}
