//! Online runs of an Alembic project (issue 17, item 1), against the real
//! PostgreSQL and real Alembic: tests/fixtures/alembic_online (a data
//! migration through `op.get_bind()`, `autocommit_block()` with CREATE INDEX
//! CONCURRENTLY, a batch operation, a branch and a merge, names from
//! env.py's naming convention, and a revision that fails half way when
//! `MP_TEST_FAIL_HALFWAY=1`) applied by Alembic to one database and by
//! mergepoint to another, compared from the catalogs; then each tool
//! downgrades the other's database to base. Plus 8 concurrent runs.
//!
//! The Python is `MP_ALEMBIC_PYTHON` (scripts/test exports it), else the
//! one scripts/alembic-env installs (pinned Alembic, SQLAlchemy, psycopg);
//! for the async-template project `MP_ALEMBIC_ASYNC_PYTHON`, else
//! `scripts/alembic-env async`'s (asyncpg and no other driver).

mod common;

use common::pg::TestDb;
use common::project::{bin, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const REVISIONS: [&str; 7] = [
    "a0000000001a",
    "a0000000002a",
    "b0000000001b",
    "b0000000002b",
    "c0000000001c",
    "d0000000001d",
    "e0000000001e",
];

/// The Python with Alembic: `MP_ALEMBIC_PYTHON`, else scripts/alembic-env's.
fn python() -> String {
    if let Some(p) = std::env::var("MP_ALEMBIC_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return p;
    }
    alembic_env(&[])
}

/// The interpreter `scripts/alembic-env ARGS` prints (installing it once).
fn alembic_env(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/alembic-env"))
        .args(args)
        .output()
        .expect("run scripts/alembic-env (needs bash and python3 with venv)");
    assert!(
        out.status.success(),
        "scripts/alembic-env could not install Alembic:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A copy of the fixture in a temporary directory.
struct AlembicProject {
    dir: tempfile::TempDir,
    python: String,
    /// The SQLAlchemy URL scheme of the project's own (Alembic's) runs.
    scheme: &'static str,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl AlembicProject {
    fn new() -> AlembicProject {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alembic_online");
        copy_dir(&fixture, dir.path());
        AlembicProject {
            dir,
            python: python(),
            scheme: "postgresql+psycopg://",
        }
    }

    /// The fixture as made from Alembic's async template, in an
    /// environment whose only PostgreSQL driver is asyncpg.
    fn new_async() -> AlembicProject {
        let mut project = AlembicProject::new();
        let root = project.root();
        std::fs::copy(root.join("env_async.py"), root.join("migrations/env.py")).unwrap();
        project.python = std::env::var("MP_ALEMBIC_ASYNC_PYTHON")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| alembic_env(&["async"]));
        project.scheme = "postgresql+asyncpg://";
        let probe = Command::new(&project.python)
            .args([
                "-c",
                "import asyncpg\ntry:\n    import psycopg\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('psycopg is installed')\ntry:\n    import psycopg2\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('psycopg2 is installed')",
            ])
            .output()
            .unwrap();
        assert!(
            probe.status.success(),
            "the async environment must have asyncpg and no other driver: {}",
            text(&probe)
        );
        project
    }

    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `mergepoint ARGS` in the project root, on `db`.
    fn mergepoint(&self, db: &TestDb, args: &[&str], fail_halfway: bool) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(self.root())
            .env("DATABASE_URL", &db.url)
            .env("MP_ALEMBIC_PYTHON", &self.python)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if fail_halfway {
            c.env("MP_TEST_FAIL_HALFWAY", "1");
        } else {
            c.env_remove("MP_TEST_FAIL_HALFWAY");
        }
        c
    }

    fn mp(&self, db: &TestDb, args: &[&str], fail_halfway: bool) -> Output {
        self.mergepoint(db, args, fail_halfway).output().unwrap()
    }

    /// Real Alembic: `python -m alembic ARGS`, its env.py connecting to `db`.
    fn alembic(&self, db: &TestDb, args: &[&str], fail_halfway: bool) -> Output {
        let mut c = Command::new(&self.python);
        c.args(["-m", "alembic"])
            .args(args)
            .current_dir(self.root())
            .env(
                "ALEMBIC_TEST_URL",
                db.url.replacen("postgresql://", self.scheme, 1),
            )
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if fail_halfway {
            c.env("MP_TEST_FAIL_HALFWAY", "1");
        } else {
            c.env_remove("MP_TEST_FAIL_HALFWAY");
        }
        c.output().unwrap()
    }
}

/// The rows of the fixture's tables and the comment on orders, one per
/// line (the catalogs are compared by [`TestDb::schema_dump`]).
fn data_dump(db: &TestDb) -> String {
    let mut client = db.client();
    let mut out = String::new();
    for table in ["users", "orders", "halfway"] {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .unwrap()
            .get(0);
        if !exists {
            continue;
        }
        let rows: String = client
            .query_one(
                &format!(
                    "SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n' ORDER BY t::text), '') FROM {table} t"
                ),
                &[],
            )
            .unwrap()
            .get(0);
        out.push_str(&format!("{table}:\n{rows}\n"));
    }
    let comment: Option<String> = client
        .query_one(
            "SELECT obj_description(to_regclass('orders'), 'pg_class')",
            &[],
        )
        .unwrap()
        .get(0);
    out.push_str(&format!("comment on orders: {comment:?}\n"));
    out
}

/// Schema, data and version table of both databases are the same.
fn assert_same(alembic_db: &TestDb, mp_db: &TestDb, when: &str) {
    assert_eq!(
        alembic_db.schema_dump(),
        mp_db.schema_dump(),
        "{when}: the catalogs differ (left: Alembic's database, right: mergepoint's)"
    );
    assert_eq!(
        data_dump(alembic_db),
        data_dump(mp_db),
        "{when}: the data differ (left: Alembic's database, right: mergepoint's)"
    );
    assert_eq!(
        alembic_db.rows(),
        mp_db.rows(),
        "{when}: alembic_version differs (left: Alembic's database, right: mergepoint's)"
    );
}

#[test]
fn alembic_and_mergepoint_leave_the_same_database_and_take_over_each_others() {
    differential(&AlembicProject::new(), "psycopg");
}

#[test]
fn the_same_on_an_async_template_project_with_only_asyncpg() {
    differential(&AlembicProject::new_async(), "asyncpg");
}

/// Alembic on one database, mergepoint on another (the worker using
/// `driver`): the same after a failure half way, after the upgrade to the
/// heads, and after each has downgraded the other's database to base.
fn differential(project: &AlembicProject, driver: &str) {
    let by_alembic = TestDb::create();
    let by_mp = TestDb::create();

    // 1. Upgrade to the heads; e0000000001e raises half way through.
    let a = project.alembic(&by_alembic, &["upgrade", "heads"], true);
    assert!(
        !a.status.success(),
        "Alembic should fail at e0000000001e: {}",
        text(&a)
    );
    let m = project.mp(&by_mp, &["upgrade", "heads"], true);
    let out = text(&m);
    assert_eq!(m.status.code(), Some(3), "{out}");
    assert!(
        out.contains(&format!("driver {driver})")),
        "the worker did not use {driver}:\n{out}"
    );
    let stderr = String::from_utf8_lossy(&m.stderr);
    for expected in [
        "upgrade of revision e0000000001e failed",
        "upgrade() raised RuntimeError: halfway: the data is not ready",
        "e0000000001e_fails_halfway.py:29",
        "Traceback",
        "in check_ready",
        "rolled back",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        !stderr.contains("mergepoint-alembic-worker"),
        "the worker's own frames are shown:\n{out}"
    );
    assert_eq!(by_mp.rows(), vec!["d0000000001d".to_string()]);
    assert_same(&by_alembic, &by_mp, "after the failed upgrade");
    let dump = by_mp.schema_dump();
    assert!(
        !dump.contains("halfway"),
        "the failed step left its table:\n{dump}"
    );
    assert!(
        dump.contains("con users pk_users") && dump.contains("fk_orders_user_id_users"),
        "names from env.py's naming convention are missing:\n{dump}"
    );
    assert!(
        dump.contains(
            "CREATE INDEX ix_orders_created ON public.orders USING btree (created) valid=t"
        ),
        "the concurrent index is missing:\n{dump}"
    );
    let data = data_dump(&by_mp);
    assert!(
        data.contains("ada.1@example.com") && !data.contains("\"xx\""),
        "the data migration's rows, without the failed step's update:\n{data}"
    );
    let audit = by_mp.audit();
    let failed: Vec<_> = audit.iter().filter(|r| !r.2).collect();
    assert_eq!(failed.len(), 1, "{audit:?}");
    assert_eq!(failed[0].0, "e0000000001e");
    assert_eq!(audit.iter().filter(|r| r.2).count(), 6, "{audit:?}");

    // 2. The data is ready: both finish.
    let a = project.alembic(&by_alembic, &["upgrade", "heads"], false);
    assert!(a.status.success(), "{}", text(&a));
    let m = project.mp(&by_mp, &["upgrade", "heads"], false);
    assert!(m.status.success(), "{}", text(&m));
    assert_eq!(
        String::from_utf8_lossy(&m.stdout).lines().count(),
        1,
        "one line for the one step left: {}",
        text(&m)
    );
    assert_eq!(by_mp.rows(), vec!["e0000000001e".to_string()]);
    assert_same(&by_alembic, &by_mp, "after the upgrade to heads");

    // 3. Each tool downgrades the other's database to base.
    let m = project.mp(&by_alembic, &["downgrade", "base"], false);
    assert!(m.status.success(), "{}", text(&m));
    assert_eq!(
        String::from_utf8_lossy(&m.stdout).lines().count(),
        REVISIONS.len(),
        "{}",
        text(&m)
    );
    let a = project.alembic(&by_mp, &["downgrade", "base"], false);
    assert!(a.status.success(), "{}", text(&a));
    assert_same(&by_alembic, &by_mp, "after the downgrades to base");
    assert_eq!(by_mp.schema_dump(), "", "something is left after base");
    assert!(by_mp.rows().is_empty());

    // 4. And up again by mergepoint on the database Alembic created.
    let m = project.mp(&by_alembic, &["upgrade", "heads"], false);
    assert!(m.status.success(), "{}", text(&m));
    assert_eq!(by_alembic.rows(), vec!["e0000000001e".to_string()]);
}

#[test]
fn eight_concurrent_upgrades_apply_each_revision_once() {
    let project = AlembicProject::new();
    let db = TestDb::create();
    let children: Vec<_> = (0..8)
        .map(|_| {
            project
                .mergepoint(&db, &["upgrade", "heads", "--lock-timeout", "120"], false)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut steps = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        steps += String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("upgrade "))
            .count();
    }
    assert_eq!(steps, REVISIONS.len(), "steps printed by all runs together");
    assert_eq!(db.rows(), vec!["e0000000001e".to_string()]);
    let audit = db.audit();
    for rev in REVISIONS {
        let n = audit
            .iter()
            .filter(|r| r.0 == rev && r.1 == "upgrade" && r.2)
            .count();
        assert_eq!(n, 1, "{rev} applied {n} times: {audit:?}");
    }
    assert_eq!(audit.len(), REVISIONS.len(), "{audit:?}");
    let data = data_dump(&db);
    assert_eq!(
        data.matches("@example.com").count(),
        3,
        "the data migration ran once:\n{data}"
    );
}

#[test]
fn one_transaction_refuses_autocommit_block_and_leaves_nothing() {
    let project = AlembicProject::new();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "heads", "--transaction-per-run"], false);
    let out = text(&m);
    assert_eq!(m.status.code(), Some(3), "{out}");
    assert!(
        out.contains("b0000000002b") && out.contains("autocommit_block() commits the transaction"),
        "{out}"
    );
    assert!(db.rows().is_empty(), "{out}");
    assert_eq!(db.schema_dump(), "", "{out}");

    // Up to the revision before the block, all in one transaction.
    let m = project.mp(
        &db,
        &["upgrade", "a0000000002a", "--transaction-per-run"],
        false,
    );
    assert!(m.status.success(), "{}", text(&m));
    assert_eq!(db.rows(), vec!["a0000000002a".to_string()]);
}

#[test]
fn a_missing_interpreter_is_refused_before_anything_runs() {
    let project = AlembicProject::new();
    let db = TestDb::create();
    let m = project.mp(
        &db,
        &["upgrade", "heads", "--python", "/nonexistent/python3"],
        false,
    );
    let out = text(&m);
    assert_eq!(m.status.code(), Some(2), "{out}");
    assert!(
        out.contains("cannot run the Python interpreter '/nonexistent/python3'")
            && out.contains("hint:")
            && out.contains("nothing was done"),
        "{out}"
    );
    assert!(db.rows().is_empty());
}

#[test]
fn a_no_op_upgrade_starts_no_python() {
    let project = AlembicProject::new();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "heads"], false);
    assert!(m.status.success(), "{}", text(&m));
    // A broken interpreter is not noticed when nothing is left to do.
    let m = project.mp(
        &db,
        &["upgrade", "heads", "--python", "/nonexistent/python3"],
        false,
    );
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(out.contains("Nothing to do"), "{out}");
}

#[test]
fn an_env_py_that_cannot_run_offline_is_named_and_defaults_are_assumed() {
    let project = AlembicProject::new();
    let env_py = project.root().join("migrations/env.py");
    let text_of = std::fs::read_to_string(&env_py).unwrap();
    std::fs::write(
        &env_py,
        text_of.replace(
            "config = context.config\n",
            "config = context.config\nraise ImportError('the app needs its settings')\n",
        ),
    )
    .unwrap();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "a0000000001a"], false);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(
        out.contains("note: env.py could not be run in offline mode: ImportError: the app needs its settings (env.py line 10)")
            && out.contains("no naming_convention"),
        "{out}"
    );
    // Without the naming convention, PostgreSQL names the constraint.
    let dump = db.schema_dump();
    assert!(
        dump.contains("users_name_key") && !dump.contains("uq_users_name"),
        "{dump}"
    );
}

#[test]
fn an_env_py_naming_another_version_table_is_refused() {
    let project = AlembicProject::new();
    let env_py = project.root().join("migrations/env.py");
    let text_of = std::fs::read_to_string(&env_py).unwrap();
    std::fs::write(
        &env_py,
        text_of.replace(
            "        literal_binds=True,\n",
            "        literal_binds=True,\n        version_table=\"app_versions\",\n",
        ),
    )
    .unwrap();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "heads"], false);
    let out = text(&m);
    assert_eq!(m.status.code(), Some(2), "{out}");
    assert!(
        out.contains("env.py configures the version table app_versions")
            && out.contains("nothing was done")
            && out.contains("hint: set version_table"),
        "{out}"
    );
    assert_eq!(db.schema_dump(), "", "{out}");
    // The table the project names works.
    let m = project.mp(
        &db,
        &["upgrade", "heads", "--version-table", "app_versions"],
        false,
    );
    assert!(m.status.success(), "{}", text(&m));
}

/// The audit rows' upgrade checksums, by revision.
fn recorded_sha(db: &TestDb) -> std::collections::HashMap<String, Option<String>> {
    db.client()
        .query(
            "SELECT revision, sql_sha256 FROM mergepoint_history WHERE direction = 'upgrade' AND success",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn check_database_reports_an_applied_python_revision_whose_file_changed() {
    use sha2::{Digest, Sha256};
    let project = AlembicProject::new();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "heads"], false);
    assert!(m.status.success(), "{}", text(&m));
    // The checksum is the SHA-256 of the file.
    let file = project
        .root()
        .join("migrations/versions/a0000000002a_backfill_emails.py");
    let bytes = std::fs::read(&file).unwrap();
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        recorded_sha(&db)["a0000000002a"].as_deref(),
        Some(sha.as_str())
    );

    let check = project.mp(&db, &["check", "--database"], false);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    let mut edited = String::from_utf8(bytes).unwrap();
    edited.push_str("\n# edited after it was applied\n");
    std::fs::write(&file, edited).unwrap();
    let check = project.mp(&db, &["check", "--database"], false);
    let out = text(&check);
    assert_eq!(check.status.code(), Some(1), "{out}");
    assert!(
        out.contains("revision a0000000002a: its file")
            && out.contains("a0000000002a_backfill_emails.py changed after it was applied"),
        "{out}"
    );
    assert_eq!(
        out.matches("changed after it was applied").count(),
        1,
        "one finding for one edited file: {out}"
    );
    // Accepted, it is clean again.
    let repair = project.mp(&db, &["check", "--database", "--repair"], false);
    assert!(
        repair.status.code() == Some(0) || repair.status.code() == Some(1),
        "{}",
        text(&repair)
    );
    let check = project.mp(&db, &["check", "--database"], false);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

fn history_exists(db: &TestDb) -> bool {
    db.client()
        .query_one("SELECT to_regclass('mergepoint_history') IS NOT NULL", &[])
        .unwrap()
        .get(0)
}

#[test]
fn no_audit_keeps_mergepoint_to_the_version_table_and_says_what_is_lost() {
    let project = AlembicProject::new();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "heads", "--no-audit"], false);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(
        out.contains("note: audit is off")
            && out.contains("`mergepoint log`")
            && out.contains("checksum drift"),
        "{out}"
    );
    assert!(!history_exists(&db), "mergepoint_history was created");
    assert_eq!(db.rows(), vec!["e0000000001e".to_string()]);
    let m = project.mp(&db, &["downgrade", "c0000000001c", "--no-audit"], false);
    assert!(m.status.success(), "{}", text(&m));
    assert!(!history_exists(&db));

    // `audit: off` in mergepoint.yaml, for stamp too.
    std::fs::write(project.root().join("mergepoint.yaml"), "audit: off\n").unwrap();
    let m = project.mp(&db, &["downgrade", "base"], false);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(out.contains("note: audit is off"), "{out}");
    assert!(db.rows().is_empty());
    let m = project.mp(&db, &["stamp", "a0000000001a"], false);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(out.contains("note: audit is off"), "{out}");
    assert!(!history_exists(&db), "mergepoint_history was created");
    assert_eq!(db.rows(), vec!["a0000000001a".to_string()]);

    // And on again: the table appears with the next run.
    std::fs::write(project.root().join("mergepoint.yaml"), "audit: on\n").unwrap();
    let m = project.mp(&db, &["stamp", "base"], false);
    assert!(m.status.success(), "{}", text(&m));
    assert!(history_exists(&db));
}

#[test]
fn offline_sql_is_alembics_own_with_placeholders_where_a_connection_is_needed() {
    let project = AlembicProject::new();
    let m = project.mp(&TestDb::create(), &["upgrade", "heads", "--sql"], false);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    let script = String::from_utf8_lossy(&m.stdout).to_string();
    for expected in [
        "rendered by Alembic 1.",
        "-- Running upgrade  -> a0000000001a",
        // env.py's naming convention, offline too.
        "CONSTRAINT pk_users PRIMARY KEY (id)",
        "ALTER TABLE users ADD CONSTRAINT uq_users_name UNIQUE (name);",
        "CONSTRAINT fk_orders_user_id_users FOREIGN KEY(user_id) REFERENCES users (id)",
        "CREATE INDEX CONCURRENTLY ix_orders_created ON orders (created);",
        "-- revision a0000000002a: its upgrade() cannot be written as SQL here:",
        "op.get_bind()",
        "RAISE EXCEPTION USING MESSAGE = 'mergepoint: revision a0000000002a",
        "ALTER TABLE users DROP CONSTRAINT uq_users_name;",
    ] {
        assert!(
            script.contains(expected),
            "missing {expected:?} in:\n{script}"
        );
    }
    // The step with autocommit_block() runs outside BEGIN/COMMIT.
    let b2 = script
        .split("-- Running upgrade b0000000001b -> b0000000002b")
        .nth(1)
        .unwrap();
    let b2 = b2.split("-- Running").next().unwrap();
    assert!(!b2.contains("BEGIN;"), "{b2}");

    // Piped into psql it applies the steps before the placeholder, then
    // stops there; mergepoint then takes over online, and the database is
    // the one Alembic makes.
    let db = TestDb::create();
    let ran = common::pg::psql(&db.url, &script, true);
    assert!(!ran.status.success(), "the placeholder must stop psql");
    assert!(
        String::from_utf8_lossy(&ran.stderr)
            .contains("revision a0000000002a is an Alembic revision"),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(db.rows(), vec!["b0000000002b".to_string()]);
    // The offline audit rows carry the files' checksums.
    let check = project.mp(&db, &["check", "--database"], false);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let m = project.mp(&db, &["upgrade", "heads"], false);
    assert!(m.status.success(), "{}", text(&m));
    let by_alembic = TestDb::create();
    let a = project.alembic(&by_alembic, &["upgrade", "heads"], false);
    assert!(a.status.success(), "{}", text(&a));
    assert_same(&by_alembic, &db, "offline, then online");

    // Without a usable Python: the plan with placeholders, and a note.
    let m = project.mp(
        &db,
        &[
            "upgrade",
            "heads",
            "--sql",
            "--python",
            "/nonexistent/python3",
        ],
        false,
    );
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(
        out.contains("their SQL could not be rendered") && out.contains("Alembic was not run"),
        "{out}"
    );
}

#[test]
fn a_revision_that_prints_or_writes_to_fd_1_does_not_disturb_the_worker() {
    let project = AlembicProject::new();
    let file = project
        .root()
        .join("migrations/versions/a0000000001a_create_users.py");
    let text_of = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text_of.replace(
            "def upgrade():\n",
            "def upgrade():\n    import os\n    print('hello from upgrade')\n    os.write(1, b'raw write to fd 1\\n')\n",
        ),
    )
    .unwrap();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "a0000000001a"], false);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    let stderr = String::from_utf8_lossy(&m.stderr);
    assert!(
        stderr.contains("hello from upgrade") && stderr.contains("raw write to fd 1"),
        "{out}"
    );
    assert!(
        !String::from_utf8_lossy(&m.stdout).contains("hello"),
        "{out}"
    );
    assert_eq!(db.rows(), vec!["a0000000001a".to_string()]);
}

/// The worker commits a step only while mergepoint's work session still
/// holds the step guard (checked on the server in the step's transaction):
/// with that session terminated mid-step, the step is rolled back, the run
/// stops with exit 4, and the next run applies it.
#[test]
fn a_step_is_not_committed_once_the_step_guard_is_lost() {
    let project = AlembicProject::new();
    let file = project
        .root()
        .join("migrations/versions/a0000000001a_create_users.py");
    let text_of = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text_of.replace(
            "    op.create_check_constraint(",
            "    op.execute(\"SELECT pg_sleep(3)\")\n    op.create_check_constraint(",
        ),
    )
    .unwrap();
    let db = TestDb::create();
    let mut run = project
        .mergepoint(&db, &["upgrade", "a0000000001a"], false)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = db.client();
    let started = std::time::Instant::now();
    loop {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND state = 'active' AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the step never started"
        );
        if let Ok(Some(_)) = run.try_wait() {
            panic!("{}", text(&run.wait_with_output().unwrap()));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let key = mergepoint::db::guard_key("public", "alembic_version");
    let killed: i64 = client
        .query_one(
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objsubid = 1 \
                 AND classid = (({key}::bigint >> 32) & 4294967295)::oid AND objid = ({key}::bigint & 4294967295)::oid"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        killed, 1,
        "the session holding the step guard was not found"
    );
    let out = run.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("step guard"), "{all}");
    assert!(db.rows().is_empty(), "{all}");
    assert_eq!(db.schema_dump(), "", "the step was committed: {all}");
    let again = project.mp(&db, &["upgrade", "a0000000001a"], false);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(db.rows(), vec!["a0000000001a".to_string()]);
}

/// A revision that kills its own interpreter (`os._exit`) ends the worker
/// mid-step: the run stops with exit 3, says so, and nothing of the step
/// remains (its connection, and so its transaction, died with it).
#[test]
fn a_worker_that_dies_mid_step_is_reported_and_its_step_rolled_back() {
    let project = AlembicProject::new();
    let file = project
        .root()
        .join("migrations/versions/b0000000001b_create_orders.py");
    let text_of = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text_of.replace(
            "    op.create_index(None, \"orders\", [\"user_id\"])\n",
            "    op.create_index(None, \"orders\", [\"user_id\"])\n    import os\n    os._exit(7)\n",
        ),
    )
    .unwrap();
    let db = TestDb::create();
    let m = project.mp(&db, &["upgrade", "b0000000001b"], false);
    let out = text(&m);
    assert_eq!(m.status.code(), Some(3), "{out}");
    assert!(
        out.contains("revision b0000000001b failed") && out.contains("the Alembic worker exited"),
        "{out}"
    );
    assert_eq!(db.rows(), vec!["a0000000001a".to_string()], "{out}");
    assert!(!db.schema_dump().contains("orders"), "{out}");
}

/// Without --python or MP_ALEMBIC_PYTHON, the interpreter of the active
/// virtual environment (VIRTUAL_ENV), else of `.venv/` beside alembic.ini.
#[test]
fn the_projects_virtualenv_is_found() {
    let project = AlembicProject::new();
    // The test's virtualenv (the one with Alembic), linked in as .venv/.
    let venv = Path::new(&project.python)
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    std::os::unix::fs::symlink(&venv, project.root().join(".venv")).unwrap();
    let root = std::fs::canonicalize(project.root()).unwrap();
    let venv_bin = root.join(".venv/bin");
    let db = TestDb::create();
    let run = |target: &str, virtual_env: Option<&Path>| {
        let mut c = project.mergepoint(&db, &["upgrade", target], false);
        c.env_remove("MP_ALEMBIC_PYTHON").env_remove("VIRTUAL_ENV");
        if let Some(v) = virtual_env {
            c.env("VIRTUAL_ENV", v);
        }
        c.output().unwrap()
    };
    let m = run("a0000000001a", None);
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    let beside = format!("with {}", venv_bin.join("python").display());
    assert!(out.contains(&beside), "{out}");

    // VIRTUAL_ENV comes first.
    let other = tempfile::tempdir().unwrap();
    let active_venv = other.path().join("active");
    std::os::unix::fs::symlink(&venv, &active_venv).unwrap();
    let m = run("b0000000001b", Some(&active_venv));
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    let active = format!("with {}", active_venv.join("bin/python").display());
    assert!(out.contains(&active), "{out}");

    // From another directory, with a relative --dir: the same .venv/.
    let m = Command::new(bin())
        .current_dir(root.parent().unwrap())
        .args(["--dir", root.file_name().unwrap().to_str().unwrap()])
        .args(["upgrade", "b0000000002b"])
        .env("DATABASE_URL", &db.url)
        .env_remove("MP_ALEMBIC_PYTHON")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let out = text(&m);
    assert!(m.status.success(), "{out}");
    assert!(out.contains(&beside), "{out}");
    assert_eq!(db.rows(), vec!["b0000000002b".to_string()]);
}

/// The layouts mergepoint locates (issue 17, item 6) also run online:
/// Flask-Migrate's `migrations/alembic.ini` without `script_location`, run
/// from the application root, and `[tool.alembic]` in `pyproject.toml`
/// with no `alembic.ini` at all. The worker is given the settings files
/// and the script directory as located, as `alembic` would read them.
#[test]
fn online_runs_load_the_flask_migrate_and_pyproject_layouts() {
    for layout in ["flask-migrate", "pyproject"] {
        let project = AlembicProject::new();
        let root = project.root();
        let ini = std::fs::read_to_string(root.join("alembic.ini")).unwrap();
        std::fs::remove_file(root.join("alembic.ini")).unwrap();
        if layout == "flask-migrate" {
            let without: Vec<&str> = ini
                .lines()
                .filter(|l| !l.starts_with("script_location"))
                .collect();
            std::fs::write(root.join("migrations/alembic.ini"), without.join("\n")).unwrap();
        } else {
            std::fs::write(
                root.join("pyproject.toml"),
                "[tool.alembic]\nscript_location = \"%(here)s/migrations\"\nprepend_sys_path = [\".\"]\n",
            )
            .unwrap();
        }
        let db = TestDb::create();
        let out = project
            .mergepoint(&db, &["upgrade", "heads"], false)
            .output()
            .unwrap();
        assert!(out.status.success(), "{layout}: {}", text(&out));
        assert_eq!(db.rows(), vec!["e0000000001e".to_string()], "{layout}");
        let down = project
            .mergepoint(&db, &["downgrade", "base"], false)
            .output()
            .unwrap();
        assert!(down.status.success(), "{layout}: {}", text(&down));
        assert!(db.rows().is_empty(), "{layout}");
    }
}

/// A revision that fails after its `autocommit_block()` has committed part
/// of it: the error must not claim the step was rolled back (what ran
/// before and in the block stays, as under Alembic), and says to inspect
/// the database; the version table does not record the revision.
#[test]
fn a_failure_after_an_autocommit_block_is_not_called_rolled_back() {
    let project = AlembicProject::new();
    std::fs::write(
        project
            .root()
            .join("migrations/versions/f0000000001f_fails_after_block.py"),
        "\"\"\"fails after its autocommit block\n\nRevision ID: f0000000001f\n\"\"\"\n\
         from alembic import op\n\nrevision = \"f0000000001f\"\ndown_revision = \"e0000000001e\"\n\
         branch_labels = None\ndepends_on = None\n\n\n\
         def upgrade():\n    with op.get_context().autocommit_block():\n        \
         op.execute(\"CREATE TABLE made_in_block (id int)\")\n    \
         op.execute(\"CREATE TABLE made_after_block (id int)\")\n    \
         raise RuntimeError(\"after the block\")\n\n\n\
         def downgrade():\n    op.execute(\"DROP TABLE made_in_block\")\n",
    )
    .unwrap();
    let db = TestDb::create();
    let out = project.mp(&db, &["upgrade", "heads"], false);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("after the block"), "{err}");
    assert!(!err.contains("rolled back"), "{err}");
    assert!(err.contains("may have committed"), "{err}");
    assert_eq!(db.rows(), vec!["e0000000001e".to_string()]);
    let mut client = db.client();
    let exists = |client: &mut postgres::Client, t: &str| -> bool {
        client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])
            .unwrap()
            .get(0)
    };
    assert!(
        exists(&mut client, "public.made_in_block"),
        "the block's table stays"
    );
    assert!(
        !exists(&mut client, "public.made_after_block"),
        "what came after it is rolled back"
    );
}
