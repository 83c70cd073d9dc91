//! `stamp`: set the version table without running any SQL (adopting an
//! existing database, or repairing the table by hand), with Alembic's
//! semantics, under the lock and recorded in the audit table.

use super::audit::{self, AuditRecord};
use super::conn::Database;
use super::error::{pg_message, DbError};
use super::lock::MigrationLock;
use super::runner::RunOptions;
use super::version::{apply_ops, current, ensure_tables, Statements, VersionOp};
use crate::graph::{ResolveError, RevisionGraph};
use std::time::{Instant, SystemTime};

/// What a stamp did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StampOutcome {
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// The version-table rows after stamping `targets` (full ids; empty means
/// `base`) onto `rows`, following Alembic's `_stamp_revs`:
///
/// - `base` (no targets) removes every row;
/// - a target already in the table changes nothing;
/// - otherwise the rows that share lineage with any target (ancestor or
///   descendant, dependencies included) are replaced by the target;
/// - a target sharing lineage with no row is added as a new branch head.
///
/// `purge` empties the table first (Alembic's `--purge`), which also makes
/// unknown rows harmless. Unknown rows (not in the graph) are kept unless
/// purged or stamping `base`. Result sorted.
pub fn stamp_rows(
    graph: &RevisionGraph,
    rows: &[String],
    targets: &[String],
    purge: bool,
) -> Result<Vec<String>, ResolveError> {
    if purge || targets.is_empty() {
        let mut t = targets.to_vec();
        t.sort();
        t.dedup();
        return Ok(t);
    }
    let target_ix = graph.resolve_rows(targets)?;
    let known: Vec<(String, Option<usize>)> =
        rows.iter().map(|r| (r.clone(), graph.find(r))).collect();
    let related =
        |a: usize, b: usize| graph.is_ancestor_or_self(a, b) || graph.is_ancestor_or_self(b, a);
    // Rows sharing lineage with any target (computed once, as Alembic).
    let filtered: Vec<String> = known
        .iter()
        .filter(|(_, ix)| matches!(ix, Some(i) if target_ix.iter().any(|&t| related(*i, t))))
        .map(|(r, _)| r.clone())
        .collect();
    let mut table: Vec<String> = rows.to_vec();
    for (t, &tix) in targets.iter().zip(&target_ix) {
        if filtered.contains(t) || table.contains(t) {
            continue;
        }
        let lineage: Vec<&String> = filtered
            .iter()
            .filter(|r| graph.find(r).is_some_and(|i| related(i, tix)))
            .collect();
        if !lineage.is_empty() {
            table.retain(|r| !filtered.contains(r));
        }
        table.push(t.clone());
    }
    table.sort();
    table.dedup();
    Ok(table)
}

/// Stamps the version table: under the lock, reads the rows, asks
/// `targets_for(rows)` for the target ids (empty = `base`), computes the new
/// rows with [`stamp_rows`], and writes them in one transaction with one
/// audit row (direction `stamp`, no checksum) per inserted revision, or one
/// row for `base` when the table is emptied. Creates the tables if missing.
pub fn stamp<P>(
    db: &mut Database,
    graph: &RevisionGraph,
    opts: &RunOptions,
    purge: bool,
    targets_for: P,
) -> Result<StampOutcome, DbError>
where
    P: FnOnce(&[String]) -> Result<Vec<String>, ResolveError>,
{
    let lock = MigrationLock::acquire(db, &opts.table, opts.lock_timeout)?;
    let r = stamp_locked(db, graph, opts, purge, targets_for);
    lock.release();
    r.map_err(|e| db.scrub_err(e))
}

fn stamp_locked<P>(
    db: &mut Database,
    graph: &RevisionGraph,
    opts: &RunOptions,
    purge: bool,
    targets_for: P,
) -> Result<StampOutcome, DbError>
where
    P: FnOnce(&[String]) -> Result<Vec<String>, ResolveError>,
{
    let table = &opts.table;
    let client = db.client();
    let before = current(client, table)?;
    let targets = targets_for(&before)?;
    let after = stamp_rows(graph, &before, &targets, purge)?;
    let started_at = SystemTime::now();
    let started = Instant::now();
    ensure_tables(client, table)?;
    let st = Statements::prepare(client, table)?;
    let mut ops: Vec<VersionOp> = before
        .iter()
        .filter(|r| !after.contains(r))
        .map(|r| VersionOp::Delete { version: r.clone() })
        .collect();
    let added: Vec<&String> = after.iter().filter(|r| !before.contains(r)).collect();
    ops.extend(added.iter().map(|r| VersionOp::Insert {
        version: (*r).clone(),
    }));
    let mut tx = client
        .transaction()
        .map_err(|e| DbError::query("starting the stamp", &e))?;
    apply_ops(&mut tx, &st, &ops).map_err(|m| DbError::Query {
        context: "stamping".to_string(),
        message: m,
    })?;
    let audited: Vec<&str> = if added.is_empty() && !ops.is_empty() {
        vec!["base"]
    } else {
        added.iter().map(|s| s.as_str()).collect()
    };
    for rev in audited {
        let rec = AuditRecord {
            revision: rev,
            direction: "stamp",
            sql_sha256: None,
            started_at,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            success: true,
            error: None,
        };
        audit::write(&mut tx, &st, &rec).map_err(|e| DbError::Query {
            context: "recording the stamp".to_string(),
            message: pg_message(&e),
        })?;
    }
    tx.commit()
        .map_err(|e| DbError::query("committing the stamp", &e))?;
    Ok(StampOutcome { before, after })
}
