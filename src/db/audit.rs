//! The audit table `mergepoint_history`: one row per step run (upgrade,
//! downgrade, stamp, accepted checksum), successful or not. Writing rows is
//! the session's job ([`super::session::Session::write_audit`]); this
//! module reads them and computes checksums.

use super::catalog::table_exists;
use super::error::DbError;
use super::names::{VersionTable, HISTORY_TABLE};
use super::session::{InterruptedAttempt, UNFINISHED};
use crate::graph::Direction;
use postgres::types::Type;
use postgres::GenericClient;
use serde::Serialize;
use sha2::{Digest, Sha256};

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

const STARTED_AT: &str =
    "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

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
        "SELECT * FROM (SELECT id, revision, direction, sql_sha256, {STARTED_AT}, \
         duration_ms, db_user, client_host, success, error FROM {} \
         ORDER BY id DESC LIMIT $1) h ORDER BY id",
        table.history_sql_name()
    );
    let rows = client
        .query_typed(&sql, &[(&limit, Type::INT8)])
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

/// Audit rows still marked [`UNFINISHED`]: non-transactional steps whose
/// run ended before the step did. Oldest first.
pub(crate) fn unfinished(
    client: &mut impl GenericClient,
    table: &VersionTable,
) -> Result<Vec<InterruptedAttempt>, DbError> {
    if !table_exists(client, &table.history_sql_name())? {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, revision, direction, {STARTED_AT}, db_user || '@' || client_host FROM {} \
         WHERE NOT success AND error = $1 ORDER BY id",
        table.history_sql_name()
    );
    let rows = client
        .query_typed(&sql, &[(&UNFINISHED, Type::TEXT)])
        .map_err(|e| DbError::query(format!("reading {HISTORY_TABLE}"), &e))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let direction = match r.get::<_, &str>(2) {
                "upgrade" => Direction::Upgrade,
                "downgrade" => Direction::Downgrade,
                _ => return None,
            };
            Some(InterruptedAttempt {
                audit_id: r.get(0),
                revision: r.get(1),
                direction,
                started_at: r.get(3),
                by: r.get(4),
            })
        })
        .collect())
}
