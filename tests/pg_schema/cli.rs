//! `mergepoint diff` and `mergepoint schema dump` through the real binary:
//! each kind of side (URL, .sql file, directory, rev:), the exit codes,
//! `--json`, the dump round trip, the temporary databases on the dev server
//! (gone after success, error and SIGINT) and every error of the sides.

use crate::common::pg::{admin_client, admin_url, psql_apply, TestDb};
use crate::common::project::{text, Project};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `mergepoint ARGS` in `project` (a fresh one when `None`), with the dev
/// server of the tests and no inherited `MERGEPOINT_DEV_URL`.
fn mp(project: &Project, args: &[&str]) -> Output {
    let mut c = project.cmd(args);
    c.env_remove("MERGEPOINT_DEV_URL");
    c.output().unwrap()
}

fn dev() -> String {
    admin_url()
}

/// `mergepoint diff FROM TO --dev-url DEV EXTRA...`.
fn diff(project: &Project, from: &str, to: &str, extra: &[&str]) -> Output {
    let dev = dev();
    let mut args = vec!["diff", from, to, "--dev-url", dev.as_str()];
    args.extend_from_slice(extra);
    mp(project, &args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Temporary databases of the process `pid` still on the server.
fn temp_dbs_of(pid: u32) -> Vec<String> {
    admin_client()
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            &[&format!("mergepoint_tmp_{pid}_%")],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Runs `mergepoint ARGS` as a child, returning its output and its pid.
fn run_with_pid(project: &Project, args: &[&str]) -> (Output, u32) {
    let mut c = project.cmd(args);
    c.env_remove("MERGEPOINT_DEV_URL");
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (child.wait_with_output().unwrap(), pid)
}

const SHOP_A: &str = "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);\n";
const SHOP_B: &str =
    "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text);\n\
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id));\n";

#[test]
fn equal_databases_print_nothing_and_exit_0() {
    let a = TestDb::create();
    let b = TestDb::create();
    psql_apply(&a.url, SHOP_A);
    psql_apply(&b.url, SHOP_A);
    let p = Project::new();
    let out = mp(&p, &["diff", &a.url, &b.url, "--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "", "{}", text(&out));
}

#[test]
fn diff_of_two_urls_prints_a_script_that_converges() {
    let a = TestDb::create();
    let b = TestDb::create();
    psql_apply(&a.url, SHOP_A);
    psql_apply(&b.url, SHOP_B);
    let p = Project::new();
    let out = mp(&p, &["diff", &a.url, &b.url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let script = stdout(&out);
    assert!(script.contains("orders"), "{}", text(&out));
    assert!(script.contains("email"), "{}", text(&out));
    psql_apply(&a.url, &script);
    let again = mp(&p, &["diff", &a.url, &b.url, "--exit-code"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(stdout(&again), "");
}

#[test]
fn exit_code_is_1_when_the_schemas_differ() {
    let a = TestDb::create();
    let b = TestDb::create();
    psql_apply(&b.url, SHOP_A);
    let p = Project::new();
    let out = mp(&p, &["diff", &a.url, &b.url, "--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("customers"), "{}", text(&out));
    // Without --exit-code the same difference exits 0.
    let out = mp(&p, &["diff", &a.url, &b.url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn json_lists_each_statement_with_its_object_kind_hazards_and_transactional() {
    let a = TestDb::create();
    let b = TestDb::create();
    psql_apply(&a.url, "CREATE TABLE gone (x int);\n");
    psql_apply(&b.url, SHOP_A);
    let p = Project::new();
    let out = mp(&p, &["diff", &a.url, &b.url, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().expect("an array");
    assert!(!list.is_empty(), "{}", text(&out));
    for s in list {
        assert!(s["sql"].is_string(), "{s}");
        assert!(s["object"].is_string(), "{s}");
        assert!(s["object_kind"].is_string(), "{s}");
        assert!(s["kind"].is_string(), "{s}");
        assert!(s["hazards"].is_array(), "{s}");
        assert!(s["transactional"].is_boolean(), "{s}");
    }
    let drop = list
        .iter()
        .find(|s| s["object"] == "table public.gone")
        .expect("the drop of public.gone");
    assert_eq!(drop["kind"], "drop");
    assert!(
        drop["hazards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "data_loss"),
        "{drop}"
    );
    // Equal schemas: an empty array.
    let out = mp(&p, &["diff", &b.url, &b.url, "--json"]);
    assert_eq!(stdout(&out).trim(), "[]", "{}", text(&out));
}

#[test]
fn a_sql_file_and_a_directory_are_sides() {
    let p = Project::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.sql");
    std::fs::write(&file, SHOP_B).unwrap();
    let split = dir.path().join("split");
    std::fs::create_dir(&split).unwrap();
    // Sorted order: 01 creates what 02 refers to.
    std::fs::write(
        split.join("02_orders.sql"),
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id));\n",
    )
    .unwrap();
    std::fs::write(
        split.join("01_customers.sql"),
        "-- the customers\nCREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text);\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let d = split.to_str().unwrap();
    let same = diff(&p, f, d, &["--exit-code"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert_eq!(stdout(&same), "");
    // Against a live database with less in it.
    let a = TestDb::create();
    psql_apply(&a.url, SHOP_A);
    let out = diff(&p, &a.url, d, &["--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("orders"), "{}", text(&out));
}

/// A native project: base creates customers, the next adds orders.
fn shop_project() -> Project {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);",
        "DROP TABLE customers;",
    );
    p.rev(
        "bbbb00000002",
        &["aaaa00000001"],
        true,
        "CREATE TABLE orders (id bigint PRIMARY KEY);",
        "DROP TABLE orders;",
    );
    p
}

#[test]
fn rev_sides_build_the_revisions_schema() {
    let p = shop_project();
    // base to head: both tables are created.
    let out = diff(&p, "rev:base", "rev:head", &["--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let script = stdout(&out);
    assert!(
        script.contains("customers") && script.contains("orders"),
        "{}",
        text(&out)
    );
    // The version and history tables are not part of the schema.
    assert!(!script.contains("alembic_version"), "{script}");
    assert!(!script.contains("mergepoint_history"), "{script}");
    // heads = head here; a prefix resolves.
    let out = diff(&p, "rev:head", "rev:heads", &["--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = diff(&p, "rev:aaaa", "rev:head", &["--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("orders") && !stdout(&out).contains("customers"),
        "{}",
        text(&out)
    );
    // A database upgraded by mergepoint equals rev:head.
    let db = TestDb::create();
    let up = p.run(&["upgrade", "head", "--database-url", &db.url]);
    assert!(up.status.success(), "{}", text(&up));
    let out = diff(&p, &db.url, "rev:head", &["--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn schema_dump_loads_into_an_empty_database_and_diffs_empty() {
    let a = TestDb::create();
    psql_apply(&a.url, SHOP_B);
    psql_apply(
        &a.url,
        "CREATE VIEW customer_orders AS SELECT c.name, o.id FROM customers c JOIN orders o ON o.customer_id = c.id;\n\
         CREATE INDEX customers_name ON customers (name);\n",
    );
    let p = Project::new();
    let out = mp(&p, &["schema", "dump", &a.url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dump = stdout(&out);
    assert!(dump.contains("customer_orders"), "{}", text(&out));
    let b = TestDb::create();
    psql_apply(&b.url, &dump);
    let out = mp(&p, &["diff", &a.url, &b.url, "--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "");
    // The default side is the database of --database-url.
    let by_flag = mp(&p, &["schema", "dump", "--database-url", &a.url]);
    assert_eq!(stdout(&by_flag), dump, "{}", text(&by_flag));
    // --json prints the model.
    let json = mp(&p, &["schema", "dump", &a.url, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let objects = v["objects"].as_array().expect("a list of objects");
    assert!(
        objects
            .iter()
            .any(|o| o["object"] == "table" && o["name"]["name"] == "orders"),
        "{v}"
    );
    assert!(v["depends"].is_array(), "{v}");
}

#[test]
fn temporary_databases_are_dropped_after_success_and_after_an_error() {
    let p = shop_project();
    let dev = dev();
    let (out, pid) = run_with_pid(&p, &["diff", "rev:base", "rev:head", "--dev-url", &dev]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", text(&out));
    assert_eq!(temp_dbs_of(pid), Vec::<String>::new());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sql");
    std::fs::write(
        &bad,
        "CREATE TABLE ok (x int);\nCREATE TABLE broken (x nosuchtype);\n",
    )
    .unwrap();
    let (out, pid) = run_with_pid(
        &p,
        &["diff", "rev:head", bad.to_str().unwrap(), "--dev-url", &dev],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(temp_dbs_of(pid), Vec::<String>::new());
}

#[test]
fn sigint_drops_the_temporary_database_and_exits_130() {
    let p = Project::new();
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow.sql");
    std::fs::write(&slow, "CREATE TABLE t (x int);\nSELECT pg_sleep(30);\n").unwrap();
    let dev = dev();
    let mut c = p.cmd(&["diff", slow.to_str().unwrap(), &dev, "--dev-url", &dev]);
    c.env_remove("MERGEPOINT_DEV_URL");
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the temporary database exists and the sleep runs in it.
    let started = Instant::now();
    let mut admin = admin_client();
    loop {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE $1 AND query LIKE '%pg_sleep%'",
                &[&format!("mergepoint_tmp_{pid}_%")],
            )
            .unwrap()
            .get(0);
        if n > 0 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mergepoint ended before the sleep: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sleep never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(temp_dbs_of(pid).len(), 1);
    let killed = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let waited = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "mergepoint did not exit on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(waited.elapsed() < Duration::from_secs(15));
    assert_eq!(status.code(), Some(130));
    assert_eq!(temp_dbs_of(pid), Vec::<String>::new());
}

#[test]
fn an_unreachable_dev_server_exits_3_naming_it() {
    let p = Project::new();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.sql");
    std::fs::write(&f, SHOP_A).unwrap();
    let a = TestDb::create();
    let out = mp(
        &p,
        &[
            "diff",
            f.to_str().unwrap(),
            &a.url,
            "--dev-url",
            "postgresql://postgres@127.0.0.1:1/postgres",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", text(&out));
    assert!(stderr(&out).contains("--dev-url"), "{}", text(&out));
}

#[test]
fn no_dev_server_exits_2_with_a_hint() {
    let p = Project::new();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.sql");
    std::fs::write(&f, SHOP_A).unwrap();
    let a = TestDb::create();
    let out = mp(&p, &["diff", f.to_str().unwrap(), &a.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("needs a dev server"), "{err}");
    assert!(
        err.contains("MERGEPOINT_DEV_URL") && err.contains("dev_url:"),
        "{err}"
    );
    // MERGEPOINT_DEV_URL, then dev_url: in mergepoint.yaml, are used.
    let mut c = p.cmd(&[
        "diff",
        f.to_str().unwrap(),
        f.to_str().unwrap(),
        "--exit-code",
    ]);
    let out = c.env("MERGEPOINT_DEV_URL", dev()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(
        p.path().join("mergepoint.yaml"),
        format!("format: native\ndev_url: {}\n", dev()),
    )
    .unwrap();
    let out = mp(
        &p,
        &[
            "diff",
            f.to_str().unwrap(),
            f.to_str().unwrap(),
            "--exit-code",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_sql_file_that_fails_names_the_file_the_line_and_postgresqls_message() {
    let p = Project::new();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("schema.sql");
    std::fs::write(
        &f,
        "-- header\nCREATE TABLE ok (x int);\n\nCREATE TABLE broken (\n  a int,\n  b nosuchtype\n);\n",
    )
    .unwrap();
    let a = TestDb::create();
    let out = diff(&p, &a.url, f.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:6:", f.display())), "{err}");
    assert!(err.contains("type \"nosuchtype\" does not exist"), "{err}");
    // A syntax error on the first line of a file of a directory.
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("a.sql"), "CREATE TABLE fine (x int);\n").unwrap();
    std::fs::write(d.join("b.sql"), "CREATE TABEL t (x int);\n").unwrap();
    let out = diff(&p, &a.url, d.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("b.sql:1:") && err.contains("syntax error"),
        "{err}"
    );
}

#[test]
fn an_unresolvable_rev_exits_2() {
    let p = shop_project();
    for ident in ["rev:ffff", "rev:nolabel@head"] {
        let out = diff(&p, "rev:base", ident, &[]);
        assert_eq!(out.status.code(), Some(2), "{ident}: {}", text(&out));
        assert!(stderr(&out).contains(ident), "{}", text(&out));
    }
    // Not a side at all.
    let out = diff(&p, "rev:head", "missing.sql", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("missing.sql"), "{}", text(&out));
}

#[test]
fn an_unsupported_object_kind_exits_2_naming_it() {
    let a = TestDb::create();
    psql_apply(
        &a.url,
        "CREATE AGGREGATE my_sum (integer) (SFUNC = int4pl, STYPE = integer);\n",
    );
    let b = TestDb::create();
    let p = Project::new();
    let out = mp(&p, &["diff", &a.url, &b.url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("my_sum"), "{err}");
    assert!(err.contains("not supported"), "{err}");
}
