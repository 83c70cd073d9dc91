//! The migration lock: a session-level PostgreSQL advisory lock keyed on
//! the version table, held on its own dedicated session and watched while
//! the run goes on; and the step guard, a second advisory lock the work
//! session holds for the whole run.
//!
//! Why two locks. The lock session is idle while the migration runs, so an
//! `idle_session_timeout`, a `pg_terminate_backend` or a proxy can end it,
//! and with it the lock. A watcher thread keeps that session busy (a check
//! every [`WATCH_INTERVAL`], which also keeps idle timeouts from firing) and
//! notes at once when the lock is gone. The step guard closes the gap until
//! the runner looks: a runner that gets the migration lock must then take
//! the guard before it reads the version table, so it waits until the run
//! that lost the lock has finished the step it was in and stopped. So two
//! runners never run steps at the same time, even when a lock is lost.
//!
//! A dedicated session means the migration lock never shows up as an open
//! transaction on the work session, so `CREATE INDEX CONCURRENTLY` (which
//! waits for older transactions) is not blocked by it; neither is it by the
//! guard (a session-level lock is not a transaction). If the process dies,
//! the server ends both sessions and both locks are freed.

use super::conn::Database;
use super::error::{pg_message, Blocker, DbError, LockHolder};
use super::names::VersionTable;
use postgres::types::Type;
use postgres::{Client, GenericClient, SimpleQueryMessage};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Default `--lock-timeout`.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the watcher checks that the lock session still holds the lock.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(100);

const POLL: Duration = Duration::from_millis(50);

fn key_of(purpose: &str, schema: &str, table: &str) -> i64 {
    let digest = Sha256::digest(format!("{purpose}:{schema}.{table}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(b)
}

/// The advisory lock key for a version table: the first 8 bytes of
/// SHA-256 of `mergepoint:<schema>.<table>`, as a signed 64-bit integer.
/// Stable across processes, versions and platforms.
pub fn lock_key(schema: &str, table: &str) -> i64 {
    key_of("mergepoint", schema, table)
}

/// The step guard's key (`mergepoint-step:<schema>.<table>`).
pub fn guard_key(schema: &str, table: &str) -> i64 {
    key_of("mergepoint-step", schema, table)
}

/// Who holds advisory lock `key`, if anyone other than this session does.
pub(crate) fn holder_of(client: &mut impl GenericClient, key: i64) -> Option<LockHolder> {
    let row = client
        .query_typed_opt(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local'), \
             coalesce(a.usename::text, ''), \
             coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid = (($1::bigint >> 32) & 4294967295)::oid \
             AND l.objid = ($1::bigint & 4294967295)::oid AND l.pid <> pg_backend_pid() \
             LIMIT 1",
            &[(&key, Type::INT8)],
        )
        .ok()??;
    Some(LockHolder {
        pid: row.get(0),
        application_name: row.get(1),
        client: row.get(2),
        user: row.get(3),
        since: row.get(4),
    })
}

/// Polls `pg_try_advisory_lock(key)` on `client` every 50 ms until it
/// succeeds or `deadline` passes (then [`DbError::LockTimeout`] naming the
/// holder).
pub(crate) fn acquire_on(
    client: &mut Client,
    key: i64,
    table: &VersionTable,
    started: Instant,
    timeout: Duration,
) -> Result<(), DbError> {
    loop {
        let got = simple_scalar(client, &format!("SELECT pg_try_advisory_lock({key})"))
            .map_err(|e| DbError::query("taking the migration lock", &e))?;
        if got.as_deref() == Some("t") {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(DbError::LockTimeout {
                table: table.display_name(),
                waited,
                holder: holder_of(client, key).map(Box::new),
            });
        }
        std::thread::sleep(POLL.min(timeout - waited));
    }
}

/// An SQL expression: this session holds advisory lock `key`. (`pg_locks`
/// shows a bigint key as classid, the high 32 bits, objid, the low 32 bits,
/// and objsubid 1.)
pub(crate) fn held_by_me_sql(key: i64) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() \
         AND granted AND objsubid = 1 AND classid = (({key}::bigint >> 32) & 4294967295)::oid \
         AND objid = ({key}::bigint & 4294967295)::oid)"
    )
}

/// [`held_by_me_sql`] for the session of backend `pid` (checked from
/// another session).
pub(crate) fn held_by_pid_sql(key: i64, pid: i32) -> String {
    held_by_me_sql(key).replace("pg_backend_pid()", &pid.to_string())
}

/// True if this session holds advisory lock `key`. A simple query (no
/// prepared statement), so it answers even behind a transaction pooler.
pub(crate) fn holds(client: &mut Client, key: i64) -> Result<bool, String> {
    let sql = format!("SELECT {}", held_by_me_sql(key));
    Ok(simple_scalar(client, &sql)
        .map_err(|e| pg_message(&e))?
        .as_deref()
        == Some("t"))
}

/// The first column of the first row of a simple query.
fn simple_scalar(client: &mut Client, sql: &str) -> Result<Option<String>, postgres::Error> {
    Ok(client
        .simple_query(sql)?
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })
        .flatten())
}

/// Refuses ([`DbError::PoolerDetected`]) sessions behind a pooler in
/// transaction or statement pooling mode, before the advisory lock is
/// taken: there, consecutive transactions of one client connection may run
/// on different server processes, and different client connections on the
/// same one. Asks `pg_backend_pid()` of the lock session, then of the work
/// session, then of the lock session again, each in a transaction of its
/// own. Connected directly (or through session pooling) the two sessions
/// have two processes, each its own for good, so this never refuses them.
///
/// A pooler that happens to hand out processes as a direct connection would
/// (other clients keeping the pool busy, round-robin assignment) passes;
/// see docs/database.md, "Connection poolers".
pub(crate) fn check_not_pooled(lock: &mut Client, work: &mut Client) -> Result<(), DbError> {
    let pid = |c: &mut Client| -> Result<String, DbError> {
        simple_scalar(c, "SELECT pg_backend_pid()")
            .map_err(|e| DbError::query("reading pg_backend_pid()", &e))
            .map(|p| p.unwrap_or_default())
    };
    let first = pid(lock)?;
    let w = pid(work)?;
    let second = pid(lock)?;
    if w == first || w == second {
        return Err(DbError::PoolerDetected {
            detail: format!(
                "two of mergepoint's connections were served by the same server process, pid {w}"
            ),
        });
    }
    if first != second {
        return Err(DbError::PoolerDetected {
            detail: format!(
                "two transactions in a row on one connection ran in different server processes, pid {first} then {second}"
            ),
        });
    }
    Ok(())
}

/// A migration lock a run holds, whatever its kind: the runner asks it,
/// before each step, whether it is still held.
pub trait HeldLock {
    /// Err with what was seen if the lock may no longer be held.
    fn check(&self) -> Result<(), String>;

    /// True if the lock alone cannot keep another runner from starting a
    /// step (so the work session must hold the step guard too).
    fn needs_step_guard(&self) -> bool {
        true
    }

    /// From now on, note who the backend `pid` (the work session) waits
    /// for, if the lock can watch that.
    fn watch_waits_of(&self, _pid: i32) {}

    /// Who the watched backend was last seen waiting for (and forgets it).
    fn recent_blockers(&self) -> Vec<Blocker> {
        Vec::new()
    }

    /// An SQL condition, true while the lock is held, that the work session
    /// checks in each step's transaction just before its COMMIT, so that a
    /// step never commits once the lock is gone; None if the lock has no
    /// such check (the step guard is checked there instead).
    fn held_sql(&self) -> Option<String> {
        None
    }
}

impl HeldLock for MigrationLock {
    fn check(&self) -> Result<(), String> {
        MigrationLock::check(self)
    }

    fn watch_waits_of(&self, pid: i32) {
        self.watched.store(pid, Ordering::Relaxed);
    }

    fn recent_blockers(&self) -> Vec<Blocker> {
        std::mem::take(&mut *self.blockers.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A held migration lock, watched by its own thread. Released on
/// [`MigrationLock::release`] or drop, and by the server if the process dies.
pub struct MigrationLock {
    key: i64,
    table: String,
    /// Set by the watcher when the lock is no longer held.
    lost: Arc<Mutex<Option<String>>>,
    /// The work session's backend pid, once known (0: none).
    watched: Arc<AtomicI32>,
    /// Who the watched backend was last seen waiting for.
    blockers: Arc<Mutex<Vec<Blocker>>>,
    stop: Option<mpsc::Sender<()>>,
    watcher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MigrationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationLock")
            .field("key", &self.key)
            .field("table", &self.table)
            .finish()
    }
}

impl MigrationLock {
    /// Opens a new session to `db`'s server and polls
    /// `pg_try_advisory_lock` every 50 ms until it succeeds or `timeout`
    /// runs out ([`DbError::LockTimeout`], naming the holder). With no
    /// schema given, the key uses the session's `current_schema()`, so
    /// runners naming the schema and runners relying on the search path
    /// agree. Then starts the watcher.
    pub fn acquire(
        db: &Database,
        table: &VersionTable,
        timeout: Duration,
    ) -> Result<MigrationLock, DbError> {
        let started = Instant::now();
        let session = db.open_session()?;
        MigrationLock::take(db, session, table, started, timeout)
    }

    /// [`MigrationLock::acquire`] for a run on `db`'s work session: first
    /// refuses a transaction pooler between mergepoint and the server
    /// ([`check_not_pooled`]), and after taking the lock checks that the
    /// next transaction still sees it held.
    pub fn acquire_checked(
        db: &mut Database,
        table: &VersionTable,
        timeout: Duration,
    ) -> Result<MigrationLock, DbError> {
        let started = Instant::now();
        let mut session = db.open_session()?;
        check_not_pooled(&mut session, db.client()).map_err(|e| db.scrub_err(e))?;
        MigrationLock::take(db, session, table, started, timeout)
    }

    fn take(
        db: &Database,
        mut session: Client,
        table: &VersionTable,
        started: Instant,
        timeout: Duration,
    ) -> Result<MigrationLock, DbError> {
        let table =
            super::catalog::resolve_table(&mut session, table).map_err(|e| db.scrub_err(e))?;
        let key = lock_key(table.schema().unwrap_or_default(), table.name());
        acquire_on(&mut session, key, &table, started, timeout).map_err(|e| db.scrub_err(e))?;
        match holds(&mut session, key) {
            Ok(true) => {}
            Ok(false) => {
                return Err(DbError::PoolerDetected {
                    detail: "the advisory lock taken in one transaction was not held in the next"
                        .to_string(),
                })
            }
            Err(e) => {
                return Err(db.scrub_err(DbError::Query {
                    context: "checking the migration lock".to_string(),
                    message: e,
                }))
            }
        }
        let lost = Arc::new(Mutex::new(None));
        let watched = Arc::new(AtomicI32::new(0));
        let blockers = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = mpsc::channel();
        let watcher = {
            let seen = Seen {
                lost: Arc::clone(&lost),
                watched: Arc::clone(&watched),
                blockers: Arc::clone(&blockers),
            };
            std::thread::Builder::new()
                .name("mergepoint-lock-watch".to_string())
                .spawn(move || watch(session, key, seen, stopped))
                .map_err(|e| DbError::Query {
                    context: "starting the lock watcher".to_string(),
                    message: e.to_string(),
                })?
        };
        Ok(MigrationLock {
            key,
            table: table.display_name(),
            lost,
            watched,
            blockers,
            stop: Some(stop),
            watcher: Some(watcher),
        })
    }

    /// The advisory lock key held.
    pub fn key(&self) -> i64 {
        self.key
    }

    /// Err with what the watcher saw if the lock is no longer held.
    pub fn check(&self) -> Result<(), String> {
        match &*self.lost.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }

    /// Releases the lock and closes its session.
    pub fn release(mut self) {
        self.unlock();
    }

    fn unlock(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        self.unlock();
    }
}

/// What the watcher shares with the run.
struct Seen {
    lost: Arc<Mutex<Option<String>>>,
    watched: Arc<AtomicI32>,
    blockers: Arc<Mutex<Vec<Blocker>>>,
}

/// The watcher: checks every [`WATCH_INTERVAL`] that `session` still holds
/// `key` (and notes who the work session waits for, for lock-timeout
/// messages), until told to stop; then unlocks and closes the session.
fn watch(mut session: Client, key: i64, seen: Seen, stop: mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(WATCH_INTERVAL) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let reason = match holds(&mut session, key) {
            Ok(true) => {
                note_blockers(&mut session, &seen);
                continue;
            }
            Ok(false) => "the lock session no longer holds the advisory lock".to_string(),
            Err(e) => format!("the lock session ended: {e}"),
        };
        *seen.lost.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        // Nothing more to watch; the session is gone or useless.
        return;
    }
    // Closing the session frees the lock anyway; unlock explicitly so the
    // release does not depend on how fast the server notices.
    let _ = session.batch_execute(&format!("SELECT pg_advisory_unlock({key})"));
    let _ = session.close();
}

/// Notes the sessions the watched backend waits for, if any.
fn note_blockers(session: &mut Client, seen: &Seen) {
    let pid = seen.watched.load(Ordering::Relaxed);
    if pid == 0 {
        return;
    }
    let Ok(rows) = session.query(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), \
         coalesce(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), \
         left(coalesce(a.query, ''), 200) \
         FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid",
        &[&pid],
    ) else {
        return;
    };
    if rows.is_empty() {
        return;
    }
    let found = rows
        .iter()
        .map(|r| Blocker {
            pid: r.get(0),
            application_name: r.get(1),
            user: r.get(2),
            query_start: r.get(3),
            query: r
                .get::<_, String>(4)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    *seen.blockers.lock().unwrap_or_else(|e| e.into_inner()) = found;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable() {
        assert_eq!(
            lock_key("public", "alembic_version"),
            lock_key("public", "alembic_version")
        );
        assert_ne!(
            lock_key("public", "alembic_version"),
            lock_key("other", "alembic_version")
        );
        assert_ne!(
            lock_key("public", "alembic_version"),
            guard_key("public", "alembic_version")
        );
    }
}
