//! A throwaway PostgreSQL database per test, on a real server.
//!
//! The admin URL is `DATABASE_URL` if set, else
//! `postgresql://postgres@127.0.0.1:5432/postgres`. If the server cannot be
//! reached the test panics and says how to start it: these tests never
//! skip silently.

use mergepoint::db::VersionTable;
use mergepoint::graph::{Revision, RevisionGraph};
use postgres::{Client, NoTls};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use mergepoint::db::RevisionSql;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// This database's URL with the session setting `mp.slow=on`, which the
/// "slow" test revisions read to sleep in the middle of their SQL.
pub fn slow_url(db: &TestDb) -> String {
    format!(
        "{}{}options=-c%20mp.slow%3Don",
        db.url,
        if db.url.contains('?') { "&" } else { "?" }
    )
}

/// Waits (at most `limit`) until some other active session of `db`
/// matches the SQL condition `on_activity` (over `pg_stat_activity`);
/// panics naming `what` if `child` exits first or time runs out.
pub fn wait_for_activity(
    db: &TestDb,
    on_activity: &str,
    what: &str,
    child: &mut std::process::Child,
    limit: std::time::Duration,
) {
    use std::time::{Duration, Instant};
    let mut admin = db.client();
    let started = Instant::now();
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'active' AND pid <> pg_backend_pid() AND ({on_activity})"
    );
    loop {
        let n: i64 = admin.query_one(&sql, &[]).unwrap().get(0);
        if n > 0 {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the runner ended before reaching {what}: {status}");
        }
        assert!(started.elapsed() < limit, "the runner never reached {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 90 s) until some session of `db` is inside the slow
/// revision's `pg_sleep`; panics if `child` exits first.
pub fn wait_until_inside_slow_revision(db: &TestDb, child: &mut std::process::Child) {
    wait_for_activity(
        db,
        "query LIKE '%pg_sleep(CASE%'",
        "the slow revision",
        child,
        std::time::Duration::from_secs(90),
    );
}

/// Pipes `script` into `psql` on `url` (with `-v ON_ERROR_STOP=1` when
/// `stop_on_error`) and returns what it did.
pub fn psql(url: &str, script: &str, stop_on_error: bool) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut args = vec!["-X", "-q", "-d", url, "-f", "-"];
    if stop_on_error {
        args.splice(2..2, ["-v", "ON_ERROR_STOP=1"]);
    }
    let mut child = Command::new("psql")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Applies `script` with `psql -v ON_ERROR_STOP=1`; panics with psql's
/// errors and the script if it fails.
pub fn psql_apply(url: &str, script: &str) {
    let out = psql(url, script, true);
    assert!(
        out.status.success(),
        "psql failed: {}\n--- script ---\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The admin URL the tests use.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A connection with the admin URL; panics with instructions if the server
/// is not there.
pub fn admin_client() -> Client {
    let url = admin_url();
    Client::connect(&url, NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {} ({e}).\nThese tests need a real server: start it with \
             `pg_ctlcluster --skip-systemctl-redirect 15 main start` (or point DATABASE_URL at one \
             with trust or password auth and CREATEDB rights).",
            mergepoint::db::mask_url(&url)
        )
    })
}

/// `url` with its database name replaced by `db`.
pub fn with_dbname(url: &str, db: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

/// A uniquely named database, dropped (WITH (FORCE)) when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Creates `mp_test_<pid>_<counter>_<random>`.
    pub fn create() -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let rand = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("mp_test_{}_{}_{}", std::process::id(), n, &rand[..8]);
        let mut admin = admin_client();
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = with_dbname(&admin_url(), &name);
        TestDb { name, url }
    }

    /// A fresh plain session on this database.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test database")
    }

    /// A mergepoint session on this database.
    pub fn database(&self) -> mergepoint::db::Database {
        mergepoint::db::Database::connect(&self.url).expect("connect to the test database")
    }

    /// The version table rows.
    pub fn rows(&self) -> Vec<String> {
        mergepoint::db::current(&mut self.client(), &VersionTable::default()).unwrap()
    }

    /// Tables, columns (type, nullability, default), indexes, constraints,
    /// sequences and views of schema `public` from `pg_catalog`, sorted, one
    /// per line; the version table and the audit table are left out.
    pub fn schema_dump(&self) -> String {
        let sql = r#"
WITH rels AS (
  SELECT c.oid, c.relname, c.relkind FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public'
    AND c.relname NOT IN ('alembic_version', 'alembic_version_pkc')
    AND c.relname NOT LIKE 'mergepoint_history%'
)
SELECT coalesce(string_agg(line, E'\n' ORDER BY line), '') FROM (
  SELECT format('rel %s %s', relname, relkind) AS line FROM rels
  UNION ALL
  SELECT format('col %s.%s %s notnull=%s default=%s', r.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid))
  FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
  WHERE r.relkind IN ('r', 'v', 'm', 'p')
  UNION ALL
  SELECT format('idx %s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
  FROM pg_index i JOIN rels r ON r.oid = i.indexrelid
  UNION ALL
  SELECT format('con %s %s %s', con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid))
  FROM pg_constraint con JOIN rels r ON r.oid = con.conrelid
) lines"#;
        self.client().query_one(sql, &[]).unwrap().get(0)
    }

    /// The audit rows as (revision, direction, success, error), oldest first.
    pub fn audit(&self) -> Vec<(String, String, bool, Option<String>)> {
        mergepoint::db::history(&mut self.client(), &VersionTable::default(), None)
            .unwrap()
            .into_iter()
            .map(|h| (h.revision, h.direction, h.success, h.error))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&admin_url(), NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A login role with a password, dropped on drop.
pub struct TestRole {
    pub name: String,
    pub password: String,
}

impl TestRole {
    pub fn create(db: &TestDb) -> TestRole {
        let rand = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("mp_role_{}", &rand[..10]);
        let password = format!("Pw{}Zq", &rand[10..26]);
        let mut admin = admin_client();
        admin
            .batch_execute(&format!(
                "CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'; GRANT ALL ON DATABASE \"{}\" TO \"{name}\"",
                db.name
            ))
            .expect("create test role");
        db.client()
            .batch_execute(&format!("GRANT ALL ON SCHEMA public TO \"{name}\""))
            .expect("grant schema");
        TestRole { name, password }
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&admin_url(), NoTls) {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
        }
    }
}

/// A test fixture: revisions with their SQL.
pub struct Fixture {
    pub graph: RevisionGraph,
    pub sql: HashMap<String, RevisionSql>,
}

/// Builder for fixtures: `rev(id, parents, upgrade, downgrade)`.
#[derive(Default)]
pub struct FixtureBuilder {
    revs: Vec<Revision>,
    sql: HashMap<String, RevisionSql>,
}

impl FixtureBuilder {
    pub fn rev(mut self, id: &str, parents: &[&str], up: &str, down: &str) -> Self {
        self.revs.push(Revision::new(id, parents));
        self.sql.insert(
            id.to_string(),
            RevisionSql {
                upgrade: up.to_string(),
                downgrade: down.to_string(),
                transactional: true,
                timeouts: Default::default(),
            },
        );
        self
    }

    pub fn nontx(mut self, id: &str, parents: &[&str], up: &str, down: &str) -> Self {
        self = self.rev(id, parents, up, down);
        self.sql.get_mut(id).unwrap().transactional = false;
        self
    }

    pub fn build(self) -> Fixture {
        Fixture {
            graph: RevisionGraph::build(self.revs).expect("valid fixture graph"),
            sql: self.sql,
        }
    }
}

/// Two branches from one base:
///
/// ```text
/// a0 ─ b1 ─ b2        (orders branch)
///   └─ c1 ─ c2        (customers branch, c2 is non-transactional CREATE INDEX CONCURRENTLY)
/// ```
pub fn two_branches() -> Fixture {
    FixtureBuilder::default()
        .rev(
            "aaaa00000000",
            &[],
            "CREATE TABLE base_t (id serial PRIMARY KEY, name text NOT NULL);",
            "DROP TABLE base_t;",
        )
        .rev(
            "bbbb00000001",
            &["aaaa00000000"],
            "CREATE TABLE orders (id bigserial PRIMARY KEY, base_id int REFERENCES base_t(id));\nCREATE INDEX orders_base ON orders (base_id);",
            "DROP TABLE orders;",
        )
        .rev(
            "bbbb00000002",
            &["bbbb00000001"],
            "ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';",
            "ALTER TABLE orders DROP COLUMN status;",
        )
        .rev(
            "cccc00000001",
            &["aaaa00000000"],
            "CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE);",
            "DROP TABLE customers;",
        )
        .nontx(
            "cccc00000002",
            &["cccc00000001"],
            "CREATE INDEX CONCURRENTLY customers_email_lower ON customers (lower(email));\nCOMMENT ON TABLE customers IS 'people';",
            "DROP INDEX CONCURRENTLY customers_email_lower;\nCOMMENT ON TABLE customers IS NULL;",
        )
        .build()
}

/// A straight line of `n` trivial revisions `r000000000001`...
pub fn linear(n: usize) -> Fixture {
    let mut b = FixtureBuilder::default();
    let ids: Vec<String> = (1..=n).map(|i| format!("r{i:011}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let parents: Vec<&str> = if i == 0 {
            vec![]
        } else {
            vec![ids[i - 1].as_str()]
        };
        b = b.rev(
            id,
            &parents,
            &format!("CREATE TABLE t_{id} (x int);"),
            &format!("DROP TABLE t_{id};"),
        );
    }
    b.build()
}
