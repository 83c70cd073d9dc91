//! `check --database`: compare the database with the revisions directory.
//! Finds revisions whose upgrade or downgrade SQL changed after they were
//! applied (checksum drift), version-table ids the graph does not know,
//! rows that are not a valid set of heads, repeated rows and a version
//! table without its primary key. Produces the exact repair SQL; [`repair`]
//! runs it.

use super::audit::sql_sha256;
use super::catalog::{self, table_exists, version_rows_are_unique};
use super::conn::Database;
use super::error::{DbError, VersionTableProblem};
use super::lease::RunLock;
use super::names::{quote_ident, quote_literal, VersionTable, HISTORY_TABLE};
use super::runner::RunOptions;
use super::step_sql::StepSql;
use super::version::{all_rows, validate_rows};
use crate::graph::{Direction, RevisionGraph};
use postgres::GenericClient;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// One problem `check --database` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftFinding {
    /// An applied revision's upgrade (or downgrade) SQL no longer has the
    /// checksum recorded when it was applied (or last accepted).
    ChecksumChanged {
        revision: String,
        /// Which side changed.
        side: Direction,
        recorded: String,
        current: String,
        /// An Alembic revision: its file, whose SHA-256 is the checksum.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// A version-table row the graph does not know.
    UnknownRevision { revision: String },
    /// A row that is an ancestor of another row, so the rows are not a
    /// valid set of heads.
    NotAHead {
        revision: String,
        ancestor_of: String,
    },
    /// The same row more than once.
    DuplicateRow { revision: String, count: usize },
    /// The version table has no primary key (or unique index) on
    /// `version_num`, so rows can repeat.
    MissingPrimaryKey { table: String },
}

impl fmt::Display for DriftFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriftFinding::ChecksumChanged { revision, recorded, current, file: Some(file), .. } => write!(
                f,
                "revision {revision}: its file {file} changed after it was applied (recorded sha256 {recorded}, now {current}); restore the file, or write a new revision for the change and accept the current file with --repair"
            ),
            DriftFinding::ChecksumChanged { revision, side, recorded, current, file: None } => write!(
                f,
                "revision {revision}: its {} SQL changed after it was applied (recorded sha256 {recorded}, now {current}); restore the file, or write a new revision for the change and accept the current text with --repair",
                side.as_str()
            ),
            DriftFinding::UnknownRevision { revision } => write!(
                f,
                "the version table holds '{revision}', which is not in the revisions directory; deploy the revisions that know it, or stamp the revision the schema really matches"
            ),
            DriftFinding::NotAHead { revision, ancestor_of } => write!(
                f,
                "the version table holds {revision}, an ancestor of {ancestor_of}, which is also there: the rows are not a valid set of heads; --repair deletes {revision}"
            ),
            DriftFinding::DuplicateRow { revision, count } => write!(
                f,
                "the version table holds {revision} {count} times; --repair keeps one"
            ),
            DriftFinding::MissingPrimaryKey { table } => write!(
                f,
                "the version table {table} has no primary key on version_num, so its rows can repeat; --repair adds it"
            ),
        }
    }
}

/// Findings and the SQL that repairs what can be repaired safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// The version-table rows examined.
    pub rows: Vec<String>,
    pub findings: Vec<DriftFinding>,
    /// The exact SQL [`repair`] would run: a transaction accepting changed
    /// checksums (a new `accept` audit row each) and deleting rows that are
    /// not heads. Deleting an unknown row could make a later upgrade re-run
    /// everything, so those DELETEs are written commented out, for a human
    /// to decide. Empty when there is nothing to repair.
    pub repair_sql: String,
}

impl DriftReport {
    /// True when nothing was found (`check --database` exits 0).
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Examines the database (read only). `sql` gives the native revisions'
/// SQL, or the Alembic revisions' files (their checksum is the file's);
/// revisions without SQL, and revisions without a
/// recorded checksum (applied by Alembic, stamped, or for the downgrade:
/// applied by an older mergepoint), are not checked for drift.
pub fn check_drift(
    client: &mut impl GenericClient,
    graph: &RevisionGraph,
    sql: &impl StepSql,
    table: &VersionTable,
) -> Result<DriftReport, DbError> {
    let stored = all_rows(client, table)?;
    let mut rows = stored.clone();
    rows.dedup();
    let mut findings = Vec::new();
    if table_exists(client, &table.sql_name())? && !version_rows_are_unique(client, table)? {
        findings.push(DriftFinding::MissingPrimaryKey {
            table: table.display_name(),
        });
    }
    let known: Vec<usize> = rows.iter().filter_map(|r| graph.find(r)).collect();
    let applied = graph.ancestors_with_deps(&known);
    let recorded = recorded_checksums(client, table)?;
    for (ix, rev) in graph.revisions().iter().enumerate() {
        if !applied[ix] {
            continue;
        }
        let (Some(text), Some(old)) = (
            sql.step_text(&rev.id, Direction::Upgrade),
            recorded.get(&rev.id),
        ) else {
            continue;
        };
        let sides = [
            (Direction::Upgrade, Some(&text.sql), old.0.as_ref()),
            (Direction::Downgrade, text.reverse.as_ref(), old.1.as_ref()),
        ];
        for (side, now, old) in sides {
            let (Some(now), Some(old)) = (now, old) else {
                continue;
            };
            let now = sql_sha256(now);
            if &now != old {
                findings.push(DriftFinding::ChecksumChanged {
                    revision: rev.id.clone(),
                    side,
                    recorded: old.clone(),
                    current: now,
                    file: text.alembic.then(|| rev.origin.clone()),
                });
            }
        }
    }
    for p in validate_rows(graph, &stored) {
        findings.push(match p {
            VersionTableProblem::UnknownRevision { revision } => {
                DriftFinding::UnknownRevision { revision }
            }
            VersionTableProblem::NotAHead {
                revision,
                ancestor_of,
            } => DriftFinding::NotAHead {
                revision,
                ancestor_of,
            },
            VersionTableProblem::Duplicate { revision, count } => {
                DriftFinding::DuplicateRow { revision, count }
            }
        });
    }
    let repair_sql = repair_sql(table, &findings);
    Ok(DriftReport {
        rows,
        findings,
        repair_sql,
    })
}

/// Recorded (upgrade, downgrade) checksums of one revision.
type Recorded = (Option<String>, Option<String>);

/// The newest recorded (upgrade, downgrade) checksums of each revision,
/// from successful upgrades and accepted repairs. Reads the downgrade
/// column through `to_jsonb`, so an audit table made before it existed
/// reads as "not recorded".
fn recorded_checksums(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<HashMap<String, Recorded>, DbError> {
    let mut recorded = HashMap::new();
    if !table_exists(client, &table.history_sql_name())? {
        return Ok(recorded);
    }
    let q = format!(
        "SELECT DISTINCT ON (revision) revision, sql_sha256, to_jsonb(h) ->> 'downgrade_sha256' FROM {} h \
         WHERE success AND direction IN ('upgrade', 'accept') AND sql_sha256 IS NOT NULL \
         ORDER BY revision, id DESC",
        table.history_sql_name()
    );
    for r in client
        .query_typed(&q, &[])
        .map_err(|e| DbError::query(format!("reading {HISTORY_TABLE}"), &e))?
    {
        recorded.insert(r.get(0), (r.get(1), r.get(2)));
    }
    Ok(recorded)
}

/// One `accept` audit row per drifted revision, with both current
/// checksums (an unchanged side carries the recorded one over).
fn accept_sql(table: &VersionTable, findings: &[DriftFinding]) -> String {
    let mut out = String::new();
    let mut accepted: Vec<(&String, Option<&String>, Option<&String>)> = Vec::new();
    for f in findings {
        if let DriftFinding::ChecksumChanged {
            revision,
            side,
            current,
            ..
        } = f
        {
            let i = match accepted.iter().position(|a| a.0 == revision) {
                Some(i) => i,
                None => {
                    accepted.push((revision, None, None));
                    accepted.len() - 1
                }
            };
            match side {
                Direction::Upgrade => accepted[i].1 = Some(current),
                Direction::Downgrade => accepted[i].2 = Some(current),
            }
        }
    }
    for (revision, up, down) in accepted {
        let keep = |new: Option<&String>, column: &str| {
            match new {
            Some(sha) => quote_literal(sha),
            // Unchanged: carry the recorded one over.
            None => format!(
                "(SELECT {column} FROM {} WHERE revision = {} AND success AND direction IN ('upgrade', 'accept') AND sql_sha256 IS NOT NULL ORDER BY id DESC LIMIT 1)",
                table.history_sql_name(),
                quote_literal(revision)
            ),
        }
        };
        out.push_str(&format!(
            "-- {revision}: accept the current SQL text (records its checksums; the schema is not changed)\nINSERT INTO {} (revision, direction, sql_sha256, downgrade_sha256, success) VALUES ({}, 'accept', {}, {}, true);\n",
            table.history_sql_name(),
            quote_literal(revision),
            keep(up, "sql_sha256"),
            keep(down, "downgrade_sha256"),
        ));
    }
    out
}

fn repair_sql(table: &VersionTable, findings: &[DriftFinding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut out = String::from("BEGIN;\n");
    out.push_str(&accept_sql(table, findings));
    for f in findings {
        match f {
            DriftFinding::ChecksumChanged { .. } => {}
            DriftFinding::UnknownRevision { revision } => {
                out.push_str(&format!(
                    "-- '{revision}' is unknown: NOT deleted automatically (the database may be ahead of these revisions). To drop it, uncomment, then stamp the revision the schema matches:\n-- DELETE FROM {} WHERE version_num = {};\n",
                    table.sql_name(),
                    quote_literal(revision)
                ));
            }
            DriftFinding::NotAHead {
                revision,
                ancestor_of,
            } => {
                out.push_str(&format!(
                    "-- {revision} is an ancestor of {ancestor_of}: not a head\nDELETE FROM {} WHERE version_num = {};\n",
                    table.sql_name(),
                    quote_literal(revision)
                ));
            }
            DriftFinding::DuplicateRow { revision, count } => {
                out.push_str(&format!(
                    "-- {revision} is there {count} times: keep one\nDELETE FROM {t} WHERE version_num = {v};\nINSERT INTO {t} (version_num) VALUES ({v});\n",
                    t = table.sql_name(),
                    v = quote_literal(revision)
                ));
            }
            DriftFinding::MissingPrimaryKey { .. } => {}
        }
    }
    if findings
        .iter()
        .any(|f| matches!(f, DriftFinding::MissingPrimaryKey { .. }))
    {
        out.push_str(&format!(
            "-- restore the primary key, so rows cannot repeat again\nALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (version_num);\n",
            table.sql_name(),
            quote_ident(&table.primary_key_name())
        ));
    }
    out.push_str("COMMIT;\n");
    out
}

/// Re-examines the database under the migration lock and runs the repair
/// SQL of the fresh report (if any). Returns that report.
pub fn repair(
    db: &mut Database,
    graph: &RevisionGraph,
    sql: &impl StepSql,
    opts: &RunOptions,
) -> Result<DriftReport, DbError> {
    let table = catalog::resolve_table(db.client(), &opts.table).map_err(|e| db.scrub_err(e))?;
    let lock = RunLock::acquire(db, &table, opts.lock, opts.lock_timeout)?;
    let r = (|| {
        let report = check_drift(db.client(), graph, sql, &table)?;
        if !report.repair_sql.is_empty() {
            if let Err(e) = db.client().batch_execute(&report.repair_sql) {
                // An error inside BEGIN..COMMIT leaves the block aborted.
                let _ = db.client().batch_execute("ROLLBACK");
                return Err(DbError::query("running the repair SQL", &e));
            }
        }
        Ok(report)
    })();
    lock.release();
    r.map_err(|e| db.scrub_err(e))
}
