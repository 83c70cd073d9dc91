//! `stamp`: set the version table without running any SQL (adopting an
//! existing database, or repairing the table by hand), with Alembic's
//! semantics, under the lock and recorded in the audit table.

use super::catalog;
use super::conn::Database;
use super::error::DbError;
use super::lease::RunLock;
use super::pg_session::PgSession;
use super::runner::RunOptions;
use super::session::{AuditRecord, Session, SessionError};
use super::version::validate_rows;
use crate::graph::{ResolveError, RevisionGraph, VersionOp};
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
///
/// Without `purge` a broken version table (repeated, unknown or overlapping
/// rows) is refused, as Alembic does; `purge` replaces whatever is there,
/// which is the way to repair it.
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
    let started = Instant::now();
    let result = (|| {
        let table = catalog::resolve_table(db.client(), &opts.table)?;
        let lock = RunLock::acquire(db, &table, opts.lock, opts.lock_timeout)?;
        let mut session = PgSession::open(db, &table, &lock, started, opts.lock_timeout)?;
        if !opts.audit {
            session = session.without_audit();
        }
        let result = stamp_on(&mut session, graph, purge, targets_for);
        session.close();
        lock.release();
        result
    })();
    result.map_err(|e| db.scrub_err(e))
}

/// [`stamp`] on any session that holds the locks.
pub fn stamp_on<S, P>(
    session: &mut S,
    graph: &RevisionGraph,
    purge: bool,
    targets_for: P,
) -> Result<StampOutcome, DbError>
where
    S: Session,
    P: FnOnce(&[String]) -> Result<Vec<String>, ResolveError>,
{
    let mut stored = session.version_rows()?;
    stored.sort();
    if !purge {
        let problems = validate_rows(graph, &stored);
        if !problems.is_empty() {
            return Err(DbError::BrokenVersionTable {
                table: session.table_name(),
                problems,
            });
        }
    }
    let mut before = stored.clone();
    before.dedup();
    let targets = targets_for(&before)?;
    let after = stamp_rows(graph, &before, &targets, purge)?;
    let started_at = SystemTime::now();
    let started = Instant::now();
    session.ensure_tables()?;
    let repeated = stored.len() != before.len();
    let mut ops: Vec<VersionOp> = Vec::new();
    if !(purge && repeated) {
        ops.extend(
            before
                .iter()
                .filter(|r| !after.contains(r))
                .map(|r| VersionOp::Delete { version: r.clone() }),
        );
    }
    let added: Vec<&String> = after
        .iter()
        .filter(|r| !before.contains(r) || (purge && repeated))
        .collect();
    ops.extend(added.iter().map(|r| VersionOp::Insert {
        version: (*r).clone(),
    }));
    let changed = !ops.is_empty() || (purge && repeated);
    let audited: Vec<&str> = if added.is_empty() && changed {
        vec!["base"]
    } else {
        added.iter().map(|s| s.as_str()).collect()
    };
    let write = |session: &mut S| -> Result<(), SessionError> {
        session.restore_settings()?;
        session.begin()?;
        if purge && repeated {
            session.clear_versions()?;
        }
        session.apply_version_ops(&ops)?;
        for rev in &audited {
            session.write_audit(&AuditRecord {
                revision: rev,
                direction: "stamp",
                sql_sha256: None,
                downgrade_sha256: None,
                started_at,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                success: true,
                error: None,
            })?;
        }
        session.commit()
    };
    if let Err(e) = write(session) {
        session.rollback();
        return Err(DbError::Query {
            context: "stamping".to_string(),
            message: e.message,
        });
    }
    Ok(StampOutcome { before, after })
}
