//! Small catalog look-ups mergepoint's own bookkeeping needs: does a table
//! exist, does the version table still have its primary key, and which
//! schema an unqualified version table lives in for this session.

use super::error::DbError;
use super::names::{is_temporary_schema, VersionTable};
use postgres::types::Type;
use postgres::GenericClient;

/// True if the table named by the quoted `sql_name` exists (search path
/// applies when unqualified).
pub(crate) fn table_exists(
    client: &mut impl GenericClient,
    sql_name: &str,
) -> Result<bool, DbError> {
    let row = client
        .query_typed_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[(&sql_name, Type::TEXT)],
        )
        .map_err(|e| DbError::query(format!("looking for table {sql_name}"), &e))?;
    Ok(row.get(0))
}

/// True if the (existing) version table has a primary key or a unique
/// index on `version_num` — what keeps its rows from repeating.
pub(crate) fn version_rows_are_unique(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<bool, DbError> {
    let row = client
        .query_typed_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnatts = 1 \
             AND a.attname = 'version_num')",
            &[(&table.sql_name(), Type::TEXT)],
        )
        .map_err(|e| {
            DbError::query(
                format!("reading the indexes of {}", table.display_name()),
                &e,
            )
        })?;
    Ok(row.get(0))
}

/// `table` with its schema made explicit: as given, or the session's
/// `current_schema()` (the first existing schema of the `search_path`).
///
/// A run resolves this once, before any revision runs, and uses the
/// qualified names for all of its own statements: a revision that changes
/// `search_path` can then never move mergepoint's bookkeeping. Refuses
/// temporary schemas and an empty search path.
pub fn resolve_table(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<VersionTable, DbError> {
    if table.schema().is_some() {
        return Ok(table.clone());
    }
    let schema: Option<String> = client
        .query_typed_one("SELECT current_schema()", &[])
        .map_err(|e| DbError::query("reading current_schema()", &e))?
        .get(0);
    match schema {
        Some(s) if is_temporary_schema(&s) => Err(DbError::InvalidName {
            what: "version table schema",
            value: s,
            reason: "the search path starts with a temporary schema: the version table would vanish when the session ends; pass --version-table-schema with a permanent schema".to_string(),
        }),
        Some(s) => table.in_schema(&s),
        None => Err(DbError::InvalidName {
            what: "version table schema",
            value: String::new(),
            reason: "the session's search_path names no existing schema, so there is nowhere to keep the version table; pass --version-table-schema, or fix search_path".to_string(),
        }),
    }
}
