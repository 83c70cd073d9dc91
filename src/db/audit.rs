//! The audit table `mergepoint_history`: one row per step run (upgrade,
//! downgrade, stamp, accepted checksum), successful or not.

use super::error::DbError;
use super::names::VersionTable;
use super::version::{table_exists, Statements};
use postgres::GenericClient;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// Name of the audit table; it lives in the version table's schema.
pub const HISTORY_TABLE: &str = "mergepoint_history";

/// Hex SHA-256 of a revision's SQL text, as stored in `sql_sha256`.
pub fn sql_sha256(sql: &str) -> String {
    use std::fmt::Write;
    let d = Sha256::digest(sql.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in d {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// One audit row to write.
pub(crate) struct AuditRecord<'a> {
    pub revision: &'a str,
    pub direction: &'a str,
    pub sql_sha256: Option<&'a str>,
    pub started_at: SystemTime,
    pub duration_ms: f64,
    pub success: bool,
    pub error: Option<&'a str>,
}

pub(crate) fn insert_sql(table: &VersionTable) -> String {
    format!(
        "INSERT INTO {} (revision, direction, sql_sha256, started_at, duration_ms, db_user, client_host, success, error) \
         VALUES ($1, $2, $3, $4, $5, current_user, coalesce(inet_client_addr()::text, 'local'), $6, $7)",
        table.history_sql_name()
    )
}

pub(crate) fn write(
    client: &mut impl GenericClient,
    st: &Statements,
    r: &AuditRecord<'_>,
) -> Result<(), postgres::Error> {
    client
        .execute(
            &st.audit,
            &[
                &r.revision,
                &r.direction,
                &r.sql_sha256,
                &r.started_at,
                &r.duration_ms,
                &r.success,
                &r.error,
            ],
        )
        .map(|_| ())
}

/// One row of `mergepoint_history`, for `log`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub revision: String,
    /// `upgrade`, `downgrade`, `stamp` or `accept` (a drift repair).
    pub direction: String,
    pub sql_sha256: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: Option<f64>,
    pub db_user: String,
    pub client_host: String,
    pub success: bool,
    pub error: Option<String>,
}

/// The audit history, oldest first; `limit` keeps only the newest rows.
/// A missing table means no history (an empty list).
pub fn history(
    client: &mut impl GenericClient,
    table: &VersionTable,
    limit: Option<i64>,
) -> Result<Vec<HistoryEntry>, DbError> {
    if !table_exists(client, &table.history_sql_name())? {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM (SELECT id, revision, direction, sql_sha256, \
         to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
         duration_ms, db_user, client_host, success, error FROM {} \
         ORDER BY id DESC LIMIT $1) h ORDER BY id",
        table.history_sql_name()
    );
    let rows = client
        .query(&sql, &[&limit])
        .map_err(|e| DbError::query(format!("reading {HISTORY_TABLE}"), &e))?;
    Ok(rows
        .iter()
        .map(|r| HistoryEntry {
            id: r.get(0),
            revision: r.get(1),
            direction: r.get(2),
            sql_sha256: r.get(3),
            started_at: r.get(4),
            duration_ms: r.get(5),
            db_user: r.get(6),
            client_host: r.get(7),
            success: r.get(8),
            error: r.get(9),
        })
        .collect())
}
