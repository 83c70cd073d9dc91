//! `check --database`: compare the database with the revisions directory.
//! Finds revisions whose SQL changed after they were applied (checksum
//! drift), version-table ids the graph does not know, and rows that are not
//! a valid set of heads. Produces the exact repair SQL; [`repair`] runs it.

use super::audit::{sql_sha256, HISTORY_TABLE};
use super::conn::Database;
use super::error::DbError;
use super::lock::MigrationLock;
use super::names::{quote_literal, VersionTable};
use super::runner::{RevisionSql, RunOptions};
use super::version::{classify_rows, current, table_exists};
use crate::graph::RevisionGraph;
use postgres::GenericClient;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// One problem `check --database` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftFinding {
    /// An applied revision's upgrade SQL no longer has the checksum recorded
    /// when it last ran (or was last accepted).
    ChecksumChanged {
        revision: String,
        recorded: String,
        current: String,
    },
    /// A version-table row the graph does not know.
    UnknownRevision { revision: String },
    /// A row that is an ancestor of another row, so the rows are not a
    /// valid set of heads.
    NotAHead {
        revision: String,
        ancestor_of: String,
    },
}

impl fmt::Display for DriftFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriftFinding::ChecksumChanged { revision, recorded, current } => write!(
                f,
                "revision {revision}: its upgrade SQL changed after it was applied (recorded sha256 {recorded}, now {current}); restore the file, or write a new revision for the change and accept the current text with --repair"
            ),
            DriftFinding::UnknownRevision { revision } => write!(
                f,
                "the version table holds '{revision}', which is not in the revisions directory; deploy the revisions that know it, or stamp the revision the schema really matches"
            ),
            DriftFinding::NotAHead { revision, ancestor_of } => write!(
                f,
                "the version table holds {revision}, an ancestor of {ancestor_of}, which is also there: the rows are not a valid set of heads; --repair deletes {revision}"
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

/// Examines the database (read only). `sql` holds the native revisions'
/// SQL; revisions without an entry (Alembic `.py`), and revisions without a
/// recorded checksum (applied by Alembic, or stamped), are not checked for
/// drift.
pub fn check_drift(
    client: &mut impl GenericClient,
    graph: &RevisionGraph,
    sql: &HashMap<String, RevisionSql>,
    table: &VersionTable,
) -> Result<DriftReport, DbError> {
    let rows = current(client, table)?;
    let mut findings = Vec::new();
    let classes = classify_rows(graph, &rows);

    // Checksums of applied revisions.
    let known: Vec<usize> = rows.iter().filter_map(|r| graph.find(r)).collect();
    let applied = graph.ancestors_with_deps(&known);
    let mut recorded: HashMap<String, String> = HashMap::new();
    if table_exists(client, &table.history_sql_name())? {
        let q = format!(
            "SELECT DISTINCT ON (revision) revision, sql_sha256 FROM {} \
             WHERE success AND direction IN ('upgrade', 'accept') AND sql_sha256 IS NOT NULL \
             ORDER BY revision, id DESC",
            table.history_sql_name()
        );
        for r in client
            .query(&q, &[])
            .map_err(|e| DbError::query(format!("reading {HISTORY_TABLE}"), &e))?
        {
            recorded.insert(r.get(0), r.get(1));
        }
    }
    for (ix, rev) in graph.revisions().iter().enumerate() {
        if !applied[ix] {
            continue;
        }
        if let (Some(rs), Some(old)) = (sql.get(&rev.id), recorded.get(&rev.id)) {
            let now = sql_sha256(&rs.upgrade);
            if &now != old {
                findings.push(DriftFinding::ChecksumChanged {
                    revision: rev.id.clone(),
                    recorded: old.clone(),
                    current: now,
                });
            }
        }
    }
    for r in &classes.unknown {
        findings.push(DriftFinding::UnknownRevision {
            revision: r.clone(),
        });
    }
    for (r, other) in &classes.redundant {
        findings.push(DriftFinding::NotAHead {
            revision: r.clone(),
            ancestor_of: other.clone(),
        });
    }
    let repair_sql = repair_sql(table, &findings);
    Ok(DriftReport {
        rows,
        findings,
        repair_sql,
    })
}

fn repair_sql(table: &VersionTable, findings: &[DriftFinding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut out = String::from("BEGIN;\n");
    for f in findings {
        match f {
            DriftFinding::ChecksumChanged {
                revision, current, ..
            } => {
                out.push_str(&format!(
                    "-- {revision}: accept the current SQL text (records its checksum; the schema is not changed)\nINSERT INTO {} (revision, direction, sql_sha256, success) VALUES ({}, 'accept', {}, true);\n",
                    table.history_sql_name(),
                    quote_literal(revision),
                    quote_literal(current)
                ));
            }
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
        }
    }
    out.push_str("COMMIT;\n");
    out
}

/// Re-examines the database under the migration lock and runs the repair
/// SQL of the fresh report (if any). Returns that report.
pub fn repair(
    db: &mut Database,
    graph: &RevisionGraph,
    sql: &HashMap<String, RevisionSql>,
    opts: &RunOptions,
) -> Result<DriftReport, DbError> {
    let lock = MigrationLock::acquire(db, &opts.table, opts.lock_timeout)?;
    let r = (|| {
        let report = check_drift(db.client(), graph, sql, &opts.table)?;
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
