//! Offline scripts (`upgrade --sql`) through the real `psql`: psql must
//! send exactly the revisions' SQL, as an online run does. A psql
//! meta-command in a revision (`\! cmd` runs a shell command) is refused
//! before anything is written (exit 2, naming revision and line); a colon
//! psql would read as a variable (`:'USER'`, `:PORT`) reaches the server as
//! written; backslashes and colons inside quotes, dollar quotes and
//! comments are left as they are; and the script's own psql settings stop
//! at the first error even when psql was not told to.

mod common;

use common::pg::TestDb;
use std::path::Path;
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mergepoint")
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mergepoint.yaml"), "format: native\n").unwrap();
        std::fs::create_dir(dir.path().join("revisions")).unwrap();
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn rev(&self, id: &str, parents: &[&str], transactional: bool, up: &str, down: &str) {
        let indent = |s: &str| s.lines().map(|l| format!("  {l}\n")).collect::<String>();
        let text = format!(
            "id: {id}\nparents: [{}]\nmessage: rev {id}\ncreated: 2026-11-22T10:15:00Z\ntransactional: {transactional}\nupgrade: |\n{}downgrade: |\n{}",
            parents.join(", "),
            indent(up),
            indent(down)
        );
        std::fs::write(
            self.path().join("revisions").join(format!("{id}_rev.yaml")),
            text,
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .arg("--dir")
            .arg(self.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    }

    /// `upgrade <range> --sql`, which must succeed.
    fn script(&self, range: &str) -> String {
        let out = self.run(&["upgrade", range, "--sql"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A file a shell command in a revision would create; removed first.
fn marker(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("mergepoint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn a_psql_meta_command_in_a_revision_is_refused_offline() {
    let p = Project::new();
    let x = marker("meta");
    p.rev(
        "aaaa00000000",
        &[],
        true,
        "CREATE TABLE log (x text);",
        "DROP TABLE log;",
    );
    p.rev(
        "bbbb00000001",
        &["aaaa00000000"],
        false,
        &format!(
            "INSERT INTO log VALUES ('b');\nselect 1; \\! touch {}",
            x.display()
        ),
        "DELETE FROM log;",
    );
    let out = p.run(&["upgrade", "heads", "--sql"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("revision bbbb00000001"), "{err}");
    assert!(err.contains("line 2 of its upgrade SQL"), "{err}");
    assert!(err.contains("\\! touch"), "{err}");

    // Whatever was printed, fed to psql, runs no shell command.
    let db = TestDb::create();
    let _ = common::pg::psql(&db.url, &String::from_utf8_lossy(&out.stdout), false);
    assert!(!x.exists(), "psql ran the revision's shell command");

    // A downgrade with one is refused too.
    p.rev(
        "bbbb00000001",
        &["aaaa00000000"],
        false,
        "INSERT INTO log VALUES ('b');",
        "\\o /dev/null",
    );
    let out = p.run(&["downgrade", "bbbb00000001:base", "--sql"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1 of its downgrade SQL"),
        "{}",
        text(&out)
    );
}

#[test]
fn psql_variables_reach_the_server_as_written() {
    let p = Project::new();
    let x = marker("quoted");
    // `:PORT` is psql's port variable and, unescaped, would turn the slice
    // [1:port] (port = 2 in the table) into [1:5432].
    p.rev(
        "aaaa00000000",
        &[],
        true,
        &format!(
            "CREATE TABLE s (port int);\nINSERT INTO s VALUES (2);\n\
             CREATE TABLE t AS SELECT (ARRAY[10, 20, 30])[1:PORT] AS a, ':''USER'' \\! touch {x}' AS b FROM s;\n\
             -- a comment: \\! touch {x} :'USER'\n\
             CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT ':USER \\! touch {x}'::text $$;",
            x = x.display()
        ),
        "DROP FUNCTION f(); DROP TABLE t; DROP TABLE s;",
    );
    let online = TestDb::create();
    let out = p.run(&["upgrade", "heads", "--database-url", &online.url]);
    assert!(out.status.success(), "{}", text(&out));

    let script = p.script("heads");
    let offline = TestDb::create();
    common::pg::psql_apply(&offline.url, &script);
    assert!(!x.exists(), "psql ran a command from inside quotes");
    assert_eq!(offline.schema_dump(), online.schema_dump());
    assert_eq!(offline.rows(), online.rows());
    let row = |db: &TestDb| {
        let r = db
            .client()
            .query_one("SELECT a::text, b, f() FROM t", &[])
            .unwrap();
        (
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
        )
    };
    assert_eq!(row(&offline), row(&online));
    assert_eq!(row(&offline).0, "{10,20}");

    // `:'USER'` outside quotes is no SQL: the server rejects it online, and
    // offline psql must send it unchanged rather than 'postgres'.
    p.rev(
        "bbbb00000001",
        &["aaaa00000000"],
        true,
        "SELECT length(:'USER');",
        "SELECT 1;",
    );
    let script = p.script("aaaa00000000:heads");
    let out = common::pg::psql(&offline.url, &script, true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("syntax error at or near \":\"") && err.contains("length(:'USER')"),
        "{err}"
    );
    let out = p.run(&["upgrade", "heads", "--database-url", &online.url]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("syntax error at or near \":\""),
        "{}",
        text(&out)
    );
}

/// psql without `-v ON_ERROR_STOP=1` (and whatever a ~/.psqlrc says) goes
/// on after an error; after a failed non-transactional statement it would
/// record the revision as applied. The script's own settings stop it.
#[test]
fn the_script_stops_at_the_first_error_without_being_told() {
    let p = Project::new();
    p.rev(
        "aaaa00000000",
        &[],
        false,
        "SELECT 1/0;\nCREATE TABLE never (x int);",
        "DROP TABLE never;",
    );
    let script = p.script("heads");
    let db = TestDb::create();
    let out = common::pg::psql(&db.url, &script, false);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("division by zero"),
        "{}",
        text(&out)
    );
    assert_eq!(
        db.rows(),
        Vec::<String>::new(),
        "a failed revision was recorded"
    );
    let never = db
        .client()
        .query_one("SELECT to_regclass('never') IS NULL", &[])
        .unwrap()
        .get::<_, bool>(0);
    assert!(never, "psql went on after the error");
}
