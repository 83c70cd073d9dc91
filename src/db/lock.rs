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
use postgres::{Client, GenericClient};
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

/// `pg_locks` matches a bigint advisory key as classid (high 32 bits),
/// objid (low 32 bits) and objsubid 1.
const HELD_BY_ME: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
     AND pid = pg_backend_pid() AND granted AND objsubid = 1 \
     AND classid = (($1::bigint >> 32) & 4294967295)::oid \
     AND objid = ($1::bigint & 4294967295)::oid)";

/// Who holds advisory lock `key`, if anyone other than this session does.
pub(crate) fn holder_of(client: &mut impl GenericClient, key: i64) -> Option<LockHolder> {
    let row = client
        .query_opt(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local'), \
             coalesce(a.usename::text, ''), \
             coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid = (($1::bigint >> 32) & 4294967295)::oid \
             AND l.objid = ($1::bigint & 4294967295)::oid AND l.pid <> pg_backend_pid() \
             LIMIT 1",
            &[&key],
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
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(|e| DbError::query("taking the migration lock", &e))?
            .get(0);
        if got {
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

/// An SQL expression: this session holds advisory lock `key`.
pub(crate) fn held_by_me_sql(key: i64) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() \
         AND granted AND objsubid = 1 AND classid = (({key}::bigint >> 32) & 4294967295)::oid \
         AND objid = ({key}::bigint & 4294967295)::oid)"
    )
}

/// True if this session holds advisory lock `key`.
pub(crate) fn holds(client: &mut impl GenericClient, key: i64) -> Result<bool, String> {
    client
        .query_one(HELD_BY_ME, &[&key])
        .map(|r| r.get(0))
        .map_err(|e| pg_message(&e))
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
        let mut session = db.open_session()?;
        let table =
            super::catalog::resolve_table(&mut session, table).map_err(|e| db.scrub_err(e))?;
        let key = lock_key(table.schema().unwrap_or_default(), table.name());
        acquire_on(&mut session, key, &table, started, timeout).map_err(|e| db.scrub_err(e))?;
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
    let _ = session.execute("SELECT pg_advisory_unlock($1)", &[&key]);
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
