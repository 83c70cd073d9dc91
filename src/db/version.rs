//! The version table: reading it, creating it, changing it, and judging
//! whether its rows make sense for a graph.

use super::error::DbError;
use super::names::VersionTable;
use crate::graph::RevisionGraph;
use postgres::GenericClient;
use serde::Serialize;

pub(crate) use crate::graph::VersionOp;

/// True if the table named by the quoted `sql_name` exists (search path
/// applies when unqualified).
pub(crate) fn table_exists(
    client: &mut impl GenericClient,
    sql_name: &str,
) -> Result<bool, DbError> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&sql_name])
        .map_err(|e| DbError::query(format!("looking for table {sql_name}"), &e))?;
    Ok(row.get(0))
}

/// The rows of the version table (the applied heads), sorted. A missing
/// table means nothing is applied: an empty list, and nothing is created.
pub fn current(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<Vec<String>, DbError> {
    if !table_exists(client, &table.sql_name())? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!(
                "SELECT version_num FROM {} ORDER BY version_num",
                table.sql_name()
            ),
            &[],
        )
        .map_err(|e| DbError::query(format!("reading {}", table.display_name()), &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Creates the version table and the audit table if missing.
pub(crate) fn ensure_tables(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<(), DbError> {
    for (sql_name, ddl) in [
        (table.sql_name(), table.create_sql()),
        (table.history_sql_name(), table.create_history_sql()),
    ] {
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
    Ok(())
}

/// The statements a run repeats, prepared once per run (saves a round
/// trip per statement and step).
pub(crate) struct Statements {
    insert: postgres::Statement,
    delete: postgres::Statement,
    update: postgres::Statement,
    pub(crate) audit: postgres::Statement,
    table: String,
}

impl Statements {
    /// Prepares them; the tables must exist.
    pub(crate) fn prepare(
        client: &mut impl GenericClient,
        table: &VersionTable,
    ) -> Result<Statements, DbError> {
        let t = table.sql_name();
        let mut prep = |sql: String| {
            client
                .prepare(&sql)
                .map_err(|e| DbError::query(format!("preparing `{sql}`"), &e))
        };
        Ok(Statements {
            insert: prep(format!("INSERT INTO {t} (version_num) VALUES ($1)"))?,
            delete: prep(format!("DELETE FROM {t} WHERE version_num = $1"))?,
            update: prep(format!(
                "UPDATE {t} SET version_num = $2 WHERE version_num = $1"
            ))?,
            audit: prep(super::audit::insert_sql(table))?,
            table: table.display_name(),
        })
    }
}

/// Applies version-table changes, checking that each UPDATE/DELETE hits
/// exactly one row (like Alembic's online HeadMaintainer).
pub(crate) fn apply_ops(
    client: &mut impl GenericClient,
    st: &Statements,
    ops: &[VersionOp],
) -> Result<(), String> {
    for op in ops {
        let (n, what, expected_one) = match op {
            VersionOp::Insert { version } => (
                client.execute(&st.insert, &[version]),
                format!("inserting '{version}'"),
                false,
            ),
            VersionOp::Delete { version } => (
                client.execute(&st.delete, &[version]),
                format!("deleting '{version}'"),
                true,
            ),
            VersionOp::Update { from, to } => (
                client.execute(&st.update, &[from, to]),
                format!("updating '{from}' to '{to}'"),
                true,
            ),
        };
        match n {
            Err(e) => {
                return Err(format!(
                    "{what} in {}: {}",
                    st.table,
                    super::error::pg_message(&e)
                ))
            }
            Ok(count) if expected_one && count != 1 => {
                return Err(format!(
                    "{what} in {} was expected to match one row; {count} found (the version table changed underneath this run)",
                    st.table
                ))
            }
            Ok(_) => {}
        }
    }
    Ok(())
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
