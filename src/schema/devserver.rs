//! The dev server: a PostgreSQL server where mergepoint may create and drop
//! databases of its own (Atlas's dev database, Prisma's shadow database).
//!
//! [`DevServer::temp_database`] creates `mergepoint_tmp_<pid>_<random>`
//! (a leftover is recognisable, and its pid says which run left it) and
//! returns a [`TempDatabase`] guard that drops it `WITH (FORCE)` when it
//! goes out of scope, on success and on error alike. Ctrl-C, SIGTERM and
//! SIGHUP are covered by a process-wide handler, installed with the first
//! temporary database: it drops every live one over a fresh admin session
//! and exits 130.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};

use postgres::Client;

use crate::db::{quote_ident, Connector, Database, DbError};

/// The prefix of every temporary database's name.
pub const TEMP_PREFIX: &str = "mergepoint_tmp_";

/// A connection to the dev server's admin database (the one its URL names).
pub struct DevServer {
    admin: Arc<Mutex<Database>>,
    connector: Connector,
}

impl std::fmt::Debug for DevServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServer").finish_non_exhaustive()
    }
}

/// Live temporary databases of this process, by name, with a way to reach
/// their server: what the signal handler drops.
static LIVE: Mutex<BTreeMap<String, Connector>> = Mutex::new(BTreeMap::new());
static HANDLER: Once = Once::new();
/// Set by the signal handler before it drops anything.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

impl DevServer {
    /// Connects to the dev server (`url`: any URL or key=value settings,
    /// as for `--database-url`).
    pub fn connect(url: &str) -> Result<DevServer, DbError> {
        let admin = crate::db::Database::connect(url)?;
        Ok(DevServer {
            connector: admin.connector(),
            admin: Arc::new(Mutex::new(admin)),
        })
    }

    /// What a build on this server depends on besides the SQL it runs:
    /// `version()` and the extensions (with their default versions) it
    /// offers. Part of the built-schema cache's key.
    pub fn describe(&self) -> Result<String, DbError> {
        let mut admin = lock(&self.admin);
        let row = admin
            .client()
            .query_one(
                "SELECT version() || ' / ' || coalesce((SELECT string_agg(name || ' ' || \
                   coalesce(default_version, ''), ', ' ORDER BY name) FROM pg_available_extensions), '')",
                &[],
            )
            .map_err(|e| DbError::query("describing the dev server", &e))?;
        Ok(row.get(0))
    }

    /// Creates an empty temporary database (from `template0`, so that what
    /// someone added to `template1` does not leak into the comparison) and
    /// connects to it.
    pub fn temp_database(&self) -> Result<TempDatabase, DbError> {
        install_signal_handler();
        let rand = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{TEMP_PREFIX}{}_{}", std::process::id(), &rand[..8]);
        // Registered before it exists: a signal between CREATE and the
        // registration would otherwise leave it behind.
        live().insert(name.clone(), self.connector.clone());
        let guard = DropGuard {
            name: name.clone(),
            admin: Arc::clone(&self.admin),
        };
        let created = {
            let mut admin = lock(&self.admin);
            admin
                .client()
                .batch_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE template0",
                    quote_ident(&name)
                ))
                .map_err(|e| DbError::query(format!("creating temporary database {name}"), &e))
                .and_then(|()| admin.connect_to(&name))
        };
        let database = created?;
        Ok(TempDatabase { database, guard })
    }
}

/// A temporary database, dropped when this is dropped.
pub struct TempDatabase {
    // Field order: the session closes before the guard drops the database.
    database: Database,
    guard: DropGuard,
}

impl TempDatabase {
    pub fn name(&self) -> &str {
        &self.guard.name
    }

    pub fn database(&mut self) -> &mut Database {
        &mut self.database
    }

    pub fn client(&mut self) -> &mut Client {
        self.database.client()
    }
}

struct DropGuard {
    name: String,
    admin: Arc<Mutex<Database>>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let mut admin = lock(&self.admin);
        let dropped = admin.client().batch_execute(&drop_sql(&self.name));
        if dropped.is_ok() {
            live().remove(&self.name);
        } else if let Some(connector) = live().remove(&self.name) {
            // The admin session may be the thing that broke: one more try
            // on a fresh one.
            if let Ok(mut c) = connector.open() {
                let _ = c.batch_execute(&drop_sql(&self.name));
            }
        }
    }
}

fn drop_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
}

fn live() -> std::sync::MutexGuard<'static, BTreeMap<String, Connector>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock(admin: &Mutex<Database>) -> std::sync::MutexGuard<'_, Database> {
    admin.lock().unwrap_or_else(|p| p.into_inner())
}

/// On SIGINT, SIGTERM or SIGHUP: drop every live temporary database, then
/// exit 130 (as a shell reports a Ctrl-C'd command). Installed once; if
/// another handler is already set, the guards still drop on every path
/// but a signal.
fn install_signal_handler() {
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            let names: Vec<(String, Connector)> =
                std::mem::take(&mut *live()).into_iter().collect();
            for (name, connector) in names {
                if let Ok(mut c) = connector.open() {
                    let _ = c.batch_execute(&drop_sql(&name));
                }
            }
            eprintln!("error: interrupted; temporary databases dropped");
            std::process::exit(130);
        });
    });
}

/// For `main`, before it reports an outcome: if a signal came, the
/// handler is dropping the temporary databases (which makes the command's
/// own statements fail) and exits 130 itself; wait for it, rather than
/// report that failure and exit first. Returns at once otherwise.
pub fn wait_if_interrupted() {
    if !INTERRUPTED.load(Ordering::SeqCst) {
        return;
    }
    // The handler's connect has a 10 s timeout per database; past this,
    // exit anyway.
    std::thread::sleep(std::time::Duration::from_secs(30));
    std::process::exit(130);
}
