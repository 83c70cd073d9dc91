//! Revision files that are hostile or broken in ways a parser must survive
//! (issue 10): things named like revision files that are not regular files,
//! input nested deep enough to overflow a recursive parser, ids too long for
//! the version table, transaction control in a transactional revision, and
//! configured revisions locations that do not exist. Every command must end
//! (each run here has a timeout), exit 2, and name the file at fault.

mod cli_util;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use cli_util::{graphs, TestEnv};

/// One run of the binary in `dir`, killed after 20 s: a hang is a failure,
/// not a stuck test suite.
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("mergepoint")
        .unwrap()
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("MERGEPOINT_CACHE", "off")
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("overflowed"),
        "{args:?}: {stderr}"
    );
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Asserts that every command in `commands` exits 2 with `needle` in its
/// error, with and without the parse cache.
fn all_refuse(env: &TestEnv, commands: &[&[&str]], needle: &str) {
    let cache = tempfile::tempdir().unwrap();
    for args in commands {
        let (code, out, err) = run_in(env.root(), args);
        assert_eq!(code, 2, "{args:?}\n{out}{err}");
        // `check` lists problems on stdout; other commands fail on stderr.
        let all = format!("{out}{err}");
        assert!(all.contains(needle), "{args:?}: {needle:?} not in\n{all}");
        // The parse cache (warm after the first run) changes nothing.
        for _ in 0..2 {
            let out = Command::cargo_bin("mergepoint")
                .unwrap()
                .args(*args)
                .current_dir(env.root())
                .env_remove("DATABASE_URL")
                .env("MERGEPOINT_CACHE_DIR", cache.path())
                .timeout(Duration::from_secs(20))
                .output()
                .unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(2), "{args:?} (cached): {all}");
            assert!(all.contains(needle), "{args:?} (cached): {all}");
        }
    }
}

const GRAPH_COMMANDS: &[&[&str]] = &[&["heads"], &["check"], &["history"]];

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

// ------------------------------------------------ 10.7: only regular files

#[test]
fn a_fifo_named_like_a_revision_is_an_error_not_a_hang() {
    let env = TestEnv::native(&graphs::linear());
    mkfifo(&env.path("revisions/bbbb_x.yaml"));
    all_refuse(
        &env,
        GRAPH_COMMANDS,
        "revisions/bbbb_x.yaml: is a FIFO (named pipe), not a regular file",
    );
    // Also when the revisions directory itself is given (detection reads
    // files to guess the format).
    let (code, _, err) = run_in(env.root(), &["--dir", "revisions", "heads"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bbbb_x.yaml: is a FIFO"), "{err}");
}

#[test]
fn a_fifo_in_an_alembic_versions_dir_is_an_error() {
    let env = TestEnv::new();
    env.write(
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/alembic\n",
    );
    env.write(
        "alembic/versions/a1_x.py",
        "revision = 'a1'\ndown_revision = None\n",
    );
    std::fs::remove_file(env.path("mergepoint.yaml")).unwrap();
    mkfifo(&env.path("alembic/versions/b1_y.py"));
    all_refuse(&env, GRAPH_COMMANDS, "b1_y.py: is a FIFO (named pipe)");
}

#[test]
fn a_socket_named_like_a_revision_is_an_error() {
    let env = TestEnv::native(&graphs::linear());
    let _sock = std::os::unix::net::UnixListener::bind(env.path("revisions/s.yaml")).unwrap();
    all_refuse(&env, GRAPH_COMMANDS, "revisions/s.yaml: is a socket");
}

#[test]
fn a_directory_named_like_a_revision_is_an_error_not_skipped() {
    let env = TestEnv::native(&graphs::linear());
    std::fs::create_dir(env.path("revisions/dddd_x.yaml")).unwrap();
    all_refuse(
        &env,
        GRAPH_COMMANDS,
        "revisions/dddd_x.yaml: is a directory, not a regular file",
    );
}

#[test]
fn symlinks_to_regular_files_still_load_and_symlinked_fifos_do_not_hang() {
    let env = TestEnv::native(&graphs::linear());
    let real = env.path("elsewhere.txt");
    std::fs::write(
        &real,
        "id: dddd\nparents: [cccc]\nmessage: via a link\nupgrade: ''\ndowngrade: ''\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&real, env.path("revisions/dddd_link.yaml")).unwrap();
    let (code, out, err) = run_in(env.root(), &["heads"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dddd"), "{out}");
    let fifo = env.path("pipe");
    mkfifo(&fifo);
    std::os::unix::fs::symlink(&fifo, env.path("revisions/eeee_link.yaml")).unwrap();
    all_refuse(&env, &[&["heads"]], "eeee_link.yaml: is a FIFO");
}

// --------------------------------------------- 10.8: deeply nested input

#[test]
fn deeply_nested_headers_are_errors_not_crashes() {
    let env = TestEnv::native(&graphs::linear());
    env.write(
        "revisions/dddd_deep.yaml",
        // 5,000 levels: past serde_yaml's limit of 128; 50,000 (unit-tested
        // in src/script) takes libyaml seconds to scan.
        &format!("id: dddd\nparents: {}\n", "[".repeat(5_000)),
    );
    all_refuse(&env, GRAPH_COMMANDS, "revisions/dddd_deep.yaml:");

    let env = TestEnv::new();
    std::fs::remove_file(env.path("mergepoint.yaml")).unwrap();
    env.write(
        "versions/a1_x.py",
        &format!(
            "revision = 'a1'\ndown_revision = {}'a0'{}\n",
            "(".repeat(50_000),
            ")".repeat(50_000)
        ),
    );
    all_refuse(
        &env,
        GRAPH_COMMANDS,
        "versions/a1_x.py:2: brackets nest more than 200 deep",
    );
}

// ----------------------------------- 10.9: ids too long for version_num

#[test]
fn ids_longer_than_32_characters_are_refused_everywhere() {
    let long = "a123456789b123456789c123456789d12"; // 33
    let env = TestEnv::native(&graphs::fork());
    for args in [
        &["revision", "-m", "x", "--head", "cccc", "--rev-id", long][..],
        &["merge", "heads", "-m", "x", "--rev-id", long][..],
    ] {
        let (code, _, err) = run_in(env.root(), args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("ids are at most 32"), "{err}");
    }
    assert_eq!(env.list("revisions").len(), 3, "nothing was written");
    let ok = &long[..32];
    let (code, _, err) = run_in(env.root(), &["merge", "heads", "-m", "x", "--rev-id", ok]);
    assert_eq!(code, 0, "{err}");

    env.write(
        "revisions/zz_long.yaml",
        &format!("id: {long}\nparents: [{ok}]\nmessage: m\nupgrade: ''\ndowngrade: ''\n"),
    );
    all_refuse(
        &env,
        GRAPH_COMMANDS,
        "revisions/zz_long.yaml:1: revision id 'a123456789b123456789c123456789d12' is 33 characters long",
    );
}

// ------------------------- 10.3: transaction control in a transactional one

#[test]
fn transaction_control_in_a_transactional_revision_is_refused_by_every_command() {
    let env = TestEnv::native(&graphs::linear());
    env.write(
        "revisions/dddd_commit.yaml",
        "id: dddd\nparents: [cccc]\nmessage: sneaky\nupgrade: |\n  create table c1(x int);\n  commit;\n  create table c2();\ndowngrade: ''\n",
    );
    let needle = "revisions/dddd_commit.yaml:6: COMMIT at the top level of the upgrade SQL of a transactional revision";
    all_refuse(&env, GRAPH_COMMANDS, needle);
    all_refuse(&env, &[&["upgrade", "base:heads", "--sql"]], needle);
    // Allowed in a non-transactional revision.
    env.write(
        "revisions/dddd_commit.yaml",
        "id: dddd\nparents: [cccc]\nmessage: fine\ntransactional: false\nupgrade: |\n  commit;\ndowngrade: ''\n",
    );
    let (code, out, err) = run_in(env.root(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
}

// ------------------- 10.10: configured locations that do not exist

const GATES: &[&[&str]] = &[
    &["heads"],
    &["heads", "--check"],
    &["check"],
    &["upgrade", "base:heads", "--sql"],
];

/// A Flask-Migrate layout: the scripts live in migrations/.
fn flask_layout(env: &TestEnv) {
    std::fs::remove_file(env.path("mergepoint.yaml")).unwrap();
    env.write("migrations/env.py", "# env\n");
    env.write(
        "migrations/versions/a1_x.py",
        "revision = 'a1'\ndown_revision = None\n",
    );
}

#[test]
fn a_missing_script_location_is_an_error_with_a_hint_true_for_the_layout() {
    let env = TestEnv::new();
    flask_layout(&env);
    // What following a generic hint would have written.
    env.write(
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/alembic\n",
    );
    all_refuse(
        &env,
        GATES,
        "alembic.ini:2: script_location: Path doesn't exist: ",
    );
    let (_, _, err) = run_in(env.root(), &["heads"]);
    assert!(
        err.contains(&format!("{}", env.root().join("alembic").display())),
        "{err}"
    );
    assert!(
        err.contains("`script_location = %(here)s/migrations`"),
        "{err}"
    );

    // No script_location at all: the hint names the directory that holds
    // the scripts.
    env.write("alembic.ini", "[alembic]\n");
    let (code, _, err) = run_in(env.root(), &["heads"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("add `script_location = %(here)s/migrations`"),
        "{err}"
    );
    // Flask-Migrate's own alembic.ini, in the script directory itself, has
    // no script_location: that directory is the script directory.
    std::fs::remove_file(env.path("alembic.ini")).unwrap();
    env.write("migrations/alembic.ini", "[alembic]\n");
    for args in [&["--dir", "migrations", "heads"][..], &["heads"][..]] {
        let (code, out, err) = run_in(env.root(), args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out, "a1 (head)\n", "{args:?}");
    }
    // Beside neither env.py nor versions/, it is an error with the hint.
    std::fs::remove_dir_all(env.path("migrations")).unwrap();
    env.write("migrations/alembic.ini", "[alembic]\n");
    let (code, _, err) = run_in(env.root(), &["--dir", "migrations", "heads"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("migrations/alembic.ini: [alembic] has no script_location; add `script_location = %(here)s/alembic` after creating that directory with `alembic init alembic`"),
        "{err}"
    );
}

#[test]
fn a_missing_version_location_is_an_error() {
    let env = TestEnv::new();
    flask_layout(&env);
    env.write(
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/migrations\nversion_locations = %(here)s/migrations/versions %(here)s/gone\n",
    );
    all_refuse(
        &env,
        GATES,
        "alembic.ini:3: version_locations: Path doesn't exist: ",
    );
    // A script directory without versions/ (and no version_locations).
    env.write(
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/migrations\n",
    );
    std::fs::remove_dir_all(env.path("migrations/versions")).unwrap();
    all_refuse(&env, GATES, "has no versions/ directory");
}

#[test]
fn a_missing_revisions_directory_in_mergepoint_yaml_is_an_error() {
    for format in ["native", "alembic"] {
        let env = TestEnv::new();
        env.write(
            "mergepoint.yaml",
            &format!("format: {format}\nrevisions: nowhere\n"),
        );
        all_refuse(
            &env,
            GATES,
            "nowhere: cannot read the revisions directory: Path doesn't exist; create it, or fix `revisions:` in",
        );
    }
}

#[test]
fn a_flask_migrate_root_finds_its_migrations_directory() {
    let env = TestEnv::new();
    flask_layout(&env);
    env.write("migrations/alembic.ini", "[alembic]\n");
    let (code, out, err) = run_in(env.root(), &["heads"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "a1 (head)\n");
    // Another directory name (`Migrate(app, db, directory="db")`) is not
    // guessed: the error says which --dir finds it.
    std::fs::rename(env.path("migrations"), env.path("db")).unwrap();
    let (code, _, err) = run_in(env.root(), &["heads"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("db/alembic.ini is an Alembic project (the Flask-Migrate layout): pass --dir"),
        "{err}"
    );
    assert!(!err.contains("mergepoint init"), "{err}");
    let (code, out, err) = run_in(env.root(), &["--dir", "db", "heads"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "a1 (head)\n");
}

#[test]
fn format_alembic_without_a_directory_names_the_one_there_is() {
    let env = TestEnv::new();
    flask_layout(&env);
    env.write("mergepoint.yaml", "format: alembic\n");
    let (code, _, err) = run_in(env.root(), &["heads"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("(here: `revisions: migrations/versions`)"),
        "{err}"
    );
    env.write(
        "mergepoint.yaml",
        "format: alembic\nrevisions: migrations/versions\n",
    );
    let (code, out, err) = run_in(env.root(), &["heads"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a1"), "{out}");
}

// ------------- psql's statement splitting keeps BEGIN ATOMIC bodies whole

#[allow(dead_code)]
#[path = "common/pg.rs"]
mod pg;

/// A non-transactional revision runs statement by statement; a SQL-standard
/// function body (`BEGIN ATOMIC ...; ...; END`) is one statement, as psql
/// sends it, and its `END` is not transaction control.
#[test]
fn begin_atomic_function_bodies_run_whole_on_postgres() {
    let db = pg::TestDb::create();
    let env = TestEnv::new();
    let body = "CREATE TABLE t (x int);\n  CREATE FUNCTION add_two() RETURNS void LANGUAGE sql\n  BEGIN ATOMIC\n    INSERT INTO t VALUES (1);\n    INSERT INTO t VALUES (CASE WHEN true THEN 2 END);\n  END;\n  SELECT add_two();";
    for (id, tx) in [("aaaa", "false"), ("bbbb", "true")] {
        let parents = if id == "aaaa" { "[]" } else { "[aaaa]" };
        let up = if id == "aaaa" {
            body.to_string()
        } else {
            body.replace("TABLE t", "TABLE t2")
                .replace("INTO t ", "INTO t2 ")
                .replace("add_two", "add_two2")
        };
        env.write(
            &format!("revisions/{id}_f.yaml"),
            &format!("id: {id}\nparents: {parents}\nmessage: f\ntransactional: {tx}\nupgrade: |\n  {up}\ndowngrade: ''\n"),
        );
    }
    let (code, out, err) = run_in(env.root(), &["upgrade", "heads", "--database-url", &db.url]);
    assert_eq!(code, 0, "{out}{err}");
    let mut c = db.client();
    for table in ["t", "t2"] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 2, "{table}");
    }
}

/// The same class elsewhere: other files mergepoint reads while finding a
/// project are read only if they are regular files.
#[test]
fn a_fifo_among_the_project_files_never_blocks() {
    let env = TestEnv::native(&graphs::linear());
    mkfifo(&env.path("revisions/pyproject.toml"));
    let (code, out, err) = run_in(env.root(), &["--dir", "revisions", "heads"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cccc"), "{out}");
}
