//! The version table: reading it, creating it, and judging whether its
//! rows make sense for a graph (before anything moves the database).

use super::catalog::table_exists;
use super::error::{DbError, VersionTableProblem};
use super::names::VersionTable;
use crate::graph::RevisionGraph;
use postgres::GenericClient;
use serde::Serialize;

/// Every row of the version table as stored (duplicates kept), sorted. A
/// missing table means nothing is applied: an empty list.
pub(crate) fn all_rows(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<Vec<String>, DbError> {
    if !table_exists(client, &table.sql_name())? {
        return Ok(Vec::new());
    }
    let rows = client
        .query_typed(
            &format!(
                "SELECT version_num::text FROM {} ORDER BY version_num",
                table.sql_name()
            ),
            &[],
        )
        .map_err(|e| DbError::query(format!("reading {}", table.display_name()), &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The rows of the version table (the applied heads), sorted, each once.
/// A missing table means nothing is applied: an empty list, and nothing is
/// created.
pub fn current(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<Vec<String>, DbError> {
    let mut rows = all_rows(client, table)?;
    rows.dedup();
    Ok(rows)
}

/// Creates the version table and the audit table if missing, and adds the
/// columns a newer mergepoint writes to an older audit table.
pub(crate) fn ensure_tables(
    client: &mut impl GenericClient,
    table: &VersionTable,
    audit: bool,
) -> Result<(), DbError> {
    let mut tables = vec![(table.sql_name(), table.create_sql())];
    if audit {
        tables.push((table.history_sql_name(), table.create_history_sql()));
    }
    for (sql_name, ddl) in tables {
        if !table_exists(client, &sql_name)? {
            if let Err(e) = client.batch_execute(&ddl) {
                // Another runner (with another version table, so another
                // lock) may have created the shared audit table meanwhile.
                if !table_exists(client, &sql_name)? {
                    return Err(DbError::query(format!("creating {sql_name}"), &e));
                }
            }
        }
    }
    if !audit {
        return Ok(());
    }
    client
        .batch_execute(&table.upgrade_history_sql())
        .map_err(|e| DbError::query(format!("updating {}", table.history_sql_name()), &e))
}

/// What is wrong with a set of version-table rows for a graph.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowReport {
    /// Rows the graph does not know (e.g. a newer deploy's revisions, or a
    /// revisions directory of another project).
    pub unknown: Vec<String>,
    /// `(row, other_row)`: `row` is an ancestor of `other_row`, so the
    /// rows are not a valid set of heads; `row` is redundant.
    pub redundant: Vec<(String, String)>,
}

impl RowReport {
    /// Nothing wrong.
    pub fn is_clean(&self) -> bool {
        self.unknown.is_empty() && self.redundant.is_empty()
    }
}

/// Classifies version-table rows against `graph`: unknown ids, and rows
/// that are ancestors (through parents or dependencies) of other rows.
pub fn classify_rows(graph: &RevisionGraph, rows: &[String]) -> RowReport {
    let mut report = RowReport::default();
    let mut known = Vec::new();
    for r in rows {
        match graph.find(r) {
            Some(ix) => known.push((r.clone(), ix)),
            None => report.unknown.push(r.clone()),
        }
    }
    for (r, ix) in &known {
        for (other, oix) in &known {
            if ix != oix && graph.is_ancestor_or_self(*ix, *oix) {
                report.redundant.push((r.clone(), other.clone()));
                break;
            }
        }
    }
    report
}

/// Everything wrong with `rows` (as stored, sorted) for `graph`: repeated
/// rows, unknown ids, rows that are ancestors of other rows. Empty when a
/// command may move the database from them.
pub fn validate_rows(graph: &RevisionGraph, rows: &[String]) -> Vec<VersionTableProblem> {
    let mut problems = Vec::new();
    let mut unique: Vec<String> = Vec::with_capacity(rows.len());
    for group in rows.chunk_by(|a, b| a == b) {
        if group.len() > 1 {
            problems.push(VersionTableProblem::Duplicate {
                revision: group[0].clone(),
                count: group.len(),
            });
        }
        unique.push(group[0].clone());
    }
    let report = classify_rows(graph, &unique);
    problems.extend(
        report
            .unknown
            .into_iter()
            .map(|revision| VersionTableProblem::UnknownRevision { revision }),
    );
    problems.extend(report.redundant.into_iter().map(|(revision, ancestor_of)| {
        VersionTableProblem::NotAHead {
            revision,
            ancestor_of,
        }
    }));
    problems
}
