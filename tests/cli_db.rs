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

#[test]
fn offline_sql_refuses_alembic_revisions() {
    let env = TestEnv::fixture("alembic_shop");
    let run = env.run(&["upgrade", "heads", "--sql"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("aaaa"), "{}", run.stderr);
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
    assert!(up
        .stdout
        .starts_with("Running upgrade  -> aaaa, create users ("));
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
