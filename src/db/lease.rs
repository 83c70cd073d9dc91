//! The lease lock (`--lock lease`): the migration lock as a row in a table,
//! for connections through a pooler in transaction pooling mode, where a
//! session-level advisory lock protects nothing (see [`super::lock`]).
//!
//! The row lives in [`LEASE_TABLE`] beside the version table, keyed on the
//! version table's `schema.name`: who holds it (a UUID per run, and a
//! description for people), when it was taken and when it expires. A run
//! takes it with one `INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at
//! < now()`, so it gets the row only if nobody holds it or the holder let it
//! expire; a heartbeat thread on its own connection renews it every TTL/3
//! (`UPDATE ... WHERE holder = me`; no row means someone took it over); the
//! run deletes it at the end (`DELETE ... WHERE holder = me`). A runner that
//! crashed stops renewing, so the next one takes over once the lease
//! expires, never before.
//!
//! Pooler-safe by construction: every statement is one simple query, one
//! transaction on its own, and nothing relies on session state; only the
//! server's clock (`now()`) decides expiry, never this machine's.
//!
//! There is no step guard (an advisory lock, unsafe behind a pooler): a
//! lease that may be lost stops the run at once, before its next statement
//! or commit. The run also counts the lease as lost when it has not been
//! renewed for 2/3 of the TTL (two missed heartbeats), so it stops before
//! the server would let another runner take over.
//!
//! [`RunLock`] is what a run holds: the advisory lock (checked for a
//! pooler first) or the lease.

use super::conn::Database;
use super::error::{pg_message, DbError};
use super::lock::{HeldLock, MigrationLock};
use super::names::{quote_ident, quote_literal, VersionTable};
use postgres::{Client, SimpleQueryMessage};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lease table, beside the version table (one row per version table
/// whose lease is held).
pub const LEASE_TABLE: &str = "mergepoint_lock";

/// Default `--lease-ttl`.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// How often a runner waiting for a held lease tries again.
const POLL: Duration = Duration::from_millis(200);

/// Which migration lock a run takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockChoice {
    /// A session-level advisory lock plus the step guard (the default);
    /// refused behind a pooler in transaction or statement pooling mode.
    #[default]
    Advisory,
    /// A row in [`LEASE_TABLE`], renewed every `ttl / 3`.
    Lease { ttl: Duration },
}

/// The lock a run holds.
pub enum RunLock {
    Advisory(MigrationLock),
    Lease(LeaseLock),
}

impl RunLock {
    /// Takes the chosen lock for `table` (schema-qualified), waiting at most
    /// `timeout`. The advisory lock first checks that `db`'s sessions are
    /// not behind a transaction pooler ([`DbError::PoolerDetected`]).
    pub fn acquire(
        db: &mut Database,
        table: &VersionTable,
        choice: LockChoice,
        timeout: Duration,
    ) -> Result<RunLock, DbError> {
        match choice {
            LockChoice::Advisory => Ok(RunLock::Advisory(MigrationLock::acquire_checked(
                db, table, timeout,
            )?)),
            LockChoice::Lease { ttl } => {
                Ok(RunLock::Lease(LeaseLock::acquire(db, table, ttl, timeout)?))
            }
        }
    }

    /// Lets go of the lock.
    pub fn release(self) {
        match self {
            RunLock::Advisory(l) => l.release(),
            RunLock::Lease(l) => l.release(),
        }
    }
}

impl HeldLock for RunLock {
    fn check(&self) -> Result<(), String> {
        match self {
            RunLock::Advisory(l) => l.check(),
            RunLock::Lease(l) => l.check(),
        }
    }

    fn needs_step_guard(&self) -> bool {
        match self {
            RunLock::Advisory(l) => l.needs_step_guard(),
            RunLock::Lease(l) => l.needs_step_guard(),
        }
    }

    fn held_sql(&self) -> Option<String> {
        match self {
            RunLock::Advisory(l) => l.held_sql(),
            RunLock::Lease(l) => l.held_sql(),
        }
    }

    fn watch_waits_of(&self, pid: i32) {
        match self {
            RunLock::Advisory(l) => l.watch_waits_of(pid),
            RunLock::Lease(l) => l.watch_waits_of(pid),
        }
    }

    fn recent_blockers(&self) -> Vec<super::error::Blocker> {
        match self {
            RunLock::Advisory(l) => l.recent_blockers(),
            RunLock::Lease(l) => l.recent_blockers(),
        }
    }
}

/// What the heartbeat shares with the run.
struct State {
    /// Set when the lease is (or may be) lost.
    lost: Option<String>,
    /// When the last renewal that succeeded was sent: the server set the
    /// expiry to its `now()` + TTL after that instant, so the lease is held
    /// at least until this + TTL.
    renewed: Instant,
}

/// A held lease, renewed by its own thread. Released on
/// [`LeaseLock::release`] or drop; if the process dies it expires.
pub struct LeaseLock {
    table: String,
    ttl: Duration,
    /// See [`Lease::held_sql`].
    held_sql: String,
    state: Arc<Mutex<State>>,
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LeaseLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseLock")
            .field("table", &self.table)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The SQL names and literals of one lease.
struct Lease {
    /// The quoted, schema-qualified lease table.
    sql_table: String,
    /// The key literal: the version table's `schema.name`.
    key: String,
    /// The holder literal: this run's UUID.
    holder: String,
    ttl_ms: u128,
}

impl Lease {
    fn new(table: &VersionTable, ttl: Duration) -> Lease {
        let sql_table = match table.schema() {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(LEASE_TABLE)),
            None => quote_ident(LEASE_TABLE),
        };
        Lease {
            sql_table,
            key: quote_literal(&table.display_name()),
            holder: quote_literal(&uuid::Uuid::new_v4().to_string()),
            ttl_ms: ttl.as_millis().max(1),
        }
    }

    fn create_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {} (lock_key text PRIMARY KEY, holder uuid NOT NULL, \
             holder_info text NOT NULL, acquired_at timestamptz NOT NULL, \
             expires_at timestamptz NOT NULL)",
            self.sql_table
        )
    }

    /// Takes the row if it is free or expired; returns a row only then.
    fn take_sql(&self, info: &str) -> String {
        format!(
            "INSERT INTO {t} AS l (lock_key, holder, holder_info, acquired_at, expires_at) \
             VALUES ({k}, {h}, {i} || ' (user ' || current_user || ')', now(), \
             now() + {ms} * interval '1 millisecond') \
             ON CONFLICT (lock_key) DO UPDATE SET holder = excluded.holder, \
             holder_info = excluded.holder_info, acquired_at = excluded.acquired_at, \
             expires_at = excluded.expires_at WHERE l.expires_at < now() RETURNING 1",
            t = self.sql_table,
            k = self.key,
            h = self.holder,
            i = quote_literal(info),
            ms = self.ttl_ms,
        )
    }

    fn renew_sql(&self) -> String {
        format!(
            "UPDATE {} SET expires_at = now() + {} * interval '1 millisecond' \
             WHERE lock_key = {} AND holder = {}",
            self.sql_table, self.ttl_ms, self.key, self.holder
        )
    }

    /// True while this run holds the lease, checked by the work session
    /// just before each step's COMMIT. `FOR SHARE` keeps the row from
    /// being taken over until that transaction ends, so a runner taking
    /// over after expiry always sees the step committed or not at all;
    /// `clock_timestamp()`, not `now()`, which is when the step began.
    fn held_sql(&self) -> String {
        format!(
            "EXISTS (SELECT 1 FROM {} WHERE lock_key = {} AND holder = {} \
             AND expires_at > clock_timestamp() FOR SHARE)",
            self.sql_table, self.key, self.holder
        )
    }

    fn release_sql(&self) -> String {
        format!(
            "DELETE FROM {} WHERE lock_key = {} AND holder = {}",
            self.sql_table, self.key, self.holder
        )
    }

    /// The holder's description, its expiry (UTC) and seconds left.
    fn holder_sql(&self) -> String {
        format!(
            "SELECT holder_info, to_char(expires_at AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
             round(extract(epoch FROM expires_at - now())::numeric, 1)::text \
             FROM {} WHERE lock_key = {}",
            self.sql_table, self.key
        )
    }
}

/// The rows of a simple query, as text.
fn rows(client: &mut Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, postgres::Error> {
    Ok(client
        .simple_query(sql)?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Rows a simple UPDATE or DELETE changed.
fn changed(client: &mut Client, sql: &str) -> Result<u64, postgres::Error> {
    Ok(client
        .simple_query(sql)?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(n),
            _ => None,
        })
        .sum())
}

/// Who this run is, for the holder column: what someone looking at a held
/// lease needs to find the process.
fn describe_self() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown host".to_string());
    format!(
        "mergepoint {} pid {} on {host}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    )
}

impl LeaseLock {
    /// Opens a session for the lease and its heartbeat, creates
    /// [`LEASE_TABLE`] if missing, and tries to take the lease every 200 ms
    /// until it gets it or `timeout` runs out ([`DbError::LeaseTimeout`],
    /// naming the holder and when its lease expires). `table` must be
    /// schema-qualified. Then starts the heartbeat.
    pub fn acquire(
        db: &Database,
        table: &VersionTable,
        ttl: Duration,
        timeout: Duration,
    ) -> Result<LeaseLock, DbError> {
        let started = Instant::now();
        let mut session = db.open_session()?;
        let lease = Lease::new(table, ttl);
        create_table(&mut session, &lease).map_err(|e| db.scrub_err(e))?;
        let take = lease.take_sql(&describe_self());
        let renewed = loop {
            let sent = Instant::now();
            let got = rows(&mut session, &take)
                .map_err(|e| db.scrub_err(DbError::query("taking the migration lease", &e)))?;
            if !got.is_empty() {
                break sent;
            }
            let waited = started.elapsed();
            if waited >= timeout {
                let holder = rows(&mut session, &lease.holder_sql())
                    .ok()
                    .and_then(|r| r.into_iter().next());
                let field = |i: usize| {
                    holder
                        .as_ref()
                        .and_then(|r| r.get(i).cloned().flatten())
                        .unwrap_or_else(|| "?".to_string())
                };
                return Err(DbError::LeaseTimeout {
                    table: table.display_name(),
                    waited,
                    holder: field(0),
                    expires_at: field(1),
                    expires_in: field(2),
                });
            }
            std::thread::sleep(POLL.min(timeout - waited));
        };
        let state = Arc::new(Mutex::new(State {
            lost: None,
            renewed,
        }));
        let held_sql = lease.held_sql();
        let (stop, stopped) = mpsc::channel();
        let heartbeat = {
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name("mergepoint-lease-heartbeat".to_string())
                .spawn(move || heartbeat(session, lease, ttl, state, stopped))
                .map_err(|e| DbError::Query {
                    context: "starting the lease heartbeat".to_string(),
                    message: e.to_string(),
                })?
        };
        Ok(LeaseLock {
            table: table.display_name(),
            ttl,
            held_sql,
            state,
            stop: Some(stop),
            heartbeat: Some(heartbeat),
        })
    }

    /// Err with what was seen if the lease may no longer be held: the
    /// heartbeat found it taken over or failed, or it has not been renewed
    /// for 2/3 of the TTL.
    pub fn check(&self) -> Result<(), String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = &state.lost {
            return Err(reason.clone());
        }
        let since = state.renewed.elapsed();
        // (ttl / 3 * 2: no overflow for any TTL.)
        if since >= self.ttl / 3 * 2 {
            return Err(format!(
                "the lease was last renewed {:.1} s ago (TTL {:.1} s): the heartbeat is stuck, so another runner may soon take it over",
                since.as_secs_f64(),
                self.ttl.as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Stops the heartbeat and deletes the lease row (if still ours).
    pub fn release(mut self) {
        self.unlock();
    }

    fn unlock(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
    }
}

impl HeldLock for LeaseLock {
    fn check(&self) -> Result<(), String> {
        LeaseLock::check(self)
    }

    /// The step guard is an advisory lock, which a pooler would break; a
    /// lease that may be lost stops the run at once instead.
    fn needs_step_guard(&self) -> bool {
        false
    }

    fn held_sql(&self) -> Option<String> {
        Some(self.held_sql.clone())
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        self.unlock();
    }
}

/// `CREATE TABLE IF NOT EXISTS` can still fail when two runners create the
/// table at the same moment (a unique violation in the catalog); then the
/// table is there, which is all that matters.
fn create_table(session: &mut Client, lease: &Lease) -> Result<(), DbError> {
    let sql = lease.create_sql();
    match session.simple_query(&sql) {
        Ok(_) => Ok(()),
        Err(first) => match session.simple_query(&sql) {
            Ok(_) => Ok(()),
            Err(_) => Err(DbError::Query {
                context: format!("creating the lease table {}", lease.sql_table),
                message: pg_message(&first),
            }),
        },
    }
}

/// The heartbeat: renews the lease every TTL/3 until told to stop, then
/// deletes it. A renewal that changes no row means another runner took the
/// lease over (ours had expired); a failed one means we cannot renew: both
/// mark the lease lost and end the heartbeat.
fn heartbeat(
    mut session: Client,
    lease: Lease,
    ttl: Duration,
    state: Arc<Mutex<State>>,
    stop: mpsc::Receiver<()>,
) {
    let every = (ttl / 3).max(Duration::from_millis(10));
    let renew = lease.renew_sql();
    loop {
        match stop.recv_timeout(every) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let sent = Instant::now();
        let lost = match changed(&mut session, &renew) {
            Ok(0) => Some(
                "the lease row is no longer this run's: it expired and another runner took it over"
                    .to_string(),
            ),
            Ok(_) => None,
            Err(e) => Some(format!("renewing the lease failed: {}", pg_message(&e))),
        };
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        match lost {
            None => s.renewed = sent,
            Some(reason) => {
                s.lost = Some(reason);
                return;
            }
        }
    }
    let _ = changed(&mut session, &lease.release_sql());
    let _ = session.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_sql_is_qualified_and_quoted() {
        let t = VersionTable::new("alembic_version", Some("app's")).unwrap();
        let l = Lease::new(&t, Duration::from_secs(3));
        assert_eq!(l.sql_table, "\"app's\".\"mergepoint_lock\"");
        assert_eq!(l.key, "'app''s.alembic_version'");
        assert_eq!(l.ttl_ms, 3000);
        let take = l.take_sql("o'clock");
        assert!(take.contains("'o''clock'"), "{take}");
        assert!(take.contains("WHERE l.expires_at < now()"), "{take}");
        assert!(l.renew_sql().contains(&format!("holder = {}", l.holder)));
        assert!(l
            .release_sql()
            .starts_with("DELETE FROM \"app's\".\"mergepoint_lock\""));
    }
}
