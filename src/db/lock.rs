//! The migration lock: a session-level PostgreSQL advisory lock keyed on
//! the version table, held on its own dedicated session.
//!
//! A dedicated session means the lock never shows up as an open
//! transaction on the work session, so `CREATE INDEX CONCURRENTLY` (which
//! waits for older transactions) is not blocked by it. If the process dies,
//! the server ends the session and the lock is freed.

use super::conn::Database;
use super::error::DbError;
use super::names::VersionTable;
use postgres::Client;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Default `--lock-timeout`.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

const POLL: Duration = Duration::from_millis(50);

/// The advisory lock key for a version table: the first 8 bytes of
/// SHA-256 of `mergepoint:<schema>.<table>`, as a signed 64-bit integer.
/// Stable across processes, versions and platforms.
pub fn lock_key(schema: &str, table: &str) -> i64 {
    let digest = Sha256::digest(format!("mergepoint:{schema}.{table}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(b)
}

/// A held migration lock. Released on [`MigrationLock::release`] or drop,
/// and by the server if the process dies.
pub struct MigrationLock {
    session: Option<Client>,
    key: i64,
    table: String,
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
    /// runs out ([`DbError::LockTimeout`], exit code 4). With no schema
    /// given, the key uses the session's `current_schema()`, so runners
    /// naming the schema and runners relying on the search path agree.
    pub fn acquire(
        db: &Database,
        table: &VersionTable,
        timeout: Duration,
    ) -> Result<MigrationLock, DbError> {
        let mut session = db.open_session()?;
        let schema = match table.schema() {
            Some(s) => s.to_string(),
            None => session
                .query_one("SELECT coalesce(current_schema(), '')", &[])
                .map_err(|e| db.scrub_err(DbError::query("reading current_schema()", &e)))?
                .get(0),
        };
        let key = lock_key(&schema, table.name());
        let started = Instant::now();
        loop {
            let got: bool = session
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(|e| db.scrub_err(DbError::query("taking the migration lock", &e)))?
                .get(0);
            if got {
                return Ok(MigrationLock {
                    session: Some(session),
                    key,
                    table: table.display_name(),
                });
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(DbError::LockTimeout {
                    table: table.display_name(),
                    waited,
                });
            }
            std::thread::sleep(POLL.min(timeout - waited));
        }
    }

    /// The advisory lock key held.
    pub fn key(&self) -> i64 {
        self.key
    }

    /// Releases the lock and closes its session.
    pub fn release(mut self) {
        self.unlock();
    }

    fn unlock(&mut self) {
        if let Some(mut s) = self.session.take() {
            // Closing the session frees the lock anyway; unlock explicitly
            // so the release does not depend on how fast the server notices.
            let _ = s.execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
            let _ = s.close();
        }
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        self.unlock();
    }
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
    }
}
