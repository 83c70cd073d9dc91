//! mergepoint through a real PgBouncer (Debian's `pgbouncer` package;
//! `scripts/test` installs it when missing): the advisory lock is refused
//! behind transaction pooling (and accepted behind session pooling), and
//! the lease lock (`--lock lease`) keeps concurrent runners apart, also
//! when the one holding the lease is killed with SIGKILL.
//!
//! Each test starts its own pgbouncer on a free loopback port, with a
//! config in a temporary directory pointing at the test server, and kills
//! it on drop. Every wait has a deadline.

mod common;

use common::pg::{admin_url, TestDb};
use common::project::{text, Project};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The pgbouncer program, or a failure saying how to install it.
fn pgbouncer_program() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("pgbouncer"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "pgbouncer is not installed; these tests need it: `sudo apt-get install -y pgbouncer` \
                 (scripts/test installs it when it can)"
            )
        })
}

/// A pgbouncer of this test's own.
struct Bouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Bouncer {
    /// Starts pgbouncer with `pool_mode` and `pool_size` server connections
    /// per database, in front of the server of [`admin_url`]; waits (at
    /// most 10 s) until it accepts connections.
    fn start(pool_mode: &str, pool_size: u32) -> Bouncer {
        let program = pgbouncer_program();
        let admin = postgres::Config::from_str(&admin_url()).expect("DATABASE_URL parses");
        let host = match admin.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "127.0.0.1".to_string(),
        };
        let server_port = admin.get_ports().first().copied().unwrap_or(5432);
        let user = admin.get_user().unwrap_or("postgres").to_string();
        let password = admin
            .get_password()
            .map(|p| format!(" password={}", String::from_utf8_lossy(p)))
            .unwrap_or_default();
        let dir = tempfile::tempdir().unwrap();
        // A free port: bind, note, let go (then pgbouncer binds it).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ini = format!(
            "[databases]\n* = host={host} port={server_port} user={user}{password}\n\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {auth}\npool_mode = {pool_mode}\n\
             default_pool_size = {pool_size}\nmax_client_conn = 100\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            auth = dir.path().join("users.txt").display()
        );
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).unwrap();
        std::fs::write(dir.path().join("users.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        #[cfg(unix)]
        {
            // pgbouncer refuses to run as root; as another user it must
            // still read its files.
            use std::os::unix::fs::PermissionsExt;
            for (p, mode) in [
                (dir.path().to_path_buf(), 0o755),
                (dir.path().join("pgbouncer.ini"), 0o644),
                (dir.path().join("users.txt"), 0o644),
            ] {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let log = std::fs::File::create(dir.path().join("pgbouncer.log")).unwrap();
        let mut cmd = Command::new(&program);
        if running_as_root() {
            cmd.args(["-u", "nobody"]);
        }
        cmd.arg(dir.path().join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut b = Bouncer { child, port, dir };
        let started = Instant::now();
        while TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_millis(200),
        )
        .is_err()
        {
            if let Some(status) = b.child.try_wait().unwrap() {
                panic!("pgbouncer exited ({status}) before listening:\n{}", b.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "pgbouncer did not listen on port {port} within 10 s:\n{}",
                b.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    /// The URL of `db` through this pgbouncer.
    fn url(&self, db: &TestDb) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{}", self.port, db.name)
    }

    fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("pgbouncer.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

const R1: &str = "aaaa00000001";
const R2: &str = "aaaa00000002";
const R3: &str = "aaaa00000003";

/// Three revisions, each logging itself into `applied`. The middle one
/// first sleeps `sleep` seconds unless the test has put a row into `gate`
/// (which the test creates), so a runner that takes it over is fast.
fn logging_project(sleep: u32) -> Project {
    let p = Project::new();
    p.rev(
        R1,
        &[],
        true,
        &format!("CREATE TABLE applied (rev text NOT NULL);\nINSERT INTO applied VALUES ('{R1}');"),
        "DROP TABLE applied;",
    );
    p.rev(
        R2,
        &[R1],
        true,
        &format!(
            "SELECT pg_sleep({sleep}) WHERE NOT EXISTS (SELECT 1 FROM gate);\nINSERT INTO applied VALUES ('{R2}');"
        ),
        &format!("DELETE FROM applied WHERE rev = '{R2}';"),
    );
    p.rev(
        R3,
        &[R2],
        true,
        &format!("INSERT INTO applied VALUES ('{R3}');"),
        &format!("DELETE FROM applied WHERE rev = '{R3}';"),
    );
    p
}

/// A fresh database with the (empty) `gate` table.
fn gated_db() -> TestDb {
    let db = TestDb::create();
    db.client()
        .batch_execute("CREATE TABLE gate (x int)")
        .unwrap();
    db
}

/// (revision, times applied), from the log table.
fn applied(db: &TestDb) -> Vec<(String, i64)> {
    db.client()
        .query(
            "SELECT rev, count(*) FROM applied GROUP BY rev ORDER BY rev",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default()
}

fn once_each() -> Vec<(String, i64)> {
    [R1, R2, R3].iter().map(|r| (r.to_string(), 1)).collect()
}

fn lease_rows(db: &TestDb) -> i64 {
    db.client()
        .query_one("SELECT count(*) FROM mergepoint_lock", &[])
        .unwrap()
        .get(0)
}

/// Waits (at most 60 s) until a session of `db` sleeps in the middle
/// revision; fails if `child` ends first.
fn wait_until_sleeping(db: &TestDb, child: &mut Child) {
    common::pg::wait_for_activity(
        db,
        "wait_event = 'PgSleep'",
        "the sleeping revision",
        child,
        Duration::from_secs(60),
    );
}

fn wait_output(mut child: Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the runner did not finish within {limit:?}:\n{}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn advisory_lock_through_transaction_pooling_is_refused() {
    let db = gated_db();
    let p = logging_project(0);
    for (mode, pool_size) in [("transaction", 1), ("transaction", 4), ("statement", 2)] {
        let bouncer = Bouncer::start(mode, pool_size);
        let out = p.run(&["upgrade", "heads", "--database-url", &bouncer.url(&db)]);
        let t = text(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{mode} pool of {pool_size}:\n{t}"
        );
        assert!(
            t.contains("connection pooler in transaction or statement pooling mode")
                && t.contains("--lock lease")
                && t.contains("session pooling")
                && t.contains("nothing was done"),
            "{t}"
        );
        // Nothing ran, and no advisory lock was left on a pooled server
        // connection.
        assert!(applied(&db).is_empty());
        assert!(db.rows().is_empty());
        let locks: i64 = db
            .client()
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(locks, 0, "{mode} pool of {pool_size}");
    }
    // `stamp` takes the same lock.
    let bouncer = Bouncer::start("transaction", 2);
    let out = p.run(&["stamp", R1, "--database-url", &bouncer.url(&db)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(db.rows().is_empty());
}

#[test]
fn advisory_lock_through_session_pooling_works() {
    let db = gated_db();
    let p = logging_project(0);
    let bouncer = Bouncer::start("session", 4);
    let out = p.run(&["upgrade", "heads", "--database-url", &bouncer.url(&db)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(applied(&db), once_each());
}

#[test]
fn two_lease_runners_through_pgbouncer_apply_each_revision_once() {
    let db = gated_db();
    let p = logging_project(2);
    let bouncer = Bouncer::start("transaction", 3);
    let url = bouncer.url(&db);
    let args = [
        "upgrade",
        "heads",
        "--lock",
        "lease",
        "--lease-ttl",
        "5",
        "--database-url",
        url.as_str(),
    ];
    let a = p.spawn(&args);
    let b = p.spawn(&args);
    let a = wait_output(a, Duration::from_secs(60));
    let b = wait_output(b, Duration::from_secs(60));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    assert_eq!(applied(&db), once_each(), "{}\n{}", text(&a), text(&b));
    assert_eq!(db.rows(), vec![R3.to_string()]);
    // One applied everything; the other waited, then found nothing to do.
    let nothing = [&a, &b]
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stdout).contains("Nothing to do"))
        .count();
    assert_eq!(nothing, 1, "{}\n{}", text(&a), text(&b));
    assert_eq!(lease_rows(&db), 0, "the lease was released");
}

#[test]
fn a_killed_lease_holder_is_taken_over_after_expiry() {
    let db = gated_db();
    let p = logging_project(60);
    let bouncer = Bouncer::start("transaction", 3);
    let url = bouncer.url(&db);
    let args = |timeout: &'static str| {
        vec![
            "upgrade".to_string(),
            "heads".to_string(),
            "--lock".to_string(),
            "lease".to_string(),
            "--lease-ttl".to_string(),
            "3".to_string(),
            "--lock-timeout".to_string(),
            timeout.to_string(),
            "--database-url".to_string(),
            url.clone(),
        ]
    };
    let first_args = args("30");
    let mut first = p.spawn(&argv(&first_args));
    wait_until_sleeping(&db, &mut first);

    // While the lease is renewed, a runner with a short --lock-timeout
    // gives up with exit 4, naming the holder and the expiry.
    let impatient = p.run(&argv(&args("1")));
    let t = text(&impatient);
    assert_eq!(impatient.status.code(), Some(4), "{t}");
    assert!(
        t.contains("could not take the migration lease for public.alembic_version")
            && t.contains(&format!("pid {}", first.id()))
            && t.contains("unless renewed"),
        "{t}"
    );

    let second_args = args("30");
    let second = p.spawn(&argv(&second_args));
    std::thread::sleep(Duration::from_millis(300));
    first.kill().unwrap(); // SIGKILL
    let _ = first.wait();
    let killed = Instant::now();
    // From now on the middle revision does not sleep.
    db.client()
        .batch_execute("INSERT INTO gate VALUES (1)")
        .unwrap();
    let out = wait_output(second, Duration::from_secs(60));
    let waited = killed.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The lease was renewed at most a second (TTL/3) before the kill, so
    // it expired at least two seconds after it.
    assert!(
        waited >= Duration::from_millis(1500),
        "taken over {waited:?} after the kill, before the 3 s lease could expire"
    );
    assert_eq!(applied(&db), once_each(), "{}", text(&out));
    assert_eq!(db.rows(), vec![R3.to_string()]);
    let ok: Vec<(String, String)> = db
        .audit()
        .into_iter()
        .filter(|a| a.2)
        .map(|a| (a.0, a.1))
        .collect();
    let up = |r: &str| (r.to_string(), "upgrade".to_string());
    assert_eq!(ok, vec![up(R1), up(R2), up(R3)]);
    assert_eq!(lease_rows(&db), 0, "the lease was released");
}

fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Many short runs from several processes at once through one small pool:
/// mergepoint's own statements must not use named prepared statements,
/// which PgBouncer (before 1.21) leaves on whichever server connection a
/// transaction ran on, so that another client's statement of the same name
/// fails there ("prepared statement \"s0\" already exists").
#[test]
fn concurrent_lease_runs_through_pgbouncer_never_trip_over_prepared_statements() {
    let db = gated_db();
    let p = logging_project(0);
    let bouncer = Bouncer::start("transaction", 2);
    let url = bouncer.url(&db);
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut failed = Vec::new();
                    for target in ["heads", "base"].iter().cycle().take(10) {
                        let cmd = if *target == "heads" {
                            "upgrade"
                        } else {
                            "downgrade"
                        };
                        let out = p.run(&[cmd, target, "--lock", "lease", "--database-url", &url]);
                        if !out.status.success() {
                            failed.push(text(&out));
                        }
                    }
                    failed
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let out = p.run(&[
        "upgrade",
        "heads",
        "--lock",
        "lease",
        "--database-url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(applied(&db), once_each());
}

/// A run whose lease is taken from it (here by hand, as if it had expired
/// and another runner had taken it) stops at once: the step in progress is
/// rolled back rather than committed, and the run exits 4. With a TTL of
/// 3 s the heartbeat (every second) finds out during the 3-second step;
/// with 60 s it does not, and the check inside the step's transaction,
/// just before COMMIT, does.
#[test]
fn a_run_that_loses_its_lease_commits_nothing_more() {
    for ttl in ["3", "60"] {
        let db = gated_db();
        let p = logging_project(3);
        let mut runner = p.spawn(&[
            "upgrade",
            "heads",
            "--lock",
            "lease",
            "--lease-ttl",
            ttl,
            "--database-url",
            &db.url,
        ]);
        wait_until_sleeping(&db, &mut runner);
        let stolen = db
            .client()
            .execute(
                "UPDATE mergepoint_lock SET holder = gen_random_uuid(), holder_info = 'someone else'",
                &[],
            )
            .unwrap();
        assert_eq!(stolen, 1);
        let out = wait_output(runner, Duration::from_secs(60));
        let t = text(&out);
        assert_eq!(out.status.code(), Some(4), "TTL {ttl}: {t}");
        assert!(
            t.contains("was lost during the run")
                && t.contains("another runner took it over")
                && t.contains(&format!("before revision {R2}")),
            "TTL {ttl}: {t}"
        );
        assert_eq!(applied(&db), vec![(R1.to_string(), 1)], "TTL {ttl}");
        assert_eq!(db.rows(), vec![R1.to_string()], "TTL {ttl}");
    }
}

/// `lock: lease` in mergepoint.yaml chooses the lease lock (`--lock`
/// overrides it); `--lease-ttl` without the lease lock and an unknown
/// `lock:` value are input errors.
#[test]
fn lease_lock_from_mergepoint_yaml() {
    let db = gated_db();
    let p = logging_project(0);
    let bouncer = Bouncer::start("transaction", 2);
    let url = bouncer.url(&db);
    let config = p.path().join("mergepoint.yaml");

    std::fs::write(&config, "format: native\nlock: bogus\n").unwrap();
    let out = p.run(&["upgrade", "heads", "--database-url", &url]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("mergepoint.yaml") && t.contains("lease"), "{t}");

    std::fs::write(&config, "format: native\nlock: lease\n").unwrap();
    let out = p.run(&[
        "upgrade",
        "heads",
        "--lock",
        "advisory",
        "--database-url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = p.run(&["upgrade", "heads", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(applied(&db), once_each());

    std::fs::write(&config, "format: native\n").unwrap();
    let out = p.run(&[
        "downgrade",
        "base",
        "--lease-ttl",
        "5",
        "--database-url",
        &url,
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("--lease-ttl only applies to the lease lock"),
        "{t}"
    );
    assert_eq!(db.rows(), vec![R3.to_string()]);
}

/// The lease on its own (library): while the heartbeat cannot renew it
/// (another session holds the row), the run counts it as lost once 2/3 of
/// the TTL have passed, before the server would let anyone take it over;
/// leases of different version tables do not block each other; a held
/// lease makes another runner wait, then time out naming the holder.
#[test]
fn lease_lock_in_the_library() {
    use mergepoint::db::{DbError, HeldLock, LeaseLock, VersionTable};
    let db = TestDb::create();
    let database = db.database();
    let table = VersionTable::new("alembic_version", Some("public")).unwrap();
    let other_table = VersionTable::new("other_version", Some("public")).unwrap();
    let ttl = Duration::from_millis(1500);
    let lease = LeaseLock::acquire(&database, &table, ttl, Duration::from_secs(5)).unwrap();
    assert!(!lease.needs_step_guard());
    assert_eq!(lease.check(), Ok(()));

    let other = LeaseLock::acquire(&database, &other_table, ttl, Duration::from_secs(1)).unwrap();
    let started = Instant::now();
    let e = LeaseLock::acquire(&database, &table, ttl, Duration::from_millis(700)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert!(matches!(e, DbError::LeaseTimeout { .. }), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("public.alembic_version")
            && m.contains(&format!("pid {}", std::process::id()))
            && m.contains("until 20"),
        "{m}"
    );

    // Holding the row blocks the heartbeat's UPDATE.
    let mut blocker = db.client();
    let mut tx = blocker.transaction().unwrap();
    tx.batch_execute(
        "SELECT * FROM mergepoint_lock WHERE lock_key = 'public.alembic_version' FOR UPDATE",
    )
    .unwrap();
    let blocked = Instant::now();
    while lease.check().is_ok() {
        assert!(
            blocked.elapsed() < Duration::from_secs(5),
            "a stuck heartbeat was never noticed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let m = lease.check().unwrap_err();
    assert!(
        m.contains("last renewed") && m.contains("heartbeat is stuck"),
        "{m}"
    );
    // Noticed before the lease could expire on the server.
    let left: f64 = tx
        .query_one(
            "SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 FROM mergepoint_lock WHERE lock_key = 'public.alembic_version'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        left > 0.0,
        "the lease had already expired ({left} s) when the run noticed"
    );
    tx.rollback().unwrap();
    lease.release();
    other.release();
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM mergepoint_lock", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "both leases were released");
}
