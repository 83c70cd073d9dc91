//! The database commands end to end, through the binary, on a real
//! PostgreSQL (see tests/common/pg.rs for the server these tests need):
//! upgrade, current, downgrade, stamp, exit codes 3 (database) and 4 (lock
//! timeout), and the password never printed. Offline `--sql` needs no
//! server and is snapshotted.

mod cli_util;
#[allow(dead_code)]
#[path = "common/pg.rs"]
mod pg;

use cli_util::{graphs, TestEnv};

fn with_url<'a>(args: &[&'a str], url: &'a str) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend_from_slice(&["--database-url", url]);
    v
}

#[test]
fn offline_sql() {
    let env = TestEnv::native(&graphs::merge());
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "db_offline_sql",
            env.transcript(&[
                &["upgrade", "bbbb", "--sql"],
                &["upgrade", "bbbb:head", "--sql"],
                &["downgrade", "head:cccc", "--sql"],
                &["downgrade", "head", "--sql"],
            ])
        );
    });
}

/// Offline scripts on Alembic projects without Python
/// (`MERGEPOINT_ALEMBIC_SQL=placeholders`, or no interpreter with Alembic)
/// list the steps Alembic would run, with a failing placeholder for each
/// step's SQL (pg_cli checks psql). With Alembic, the real SQL:
/// tests/pg_alembic_run.rs.
#[test]
fn offline_sql_on_alembic_revisions_is_a_safe_plan() {
    let env = TestEnv::fixture("alembic_shop");
    let no_python = [("MP_ALEMBIC_PYTHON", "/nonexistent/python3")];
    let placeholders = [("MERGEPOINT_ALEMBIC_SQL", "placeholders")];
    for (cmd, marker, vars) in [
        (
            &["upgrade", "heads", "--sql"][..],
            "-- Running upgrade  -> aaaa",
            &no_python,
        ),
        (
            &["downgrade", "ffff:base", "--sql"][..],
            "-- Running downgrade aaaa -> ",
            &placeholders,
        ),
    ] {
        let run = env.run_with_env(cmd, vars);
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(run.stdout.contains(marker), "{}", run.stdout);
        let steps = run.stdout.matches("-- Running ").count();
        let failing = run.stdout.matches("RAISE EXCEPTION").count();
        assert!(steps > 0 && steps == failing, "{}", run.stdout);
        assert!(run.stdout.contains("did not run Alembic"), "{}", run.stdout);
        if vars == &no_python {
            assert!(
                run.stderr.contains("placeholder") && run.stderr.contains("--python"),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn no_url_is_an_input_error() {
    let env = TestEnv::native(&graphs::linear());
    let run = env.run(&["current"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--database-url"));
}

#[test]
fn unreachable_database_exits_3_without_the_password() {
    let env = TestEnv::native(&graphs::linear());
    let url = "postgresql://app:s3cret-pw@127.0.0.1:1/shop";
    for cmd in [
        &["current"][..],
        &["upgrade", "head"][..],
        &["stamp", "head"][..],
    ] {
        let run = env.run(&with_url(cmd, url));
        assert_eq!(run.code, 3, "{}", run.transcript());
        assert!(
            !run.stderr.contains("s3cret-pw"),
            "password leaked: {}",
            run.stderr
        );
        assert!(run.stderr.contains("127.0.0.1"), "{}", run.stderr);
    }
}

#[test]
fn upgrade_current_downgrade_stamp() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::merge());
    let url = db.url.as_str();
    let up = env.run(&with_url(&["upgrade", "head"], url));
    assert_eq!(up.code, 0, "{}", up.transcript());
    assert_eq!(up.stdout.lines().count(), 5, "{}", up.stdout);
    assert!(
        up.stdout.starts_with("upgrade  aaaa  create users  ("),
        "{}",
        up.stdout
    );
    assert_eq!(db.rows(), ["eeee"]);

    let again = env.run(&with_url(&["upgrade", "head"], url));
    assert_eq!(
        again.stdout,
        "Nothing to do: the database is already at eeee.\n"
    );

    let current = env.run(&with_url(&["current"], url));
    assert_eq!(current.stdout, "eeee (head)\n");
    let json = env.run(&with_url(&["current", "--json"], url)).json();
    assert_eq!(json["rows"], serde_json::json!(["eeee"]));
    assert_eq!(json["revisions"][0]["revision"], "eeee");

    // Two steps down from eeee passes the merge: two ways, refused.
    let ambiguous = env.run(&with_url(&["downgrade", "-2"], url));
    assert_eq!(ambiguous.code, 2, "{}", ambiguous.transcript());
    assert!(
        ambiguous.stderr.contains("bbbb or cccc"),
        "{}",
        ambiguous.stderr
    );
    assert_eq!(db.rows(), ["eeee"], "nothing changed");

    let down = env.run(&with_url(&["downgrade", "-1"], url));
    assert_eq!(down.code, 0, "{}", down.transcript());
    assert_eq!(db.rows(), ["dddd"]);
    // Like Alembic: down to bbbb removes what is above bbbb; cccc, the
    // other side of the merge, stays applied.
    let down = env.run(&with_url(&["downgrade", "bbbb"], url));
    assert_eq!(down.code, 0, "{}", down.transcript());
    assert_eq!(db.rows(), ["bbbb", "cccc"]);

    let stamp = env.run(&with_url(&["stamp", "base"], url));
    assert_eq!(stamp.code, 0, "{}", stamp.transcript());
    assert_eq!(
        stamp.stdout,
        "Stamped: version table bbbb, cccc -> (empty)\n"
    );
    assert!(db.rows().is_empty());

    let bad = env.run(&with_url(&["upgrade", "nope"], url));
    assert_eq!(bad.code, 2, "{}", bad.transcript());
}

#[test]
fn lock_timeout_exits_4() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::linear());
    let mut holder = db.client();
    let schema: String = holder
        .query_one("SELECT current_schema()", &[])
        .unwrap()
        .get(0);
    let key = mergepoint::db::lock_key(&schema, "alembic_version");
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let run = env.run(&with_url(
        &["upgrade", "head", "--lock-timeout", "1"],
        &db.url,
    ));
    assert_eq!(run.code, 4, "{}", run.transcript());
    assert!(run.stderr.contains("lock"), "{}", run.stderr);
    assert!(db.rows().is_empty());
}

#[test]
fn log_lists_every_step() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::linear());
    let url = db.url.as_str();
    assert_eq!(env.run(&with_url(&["upgrade", "head"], url)).code, 0);
    assert_eq!(env.run(&with_url(&["downgrade", "-1"], url)).code, 0);
    let log = env.run(&with_url(&["log"], url));
    assert_eq!(log.code, 0, "{}", log.transcript());
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", log.stdout);
    assert!(lines[0].contains("upgrade") && lines[0].contains("aaaa") && lines[0].contains(" ok "));
    assert!(lines[3].contains("downgrade") && lines[3].contains("cccc"));
    let json = env
        .run(&with_url(&["log", "-n", "1", "--json"], url))
        .json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["revision"], "cccc");
    assert_eq!(json[0]["direction"], "downgrade");
    assert_eq!(json[0]["success"], true);
}

#[test]
fn check_database_finds_and_repairs_drift() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::linear());
    let url = db.url.as_str();
    assert_eq!(env.run(&with_url(&["upgrade", "head"], url)).code, 0);
    let clean = env.run(&with_url(&["check", "--database"], url));
    assert_eq!(clean.code, 0, "{}", clean.transcript());

    // Someone edits an applied revision.
    let path = "revisions/bbbb_rev.yaml";
    let edited = env.read(path).replace(
        "CREATE TABLE t_bbbb (id int);",
        "CREATE TABLE t_bbbb (id bigint);",
    );
    env.write(path, &edited);
    let drift = env.run(&with_url(&["check", "--database"], url));
    assert_eq!(drift.code, 1, "{}", drift.transcript());
    assert!(
        drift.stdout.contains("checksum_changed: revision bbbb"),
        "{}",
        drift.stdout
    );
    assert!(drift.stdout.contains("--repair"), "{}", drift.stdout);
    let json = env.run(&with_url(&["check", "--database", "--json"], url));
    assert_eq!(json.code, 1);
    assert_eq!(json.json()["problems"][0]["kind"], "checksum_changed");

    let repair = env.run(&with_url(&["check", "--database", "--repair"], url));
    assert_eq!(repair.code, 0, "{}", repair.transcript());
    assert!(repair.stdout.contains("repaired"), "{}", repair.stdout);
    let after = env.run(&with_url(&["check", "--database"], url));
    assert_eq!(after.code, 0, "{}", after.transcript());

    let broken = TestEnv::native(&graphs::linear());
    broken.write("revisions/zz.yaml", "id: [\n");
    let refused = broken.run(&with_url(&["check", "--database"], url));
    assert_eq!(refused.code, 2, "{}", refused.transcript());
}

/// The rows of a version table that may live elsewhere than
/// `alembic_version` on the search path.
fn rows_in(db: &pg::TestDb, table: &str, schema: Option<&str>) -> Vec<String> {
    let t = mergepoint::db::VersionTable::new(table, schema).unwrap();
    mergepoint::db::current(&mut db.client(), &t).unwrap()
}

fn table_exists(db: &pg::TestDb, name: &str) -> bool {
    db.client()
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .unwrap()
        .get(0)
}

#[test]
fn custom_version_table_and_schema_online() {
    let db = pg::TestDb::create();
    // A schema and a table name that only work quoted.
    db.client()
        .batch_execute(r#"CREATE SCHEMA "Ops Schema""#)
        .unwrap();
    let env = TestEnv::native(&graphs::linear());
    let url = db.url.as_str();
    let flags = [
        "--version-table",
        "Mp Versions",
        "--version-table-schema",
        "Ops Schema",
    ];
    let with = |cmd: &[&'static str]| {
        let mut v: Vec<&str> = cmd.to_vec();
        v.extend_from_slice(&flags);
        v.extend_from_slice(&["--database-url", url]);
        v
    };
    let up = env.run(&with(&["upgrade", "bbbb"]));
    assert_eq!(up.code, 0, "{}", up.transcript());
    assert_eq!(rows_in(&db, "Mp Versions", Some("Ops Schema")), ["bbbb"]);
    assert!(table_exists(&db, r#""Ops Schema".mergepoint_history"#));
    assert!(
        !table_exists(&db, "alembic_version"),
        "default table untouched"
    );

    let current = env.run(&with(&["current"]));
    assert_eq!(current.stdout, "bbbb\n", "{}", current.transcript());
    // Without the flags, the default table: nothing applied there.
    let default = env.run(&with_url(&["current"], url));
    assert_eq!(default.code, 0, "{}", default.transcript());
    assert_eq!(default.stdout, "");

    let up = env.run(&with(&["upgrade", "head"]));
    assert_eq!(up.code, 0, "{}", up.transcript());
    let down = env.run(&with(&["downgrade", "-1"]));
    assert_eq!(down.code, 0, "{}", down.transcript());
    assert_eq!(rows_in(&db, "Mp Versions", Some("Ops Schema")), ["bbbb"]);
    let log = env.run(&with(&["log"]));
    assert_eq!(log.stdout.lines().count(), 4, "{}", log.transcript());
    let check = env.run(&with(&["check", "--database"]));
    assert_eq!(check.code, 0, "{}", check.transcript());
    // check --database reads the named table: a redundant row there is
    // found, and --repair deletes it there.
    db.client()
        .batch_execute(r#"INSERT INTO "Ops Schema"."Mp Versions" VALUES ('aaaa')"#)
        .unwrap();
    let check = env.run(&with(&["check", "--database"]));
    assert_eq!(check.code, 1, "{}", check.transcript());
    assert!(check.stdout.contains("not_a_head"), "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains(r#"DELETE FROM "Ops Schema"."Mp Versions" WHERE version_num = 'aaaa';"#),
        "{}",
        check.stdout
    );
    let repair = env.run(&with(&["check", "--database", "--repair"]));
    assert_eq!(repair.code, 0, "{}", repair.transcript());
    assert_eq!(rows_in(&db, "Mp Versions", Some("Ops Schema")), ["bbbb"]);
    let stamp = env.run(&with(&["stamp", "head"]));
    assert_eq!(stamp.code, 0, "{}", stamp.transcript());
    assert_eq!(rows_in(&db, "Mp Versions", Some("Ops Schema")), ["cccc"]);
    assert!(!table_exists(&db, "alembic_version"));

    // mergepoint.yaml is the fallback; flags win over it.
    env.write(
        "mergepoint.yaml",
        "format: native\nrevisions: revisions\nversion_table: Mp Versions\nversion_table_schema: Ops Schema\n",
    );
    let from_config = env.run(&with_url(&["current"], url));
    assert_eq!(
        from_config.stdout,
        "cccc (head)\n",
        "{}",
        from_config.transcript()
    );
    let overridden = env.run(&with_url(
        &["current", "--version-table", "other_versions"],
        url,
    ));
    assert_eq!(overridden.code, 0, "{}", overridden.transcript());
    assert_eq!(overridden.stdout, "");

    // Names PostgreSQL cannot take are refused before connecting.
    let long = "x".repeat(64);
    let bad = env.run(&[
        "current",
        "--version-table",
        &long,
        "--database-url",
        "postgresql://nobody@127.0.0.1:1/x",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.transcript());
    assert!(bad.stderr.contains("63"), "{}", bad.stderr);
}

#[test]
fn custom_version_table_and_schema_offline() {
    let env = TestEnv::native(&graphs::linear());
    let run = env.run(&[
        "upgrade",
        "head",
        "--sql",
        "--version-table",
        "Mp Versions",
        "--version-table-schema",
        "Ops Schema",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let sql = &run.stdout;
    assert!(
        sql.contains(r#"CREATE TABLE IF NOT EXISTS "Ops Schema"."Mp Versions" ("#),
        "{sql}"
    );
    assert!(
        sql.contains(r#"INSERT INTO "Ops Schema"."Mp Versions" (version_num) VALUES ('aaaa');"#),
        "{sql}"
    );
    assert!(
        sql.contains(r#"UPDATE "Ops Schema"."Mp Versions" SET version_num = 'cccc' WHERE version_num = 'bbbb';"#),
        "{sql}"
    );
    assert!(
        sql.contains(r#""Ops Schema"."mergepoint_history""#),
        "{sql}"
    );
    assert!(!sql.contains("alembic_version"), "{sql}");

    // The config file is the fallback offline too.
    env.write(
        "mergepoint.yaml",
        "format: native\nrevisions: revisions\nversion_table: cfg_versions\n",
    );
    let run = env.run(&["downgrade", "head:base", "--sql"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains(r#"DELETE FROM "cfg_versions" WHERE version_num = 'aaaa';"#),
        "{}",
        run.stdout
    );
}

#[test]
fn current_check_heads_verbose_and_unknown_rows() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::fork());
    let url = db.url.as_str();
    assert_eq!(env.run(&with_url(&["upgrade", "bbbb"], url)).code, 0);

    // One of two heads applied.
    let check = env.run(&with_url(&["current", "--check-heads"], url));
    assert_eq!(check.code, 1, "{}", check.transcript());
    assert_eq!(check.stdout, "bbbb (head)\n");
    assert!(
        check.stderr.contains("graph head(s) not applied: cccc"),
        "{}",
        check.stderr
    );
    assert!(
        !check.stderr.contains("not graph heads"),
        "{}",
        check.stderr
    );
    assert!(check.stderr.contains("upgrade heads"), "{}", check.stderr);
    let json = env.run(&with_url(&["current", "--check-heads", "--json"], url));
    assert_eq!(json.code, 1, "{}", json.transcript());
    assert_eq!(json.json()["heads"], serde_json::json!(["bbbb", "cccc"]));
    assert_eq!(json.json()["at_heads"], false);

    assert_eq!(env.run(&with_url(&["upgrade", "heads"], url)).code, 0);
    let ok = env.run(&with_url(&["current", "--check-heads"], url));
    assert_eq!(ok.code, 0, "{}", ok.transcript());
    assert_eq!(ok.stdout, "bbbb (head)\ncccc (head)\n");
    let json = env.run(&with_url(&["current", "--json"], url)).json();
    assert_eq!(json["at_heads"], true);

    // A row that is not a head (an ancestor of another row) and a row the
    // graph does not know (e.g. a newer deploy's).
    db.client()
        .batch_execute("INSERT INTO alembic_version VALUES ('aaaa'), ('ffff')")
        .unwrap();
    let verbose = env.run(&with_url(&["current", "--verbose"], url));
    assert_eq!(verbose.code, 2, "{}", verbose.transcript());
    step_settings(&env, &db).bind(|| {
        insta::assert_snapshot!("db_current_verbose", verbose.stdout);
    });
    assert!(
        verbose
            .stderr
            .contains("not in the revisions directory: ffff"),
        "{}",
        verbose.stderr
    );
    let check = env.run(&with_url(&["current", "--check-heads"], url));
    assert_eq!(check.code, 1, "{}", check.transcript());
    assert!(
        check.stderr.contains(
            "version-table row(s) that are not graph heads: aaaa, ffff (not in the revisions directory)"
        ),
        "{}",
        check.stderr
    );
    let json = env.run(&with_url(&["current", "--json"], url));
    assert_eq!(json.code, 0, "{}", json.transcript());
    assert_eq!(json.json()["unknown"], serde_json::json!(["ffff"]));
    assert_eq!(json.json()["at_heads"], false);
}

/// Writes a native revision with the given upgrade SQL.
fn write_sql_rev(env: &TestEnv, id: &str, parent: Option<&str>, up: &str, transactional: bool) {
    let indent: String = up.lines().map(|l| format!("  {l}\n")).collect();
    env.write(
        &format!("revisions/{id}_rev.yaml"),
        &format!(
            "id: {id}\nparents: [{}]\nmessage: rev {id}\ncreated: 2026-11-22T10:15:00Z\ntransactional: {transactional}\nupgrade: |\n{indent}downgrade: |\n  DROP TABLE t_{id};\n",
            parent.unwrap_or("")
        ),
    );
}

fn failing_third(transactional_second: bool) -> TestEnv {
    let env = TestEnv::new();
    write_sql_rev(&env, "aaaa", None, "CREATE TABLE t_aaaa (id int);", true);
    write_sql_rev(
        &env,
        "bbbb",
        Some("aaaa"),
        "CREATE TABLE t_bbbb (id int);",
        transactional_second,
    );
    write_sql_rev(
        &env,
        "cccc",
        Some("bbbb"),
        "CREATE TABLE t_cccc (id int);\nSELECT 1 / 0;",
        true,
    );
    env
}

#[test]
fn transaction_per_run_rolls_back_the_whole_run() {
    let db = pg::TestDb::create();
    let env = failing_third(true);
    let url = db.url.as_str();
    let run = env.run(&with_url(
        &["upgrade", "head", "--transaction-per-run"],
        url,
    ));
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(run.stderr.contains("division by zero"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing from this run was applied"),
        "{}",
        run.stderr
    );
    assert!(db.rows().is_empty(), "version table rolled back");
    for t in ["t_aaaa", "t_bbbb", "t_cccc"] {
        assert!(!table_exists(&db, t), "{t} survived the rollback");
    }
    let audit = db.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].0, "cccc");
    assert!(!audit[0].2, "the failure is recorded");

    // The default (a transaction per revision) keeps the first two.
    let db2 = pg::TestDb::create();
    let run = env.run(&with_url(&["upgrade", "head"], &db2.url));
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("Already applied (committed) by this run: aaaa, bbbb"),
        "{}",
        run.stderr
    );
    assert_eq!(db2.rows(), ["bbbb"]);
    assert!(table_exists(&db2, "t_bbbb") && !table_exists(&db2, "t_cccc"));
}

#[test]
fn transaction_per_run_refuses_non_transactional_revisions() {
    let db = pg::TestDb::create();
    let env = failing_third(false);
    let run = env.run(&with_url(
        &["upgrade", "head", "--transaction-per-run"],
        &db.url,
    ));
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("bbbb is non-transactional"),
        "{}",
        run.stderr
    );
    assert!(db.rows().is_empty());
    assert!(!table_exists(&db, "t_aaaa"));
    // And it is not an offline option.
    let sql = env.run(&["upgrade", "head", "--sql", "--transaction-per-run"]);
    assert_eq!(sql.code, 2, "{}", sql.transcript());
}

/// insta settings for runs against a test database: durations and the
/// database name redacted.
fn step_settings(env: &TestEnv, db: &pg::TestDb) -> insta::Settings {
    let mut s = env.settings();
    s.add_filter(r"\(\d+ ms\)", "([N] ms)");
    s.add_filter(r#""duration_ms":[0-9.e+-]+"#, r#""duration_ms":"[MS]""#);
    s.add_filter(&regex_escape(&db.url), "[URL]");
    s.add_filter(&regex_escape(&db.name), "[DB]");
    s.add_filter(r"(Current revision\(s\) for )\S+:", "${1}[URL]:");
    s.add_filter(r#""database":"[^"]*""#, r#""database":"[URL]""#);
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn step_lines_text_and_json() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::merge());
    let url = db.url.as_str();
    step_settings(&env, &db).bind(|| {
        insta::assert_snapshot!(
            "db_steps_text",
            env.transcript(&[
                &with_url(&["upgrade", "dddd"], url),
                &with_url(&["upgrade", "head"], url),
                &with_url(&["upgrade", "head"], url),
                &with_url(&["downgrade", "bbbb"], url),
            ])
        );
        insta::assert_snapshot!(
            "db_steps_json",
            env.transcript(&[
                &with_url(&["downgrade", "base", "--json"], url),
                &with_url(&["upgrade", "heads", "--json"], url),
                &with_url(&["upgrade", "heads", "--json"], url),
                &with_url(&["stamp", "bbbb", "--json"], url),
                &with_url(&["stamp", "base", "--json"], url),
            ])
        );
    });
    // Every JSON line parses, steps first, the summary last.
    let fresh = pg::TestDb::create();
    let run = env.run(&with_url(&["upgrade", "head", "--json"], &fresh.url));
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[..5].iter().all(|l| l["type"] == "step"));
    assert!(lines[..5].iter().all(|l| l["duration_ms"].is_f64()));
    assert_eq!(lines[5]["type"], "summary");
    assert_eq!(lines[5]["steps"], 5);
    assert_eq!(lines[5]["after"], serde_json::json!(["eeee"]));
}

#[test]
fn upgrade_head_with_several_heads_suggests_heads_or_merge() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::fork());
    let run = env.run(&with_url(&["upgrade", "head"], &db.url));
    assert_eq!(run.code, 2, "{}", run.transcript());
    env.settings().bind(|| {
        insta::assert_snapshot!("db_upgrade_multiple_heads", run.stderr);
    });
    assert!(run.stderr.contains("'mergepoint heads'"), "{}", run.stderr);
    assert!(
        run.stderr.contains("'mergepoint merge heads -m MSG'"),
        "{}",
        run.stderr
    );
    assert!(db.rows().is_empty());
    // Offline, the same error and hints.
    let offline = env.run(&["upgrade", "head", "--sql"]);
    assert_eq!(offline.code, 2, "{}", offline.transcript());
    assert_eq!(offline.stderr, run.stderr);
}

#[test]
fn upgrade_on_alembic_runs_on_one_database_and_refuses_fleets_before_connecting() {
    let env = TestEnv::fixture("alembic_shop");
    // Nothing listens on port 1: a connection attempt is exit 3.
    let url = "postgresql://app:pw@127.0.0.1:1/shop";
    let targets = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(targets.path(), format!("{url}\n")).unwrap();
    let targets = targets.path().to_str().unwrap();
    for cmd in [&["upgrade", "heads"][..], &["downgrade", "base"][..]] {
        // One database: the revisions run (tests/pg_alembic_run.rs), so
        // the database is contacted first.
        let run = env.run(&with_url(cmd, url));
        assert_eq!(run.code, 3, "{}", run.transcript());
        assert!(!run.stderr.contains("pw"), "{}", run.stderr);
        // A fleet: refused before any target is contacted.
        let mut fleet = cmd.to_vec();
        fleet.extend(["--targets", targets]);
        let run = env.run(&fleet);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(
            run.stderr.contains("Alembic revisions")
                && run.stderr.contains("one database at a time")
                && run.stderr.contains("no database was contacted"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("cannot connect"), "{}", run.stderr);
    }
    assert_eq!(env.run(&with_url(&["current"], url)).code, 3);
    assert_eq!(env.run(&with_url(&["stamp", "heads"], url)).code, 3);
}

#[test]
fn current_and_stamp_work_on_alembic_projects() {
    let db = pg::TestDb::create();
    let env = TestEnv::fixture("alembic_shop");
    let url = db.url.as_str();
    let stamp = env.run(&with_url(&["stamp", "heads"], url));
    assert_eq!(stamp.code, 0, "{}", stamp.transcript());
    assert_eq!(db.rows(), ["ffff", "hhhh"]);
    let current = env.run(&with_url(&["current", "--check-heads"], url));
    assert_eq!(current.code, 0, "{}", current.transcript());
    assert_eq!(current.stdout, "ffff (head)\nhhhh (head)\n");
    let stamp = env.run(&with_url(&["stamp", "dddd"], url));
    assert_eq!(stamp.code, 0, "{}", stamp.transcript());
    let current = env.run(&with_url(&["current", "--check-heads"], url));
    assert_eq!(current.code, 1, "{}", current.transcript());
    assert!(
        current.stderr.contains("not applied: ffff, hhhh"),
        "{}",
        current.stderr
    );
}

/// Offline, FROM is the one revision the database is at (Alembic's
/// starting revision): `heads` with two heads is ambiguous, not guessed.
#[test]
fn offline_from_must_be_a_single_revision() {
    let env = TestEnv::fixture("alembic_shop");
    let run = env.run(&["downgrade", "heads:base", "--sql"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("there are 2: ffff, hhhh"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

/// Issue 10: a multi-line message printed raw newlines into the step
/// lines of upgrade/downgrade. Each step is one line with the message's
/// first line; the JSON step keeps the whole message. And `upgrade -0` /
/// `downgrade -0` online say what is wrong instead of sending the user to
/// the other command.
#[test]
fn step_lines_show_the_first_line_of_a_multi_line_message() {
    let db = pg::TestDb::create();
    let env = TestEnv::native(&graphs::linear()[..1]);
    env.write(
        "revisions/bbbb_rev.yaml",
        "id: bbbb\nparents: [aaaa]\nmessage: |\n  add orders\n  because reasons\ncreated: 2026-11-22T10:15:00Z\nupgrade: |\n  CREATE TABLE t_bbbb (id int);\ndowngrade: |\n  DROP TABLE t_bbbb;\n",
    );
    let url = db.url.as_str();
    let up = env.run(&with_url(&["upgrade", "head"], url));
    assert_eq!(up.code, 0, "{}", up.transcript());
    assert_eq!(up.stdout.lines().count(), 2, "{}", up.stdout);
    let line = up.stdout.lines().nth(1).unwrap();
    assert!(
        line.starts_with("upgrade  bbbb  add orders  ("),
        "{}",
        up.stdout
    );
    assert!(!up.stdout.contains("because"), "{}", up.stdout);
    for target in ["-0", "+0"] {
        for command in ["upgrade", "downgrade"] {
            let run = env.run(&with_url(&[command, target], url));
            assert_eq!(run.code, 2, "{}", run.transcript());
            assert!(
                run.stderr.contains("is a walk of zero steps") && !run.stderr.contains("use `"),
                "{}",
                run.transcript()
            );
        }
    }
    let down = env.run(&with_url(&["downgrade", "aaaa", "--json"], url));
    assert_eq!(down.code, 0, "{}", down.transcript());
    let step: serde_json::Value =
        serde_json::from_str(down.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(step["message"], "add orders\nbecause reasons\n");
    assert_eq!(db.rows(), ["aaaa"]);
}
