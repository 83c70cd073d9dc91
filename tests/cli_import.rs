//! `mergepoint import-alembic` on tests/fixtures/alembic_import (made with
//! real Alembic; see its README), with real Alembic running the offline
//! SQL, then the converted project applied to a real PostgreSQL database.
//!
//! The Python is `MP_ALEMBIC_PYTHON` (scripts/test exports it), else
//! /tmp/alembic-venv/bin/python. If neither can import Alembic the tests
//! fail and say to run scripts/test: they never skip silently.

mod cli_util;
mod common;

use cli_util::{Run, TestEnv};
use common::pg::TestDb;
use mergepoint::script::{parse_native, NativeBody};
use std::path::Path;
use std::process::Command;

/// The Python with Alembic the tests use; panics with instructions if
/// there is none.
fn python() -> String {
    let candidates: Vec<String> = std::env::var("MP_ALEMBIC_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .into_iter()
        .chain(
            Path::new("/tmp/alembic-venv/bin/python")
                .is_file()
                .then(|| "/tmp/alembic-venv/bin/python".to_string()),
        )
        .collect();
    for py in &candidates {
        let ok = Command::new(py)
            .args(["-c", "import alembic, sqlalchemy"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return py.clone();
        }
    }
    panic!(
        "no Python with Alembic for the import-alembic tests (tried MP_ALEMBIC_PYTHON and \
         /tmp/alembic-venv/bin/python: {candidates:?}).\nRun the suite with scripts/test, which \
         installs Alembic into a virtual environment and exports MP_ALEMBIC_PYTHON."
    );
}

/// Runs `mergepoint ARGS` in the project root with `MP_ALEMBIC_PYTHON`
/// set to `py` (so the transcript does not show the interpreter's path).
fn run_with(env: &TestEnv, py: &str, args: &[&str], database_url: Option<&str>) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("mergepoint").unwrap();
    cmd.args(args)
        .current_dir(env.root())
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("MP_ALEMBIC_PYTHON", py);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().unwrap();
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn import(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["import-alembic", "--out", "native"];
    args.extend_from_slice(extra);
    run_with(env, &python(), &args, None)
}

fn settings(env: &TestEnv) -> insta::Settings {
    let mut s = env.settings();
    s.add_filter(
        r"\(Alembic [^ ]+, SQLAlchemy [^ ]+, Python [^ )]+\)",
        "(Alembic [VERSION], SQLAlchemy [VERSION], Python [VERSION])",
    );
    s
}

fn native(env: &TestEnv, id: &str) -> (mergepoint::graph::Revision, NativeBody) {
    let dir = env.path("native/revisions");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(id))
        .unwrap_or_else(|| panic!("no native file for {id} in {}", dir.display()));
    let text = std::fs::read_to_string(&file).unwrap();
    parse_native(&file, &text).unwrap()
}

const TODO_ID: &str = "0a1b00000006";

#[test]
fn import_keeps_the_graph_and_captures_offline_sql() {
    let env = TestEnv::fixture("alembic_import");
    let run = import(&env, &[]);
    // One revision reads data: not everything converted, so exit 1.
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains(TODO_ID)
            && run.stderr.contains("upgrade()")
            && run.stderr.contains("get_bind")
            && run.stderr.contains("(line 25)"),
        "the unconvertible revision is listed with its reason:\n{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("\n  0a1b").count() + run.stderr.matches("\n  0b1b").count(),
        1,
        "only that one is listed:\n{}",
        run.stderr
    );
    settings(&env).bind(|| insta::assert_snapshot!("import_alembic_text", run.transcript()));

    // The same ids, graph, labels and messages: real Alembic's history and
    // heads of the Alembic project equal mergepoint's on the native one.
    let py = python();
    for args in [&["history"][..], &["heads"][..], &["branches"][..]] {
        let theirs = Command::new(&py)
            .args(["-m", "alembic"])
            .args(args)
            .current_dir(env.root())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(theirs.status.success(), "alembic {args:?}");
        let mut ours_args = vec!["--dir", "native"];
        ours_args.extend_from_slice(args);
        let ours = env.run(&ours_args);
        assert_eq!(ours.code, 0, "{}", ours.stderr);
        let theirs = String::from_utf8(theirs.stdout).unwrap();
        if args == ["branches"] {
            // Alembic lists a branch point's children in set order.
            let sorted = |s: &str| {
                let mut v: Vec<&str> = s.lines().collect();
                v.sort();
                v.join("\n")
            };
            assert_eq!(sorted(&ours.stdout), sorted(&theirs), "{args:?}");
        } else {
            assert_eq!(ours.stdout, theirs, "{args:?}");
        }
    }
    // And field by field against our reading of the Alembic directory.
    let alembic = env.run(&["history", "--json"]).json();
    let converted = env.run(&["--dir", "native", "history", "--json"]).json();
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for r in v.as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("path");
            r.as_object_mut().unwrap().remove("file");
            r.as_object_mut().unwrap().remove("origin");
        }
        v
    };
    assert_eq!(strip(&alembic), strip(&converted));
    assert_eq!(converted.as_array().unwrap().len(), 8);

    // SQL of a few revisions.
    let (rev, body) = native(&env, "0a1b00000002");
    assert_eq!(rev.parents, ["0a1b00000001"]);
    assert_eq!(rev.message, "add users.email");
    assert_eq!(
        body.upgrade,
        "ALTER TABLE users ADD COLUMN email VARCHAR(255);\n"
    );
    assert_eq!(body.downgrade, "ALTER TABLE users DROP COLUMN email;\n");
    assert!(body.transactional);
    assert_eq!(body.created.as_deref(), Some("2026-11-22T21:39:46Z"));

    let (rev, body) = native(&env, "0a1b00000004");
    assert_eq!(rev.parents, ["0a1b00000002", "0a1b00000003"]);
    assert_eq!((body.upgrade.as_str(), body.downgrade.as_str()), ("", ""));

    let (_, body) = native(&env, "0a1b00000005");
    assert!(
        !body.transactional,
        "autocommit_block => transactional: false"
    );
    assert_eq!(
        body.upgrade,
        "CREATE UNIQUE INDEX CONCURRENTLY ix_users_email ON users (email);\n"
    );
    assert_eq!(body.downgrade, "DROP INDEX CONCURRENTLY ix_users_email;\n");
    assert!(!body.upgrade.contains("COMMIT") && !body.upgrade.contains("BEGIN"));

    let (rev, body) = native(&env, "0b1b00000001");
    assert_eq!(rev.branch_labels, ["audit"]);
    assert_eq!(rev.depends_on, ["0a1b00000003"]);
    assert!(rev.parents.is_empty());
    assert!(
        body.upgrade.starts_with("CREATE TABLE audit_log (\n")
            && body
                .upgrade
                .ends_with("\n\nINSERT INTO audit_log (note) VALUES ('it''s installed');\n"),
        "{}",
        body.upgrade
    );
    assert!(!body.upgrade.contains("alembic_version"));

    // The unconvertible one: written, with a TODO and a statement that
    // fails, and its reason.
    let (rev, body) = native(&env, TODO_ID);
    assert_eq!(rev.parents, ["0a1b00000005"]);
    assert!(body.upgrade.starts_with("-- TODO(mergepoint import-alembic): upgrade() of migrations/versions/0a1b00000006_backfill_user_emails.py"));
    assert!(body.upgrade.contains("RAISE EXCEPTION"));
    assert_eq!(body.downgrade, "", "its downgrade() is `pass`");
}

#[test]
fn json_report() {
    let env = TestEnv::fixture("alembic_import");
    let run = import(&env, &["--json"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let j = run.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["converted"], 7);
    assert_eq!(j["todo"], 1);
    let revs = j["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 8);
    let todo: Vec<&serde_json::Value> = revs.iter().filter(|r| r["status"] == "todo").collect();
    assert_eq!(todo.len(), 1);
    assert_eq!(todo[0]["id"], TODO_ID);
    assert_eq!(todo[0]["unconverted"][0]["function"], "upgrade");
    let conc = revs.iter().find(|r| r["id"] == "0a1b00000005").unwrap();
    assert_eq!(conc["transactional"], false);
    assert!(run.stderr.contains(TODO_ID));
}

#[test]
fn allow_incomplete_exits_zero_but_still_warns() {
    let env = TestEnv::fixture("alembic_import");
    let run = import(&env, &["--allow-incomplete"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.starts_with("warning: 1 of 8 revisions"));
    assert!(run.stderr.contains(TODO_ID));
}

#[test]
fn never_overwrites_and_refuses_bad_targets() {
    let env = TestEnv::fixture("alembic_import");
    assert_eq!(import(&env, &["--allow-incomplete"]).code, 0);
    let before = env.read("native/revisions/0a1b00000001_create_users.yaml");
    env.write(
        "native/revisions/0a1b00000001_create_users.yaml",
        &before.replace("DROP TABLE users;", "DROP TABLE users; -- edited"),
    );
    let again = import(&env, &["--allow-incomplete"]);
    assert_eq!(again.code, 2, "{}", again.transcript());
    assert!(again.stderr.contains("is not empty"), "{}", again.stderr);
    assert!(env
        .read("native/revisions/0a1b00000001_create_users.yaml")
        .contains("-- edited"));
    // Into the Alembic project itself: refused.
    let py = python();
    let into_self = run_with(&env, &py, &["import-alembic", "--out", "."], None);
    assert_eq!(into_self.code, 2);
    assert!(
        into_self.stderr.contains("alembic.ini"),
        "{}",
        into_self.stderr
    );
    // From a native project: refused.
    let native = run_with(
        &env,
        &py,
        &["--dir", "native", "import-alembic", "--out", "other"],
        None,
    );
    assert_eq!(native.code, 2);
    assert!(
        native.stderr.contains("not an Alembic one"),
        "{}",
        native.stderr
    );
    assert!(!env.path("other").exists());
}

#[test]
fn missing_python_or_alembic_is_a_clear_error() {
    let env = TestEnv::fixture("alembic_import");
    let run = run_with(
        &env,
        "/nonexistent/python3",
        &["import-alembic", "--out", "native"],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run
        .stderr
        .contains("cannot run the Python interpreter '/nonexistent/python3'"));
    assert!(run.stderr.contains("pip install alembic"), "{}", run.stderr);

    // A Python without site-packages cannot import Alembic.
    let wrapper = env.path("nosite-python");
    env.write(
        "nosite-python",
        &format!("#!/bin/sh\nexec '{}' -S \"$@\"\n", python()),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = run_with(
        &env,
        "./nosite-python",
        &[
            "import-alembic",
            "--out",
            "native",
            "--python",
            "./nosite-python",
        ],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("cannot import Alembic"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("./nosite-python -m pip install alembic"),
        "{}",
        run.stderr
    );
    assert!(!env.path("native/revisions").exists(), "nothing written");
}

/// The unconvertible revision is a head: without it the project converts
/// fully, applies to PostgreSQL and downgrades back to an empty schema.
#[test]
fn converted_project_upgrades_and_downgrades_on_postgres() {
    let env = TestEnv::fixture("alembic_import");
    std::fs::remove_file(env.path("migrations/versions/0a1b00000006_backfill_user_emails.py"))
        .unwrap();
    let run = import(&env, &[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let db = TestDb::create();
    let py = python();
    let up = run_with(
        &env,
        &py,
        &["--dir", "native", "upgrade", "heads"],
        Some(&db.url),
    );
    assert_eq!(up.code, 0, "{}", up.transcript());
    let mut rows = db.rows();
    rows.sort();
    assert_eq!(rows, ["0a1b00000005", "0b1b00000002"]);
    let schema = db.schema_dump();
    for want in [
        "col users.email character varying(255)",
        "col orders.status text notnull=t default='new'::text",
        "idx CREATE UNIQUE INDEX ix_users_email ON public.users USING btree (email) valid=t",
        "idx CREATE INDEX ix_audit_log_order_id ON public.audit_log USING btree (order_id)",
        "con audit_log audit_log_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders(id)",
    ] {
        assert!(schema.contains(want), "missing {want:?} in:\n{schema}");
    }
    let note: String = db
        .client()
        .query_one("SELECT note FROM audit_log", &[])
        .unwrap()
        .get(0);
    assert_eq!(note, "it's installed");

    let down = run_with(
        &env,
        &py,
        &["--dir", "native", "downgrade", "base"],
        Some(&db.url),
    );
    assert_eq!(down.code, 0, "{}", down.transcript());
    assert!(db.rows().is_empty());
    assert_eq!(db.schema_dump(), "");
}

/// With the unconvertible revision kept, `upgrade heads` applies
/// everything up to it and then stops on its TODO, with exit 3, instead of
/// recording it as applied.
#[test]
fn todo_revision_stops_the_upgrade() {
    let env = TestEnv::fixture("alembic_import");
    assert_eq!(import(&env, &[]).code, 1);
    let db = TestDb::create();
    let py = python();
    let up = run_with(
        &env,
        &py,
        &["--dir", "native", "upgrade", "heads"],
        Some(&db.url),
    );
    assert_eq!(up.code, 3, "{}", up.transcript());
    assert!(
        up.stderr.contains(&format!(
            "revision {TODO_ID} was imported from Alembic without its upgrade SQL"
        )),
        "{}",
        up.stderr
    );
    let mut rows = db.rows();
    rows.sort();
    assert_eq!(rows, ["0a1b00000005", "0b1b00000002"]);
}

#[test]
fn help_explains_the_behaviour() {
    let env = TestEnv::new();
    let run = env.run(&["import-alembic", "--help"]);
    assert_eq!(run.code, 0);
    for want in [
        "Examples:",
        "--dir <PATH>",
        "--out <DIR>",
        "--python <PY>",
        "--allow-incomplete",
        "MP_ALEMBIC_PYTHON",
        "transactional: false",
        "TODO",
    ] {
        assert!(run.stdout.contains(want), "no {want:?} in:\n{}", run.stdout);
    }
}

#[test]
fn a_project_alembic_cannot_load_is_an_input_error() {
    let env = TestEnv::fixture("alembic_import");
    let file = "migrations/versions/0a1b00000003_create_orders.py";
    let text = env.read(file);
    env.write(
        file,
        &text.replace(
            "import sqlalchemy as sa\n",
            "import sqlalchemy as sa\nimport no_such_module_here\n",
        ),
    );
    let run = import(&env, &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.starts_with(
            "error: Alembic could not load the project: ModuleNotFoundError: No module named 'no_such_module_here'"
        ),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("0a1b00000003_create_orders.py\", line 12"));
    assert!(!env.path("native").exists(), "nothing written");
}

/// Issue 17: import-alembic runs the project's env.py offline and renders
/// with its target_metadata, so constraint names follow the naming
/// convention and a later revision that drops one by name works on a
/// fresh database (tests/fixtures/alembic_online, with its data migration
/// made convertible and the revision that fails half way left out).
#[test]
fn converted_project_keeps_env_py_naming_convention() {
    let env = TestEnv::fixture("alembic_online");
    std::fs::remove_file(env.path("migrations/versions/e0000000001e_fails_halfway.py")).unwrap();
    let backfill = env.path("migrations/versions/a0000000002a_backfill_emails.py");
    let text = std::fs::read_to_string(&backfill).unwrap();
    let start = text.find("def upgrade():").unwrap();
    let end = text.find("def downgrade():").unwrap();
    let offline = "def upgrade():\n    op.execute(\"INSERT INTO users (name, email) VALUES ('Ada', 'ada@example.com')\")\n\n\n";
    std::fs::write(
        &backfill,
        format!("{}{offline}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let run = import(&env, &[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.stderr.contains("env.py could not"), "{}", run.stderr);

    let db = TestDb::create();
    let py = python();
    let up = run_with(
        &env,
        &py,
        &["--dir", "native", "upgrade", "heads"],
        Some(&db.url),
    );
    assert_eq!(up.code, 0, "{}", up.transcript());
    assert_eq!(db.rows(), ["d0000000001d"]);
    let schema = db.schema_dump();
    for want in [
        "con users pk_users PRIMARY KEY (id)",
        "con orders fk_orders_user_id_users FOREIGN KEY (user_id) REFERENCES users(id)",
        "con users ck_users_name_not_blank",
    ] {
        assert!(schema.contains(want), "missing {want:?} in:\n{schema}");
    }
    // d0000000001d dropped uq_users_name by its convention name.
    assert!(!schema.contains("uq_users_name"), "{schema}");
}
