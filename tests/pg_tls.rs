//! Connections as libpq makes them, against real servers: TLS by sslmode
//! (the local server has `ssl = on`; certificate checks and client
//! certificates on throwaway servers with certificates made here), the
//! `PG*` variables and the password file through the real binary, and the
//! database options written before the command.

mod common;

use common::pg::{admin_url, TestDb};
use common::project::{text, Project};
use common::tls_server::{write_file, Ca, TlsServer};
use mergepoint::cli::error::db_error_kind;
use mergepoint::db::{Database, DbError, Environment};
use std::collections::BTreeMap;
use std::path::Path;

/// `url` with `param` added to its query string.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// An environment with `vars` only, `home` as the home directory.
fn env_with(vars: &[(&str, &str)], home: &Path) -> Environment {
    Environment {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        home: Some(home.to_path_buf()),
        os_user: Some("postgres".to_string()),
        exists: Box::new(|p| p.exists()),
    }
}

/// Whether the session uses TLS, from the server's own view.
fn ssl_in_use(client: &mut postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

fn exit_code(e: &DbError) -> u8 {
    db_error_kind(e).0.exit_code()
}

/// A project with one revision creating table `one`.
fn one_revision_project() -> Project {
    let p = Project::new();
    p.rev(
        "aaaa00000001",
        &[],
        true,
        "CREATE TABLE one (x int);",
        "DROP TABLE one;",
    );
    p
}

#[test]
fn sslmode_decides_tls_on_the_local_server() {
    let db = TestDb::create();
    let home = tempfile::tempdir().unwrap();
    let env = env_with(&[], home.path());
    for (mode, want) in [
        ("require", true),
        ("prefer", true),
        ("allow", false),
        ("disable", false),
    ] {
        let url = with_param(&db.url, &format!("sslmode={mode}"));
        let mut conn =
            Database::connect_with(&url, &env).unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        assert_eq!(ssl_in_use(conn.client()), want, "sslmode={mode}");
        // The lock's session is opened with the same settings.
        let mut lock_session = conn.open_session().unwrap();
        assert_eq!(ssl_in_use(&mut lock_session), want, "lock session, {mode}");
    }
    // libpq's default is prefer: TLS when the server offers it.
    let mut conn = Database::connect_with(&db.url, &env).unwrap();
    assert!(ssl_in_use(conn.client()));
    // PGSSLMODE applies when the URL says nothing.
    let env = env_with(&[("PGSSLMODE", "disable")], home.path());
    let mut conn = Database::connect_with(&db.url, &env).unwrap();
    assert!(!ssl_in_use(conn.client()));
}

#[test]
fn application_name_is_mergepoint_unless_set() {
    let db = TestDb::create();
    let home = tempfile::tempdir().unwrap();
    let name = |conn: &mut Database| -> String {
        conn.client()
            .query_one(
                "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let mut conn = Database::connect_with(&db.url, &env_with(&[], home.path())).unwrap();
    assert_eq!(name(&mut conn), "mergepoint");
    let env = env_with(&[("PGAPPNAME", "deploy-7")], home.path());
    let mut conn = Database::connect_with(&db.url, &env).unwrap();
    assert_eq!(name(&mut conn), "deploy-7");
    let url = with_param(&db.url, "application_name=from-url");
    let mut conn = Database::connect_with(&url, &env).unwrap();
    assert_eq!(name(&mut conn), "from-url");
}

#[test]
fn certificate_checks_and_client_certificates() {
    let ca = Ca::new("mergepoint test CA");
    let other_ca = Ca::new("some other CA");
    let server = TlsServer::start(
        &ca.server(&["localhost", "127.0.0.1"]),
        &ca,
        &[
            "hostssl all certuser 127.0.0.1/32 cert",
            "host all all 127.0.0.1/32 trust",
        ],
    );
    server
        .admin()
        .batch_execute("CREATE ROLE certuser LOGIN")
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let good_ca = files.path().join("ca.crt");
    let wrong_ca = files.path().join("other-ca.crt");
    write_file(&good_ca, &ca.pem(), 0o644);
    write_file(&wrong_ca, &other_ca.pem(), 0o644);
    let env = env_with(&[], files.path());
    let connect = |url: &str| Database::connect_with(url, &env);
    let root = |path: &Path| format!("sslrootcert={}", path.display());

    // The right CA and a host the certificate names: verified, encrypted.
    for host in ["localhost", "127.0.0.1"] {
        let url = server.url(
            host,
            "postgres",
            &format!("sslmode=verify-full&{}", root(&good_ca)),
        );
        let mut conn = connect(&url).unwrap_or_else(|e| panic!("{host}: {e}"));
        assert!(ssl_in_use(conn.client()));
    }
    let url = server.url(
        "127.0.0.1",
        "postgres",
        &format!("sslmode=verify-ca&{}", root(&good_ca)),
    );
    assert!(ssl_in_use(connect(&url).unwrap().client()));

    // The wrong CA: the CA check fails, and the message says how to fix it.
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = server.url(
            "localhost",
            "postgres",
            &format!("sslmode={mode}&{}", root(&wrong_ca)),
        );
        let err = connect(&url).expect_err(mode);
        assert!(matches!(err, DbError::Tls { .. }), "{mode}: {err:?}");
        assert_eq!(exit_code(&err), 3);
        let msg = err.to_string();
        assert!(msg.contains("CA check"), "{mode}: {msg}");
        assert!(msg.contains("sslrootcert="), "{mode}: {msg}");
        assert!(
            msg.contains(&wrong_ca.display().to_string()),
            "{mode}: {msg}"
        );
    }
    // require without root certificates: encrypted, nothing verified.
    let url = server.url("localhost", "postgres", "sslmode=require");
    assert!(ssl_in_use(connect(&url).unwrap().client()));
    // prefer falls back to a plain session when the handshake fails.
    let url = server.url(
        "localhost",
        "postgres",
        &format!("sslmode=prefer&{}", root(&wrong_ca)),
    );
    assert!(!ssl_in_use(connect(&url).unwrap().client()));
    // PGSSLROOTCERT is the variable of sslrootcert.
    let env_root = env_with(
        &[("PGSSLROOTCERT", wrong_ca.to_str().unwrap())],
        files.path(),
    );
    let url = server.url("localhost", "postgres", "sslmode=verify-full");
    let err = Database::connect_with(&url, &env_root).unwrap_err();
    assert!(err.to_string().contains("PGSSLROOTCERT="), "{err}");

    // Client certificates.
    let client = ca.client("certuser");
    let cert = files.path().join("client.crt");
    let key = files.path().join("client.key");
    write_file(&cert, &client.cert_pem, 0o644);
    write_file(&key, &client.key_pem, 0o600);
    let with_cert = format!(
        "sslmode=verify-full&{}&sslcert={}&sslkey={}",
        root(&good_ca),
        cert.display(),
        key.display()
    );
    let mut conn = connect(&server.url("localhost", "certuser", &with_cert))
        .unwrap_or_else(|e| panic!("client certificate refused: {e}"));
    let dn: Option<String> = conn
        .client()
        .query_one(
            "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(dn.as_deref(), Some("/CN=certuser"));
    // The same from PGSSLCERT / PGSSLKEY / PGSSLROOTCERT / PGSSLMODE.
    let env_cert = env_with(
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", good_ca.to_str().unwrap()),
            ("PGSSLCERT", cert.to_str().unwrap()),
            ("PGSSLKEY", key.to_str().unwrap()),
        ],
        files.path(),
    );
    let mut conn = Database::connect_with(&server.url("localhost", "certuser", ""), &env_cert)
        .unwrap_or_else(|e| panic!("client certificate from the variables refused: {e}"));
    assert!(ssl_in_use(conn.client()));
    let err = connect(&server.url(
        "localhost",
        "certuser",
        &format!("sslmode=verify-full&{}", root(&good_ca)),
    ))
    .expect_err("no client certificate");
    assert_eq!(exit_code(&err), 3);
    assert!(err.to_string().contains("certificate"), "{err}");

    // Files that cannot be used are input errors naming the file.
    write_file(&key, &client.key_pem, 0o644);
    let err = connect(&server.url("localhost", "certuser", &with_cert)).unwrap_err();
    assert!(matches!(err, DbError::Settings { .. }), "{err:?}");
    assert_eq!(exit_code(&err), 2);
    let msg = err.to_string();
    assert!(
        msg.contains(&key.display().to_string()) && msg.contains("0600"),
        "{msg}"
    );
    write_file(&key, &client.key_pem, 0o600);
    let missing = files.path().join("missing.crt");
    let err = connect(&server.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}", missing.display()),
    ))
    .unwrap_err();
    assert_eq!(exit_code(&err), 2);
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    let garbage = files.path().join("garbage.crt");
    write_file(&garbage, "not a certificate\n", 0o644);
    let err = connect(&server.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-ca&{}", root(&garbage)),
    ))
    .unwrap_err();
    assert_eq!(exit_code(&err), 2);
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    // Through the binary: the exit code and the message.
    let p = one_revision_project();
    let url = server.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&{}", root(&wrong_ca)),
    );
    let out = p.run(&["current", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CA check") && stderr.contains("sslrootcert="),
        "{stderr}"
    );
    let url = server.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&{}", root(&good_ca)),
    );
    let out = p.run(&["upgrade", "heads", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn verify_full_refuses_a_certificate_for_another_host() {
    let ca = Ca::new("mergepoint test CA");
    let server = TlsServer::start(
        &ca.server(&["otherhost"]),
        &ca,
        &["host all all 127.0.0.1/32 trust"],
    );
    let files = tempfile::tempdir().unwrap();
    let ca_file = files.path().join("ca.crt");
    write_file(&ca_file, &ca.pem(), 0o644);
    let env = env_with(&[], files.path());
    let query = |mode: &str| format!("sslmode={mode}&sslrootcert={}", ca_file.display());

    let err = Database::connect_with(
        &server.url("127.0.0.1", "postgres", &query("verify-full")),
        &env,
    )
    .unwrap_err();
    assert!(matches!(err, DbError::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("host name check"), "{msg}");
    assert!(
        msg.contains("'127.0.0.1'") && msg.contains("otherhost"),
        "{msg}"
    );
    assert!(msg.contains("verify-ca"), "{msg}");
    // verify-ca checks the CA only: it connects.
    let mut conn = Database::connect_with(
        &server.url("127.0.0.1", "postgres", &query("verify-ca")),
        &env,
    )
    .unwrap();
    assert!(ssl_in_use(conn.client()));

    let p = one_revision_project();
    let out = p.run(&[
        "current",
        "--database-url",
        &server.url("127.0.0.1", "postgres", &query("verify-full")),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("host name check"),
        "{}",
        text(&out)
    );
}

#[test]
fn passwords_from_variables_and_the_password_file() {
    let ca = Ca::new("mergepoint test CA");
    let server = TlsServer::start(
        &ca.server(&["localhost", "127.0.0.1"]),
        &ca,
        &[
            "host all pwuser 127.0.0.1/32 scram-sha-256",
            "hostnossl all tlsonly 127.0.0.1/32 reject",
            "host all all 127.0.0.1/32 trust",
        ],
    );
    let password = "Pa:ss\\w0rd-with-colon";
    server
        .admin()
        .batch_execute(&format!(
            "CREATE ROLE pwuser LOGIN PASSWORD '{}'; CREATE ROLE tlsonly LOGIN; \
             GRANT ALL ON SCHEMA public TO pwuser",
            password.replace('\'', "''")
        ))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let p = one_revision_project();
    let port = server.port.to_string();
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        p.cmd(args)
            .env_clear()
            .env("HOME", home.path())
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    let server_vars = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "pwuser"),
        ("PGDATABASE", "postgres"),
    ];

    // No password anywhere: the server asks for one, the run fails.
    let out = run(&server_vars, &["current"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // PGPASSWORD.
    let mut vars = server_vars.to_vec();
    vars.push(("PGPASSWORD", password));
    let out = run(&vars, &["current"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // ~/.pgpass, with libpq's escapes, the first matching line winning.
    let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
    let pgpass = home.path().join(".pgpass");
    let lines = format!(
        "# deploy credentials\nother:5432:*:pwuser:wrong\n127.0.0.1:{port}:*:pwuser:{escaped}\n*:*:*:*:wrong\n"
    );
    write_file(&pgpass, &lines, 0o600);
    let out = run(&server_vars, &["upgrade", "heads"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(password) && !all.contains("Pa:ss"), "{all}");

    // Group or world access: ignored with a warning, so no password.
    write_file(&pgpass, &lines, 0o644);
    let out = run(&server_vars, &["current"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: password file") && stderr.contains("0600"),
        "{stderr}"
    );

    // PGPASSFILE names another file.
    let elsewhere = home.path().join("deploy.pgpass");
    write_file(&elsewhere, &lines, 0o600);
    let mut vars = server_vars.to_vec();
    let elsewhere_text = elsewhere.to_str().unwrap().to_string();
    vars.push(("PGPASSFILE", elsewhere_text.as_str()));
    let out = run(&vars, &["current"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // SCRAM over TLS with channel binding (tls-server-end-point).
    let url = format!(
        "postgresql://pwuser:{}@127.0.0.1:{port}/postgres?sslmode=require&channel_binding=require",
        password.replace('\\', "%5C").replace(':', "%3A")
    );
    let mut conn = Database::connect_with(&url, &env_with(&[], home.path()))
        .unwrap_or_else(|e| panic!("channel binding: {e}"));
    assert!(ssl_in_use(conn.client()));

    // sslmode=allow: plain first, TLS when the server refuses plain.
    let env = env_with(&[], home.path());
    let mut conn =
        Database::connect_with(&server.url("127.0.0.1", "tlsonly", "sslmode=allow"), &env).unwrap();
    assert!(ssl_in_use(conn.client()));
    let err = Database::connect_with(&server.url("127.0.0.1", "tlsonly", "sslmode=disable"), &env)
        .unwrap_err();
    assert!(err.to_string().contains("no encryption"), "{err}");
}

/// host, port, user and database of the admin URL, as PG* variables.
fn admin_vars(db: &TestDb) -> Vec<(&'static str, String)> {
    let s = mergepoint::db::libpq::resolve(&admin_url(), &Environment::empty())
        .expect("the admin URL reads");
    vec![
        ("PGHOST", s.hosts[0].clone()),
        ("PGPORT", s.ports[0].to_string()),
        ("PGUSER", s.user.clone()),
        ("PGDATABASE", db.name.clone()),
    ]
}

#[test]
fn pg_variables_fill_what_the_url_leaves_out() {
    let db = TestDb::create();
    let p = one_revision_project();
    let home = tempfile::tempdir().unwrap();
    let vars = admin_vars(&db);
    let run = |vars: &[(&str, String)], args: &[&str]| {
        p.cmd(args)
            .env_clear()
            .env("HOME", home.path())
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    };
    // No URL at all: the variables name the server, as for psql.
    let out = run(&vars, &["upgrade", "heads"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(db.rows(), vec!["aaaa00000001"]);
    // A URL naming only the database: the rest from the variables.
    let out = run(
        &vars[..3],
        &[
            "current",
            "--database-url",
            &format!("postgresql:///{}", db.name),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("aaaa00000001"));

    // Bad values are input errors naming the variable and the value.
    let mut bad = vars.clone();
    bad[1].1 = "54x2".to_string();
    let out = run(&bad, &["current"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PGPORT") && stderr.contains("'54x2'"),
        "{stderr}"
    );
    let mut bad = vars.clone();
    bad.push(("PGSSLMODE", "verify_full".to_string()));
    let out = run(&bad, &["current"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PGSSLMODE")
            && stderr.contains("'verify_full'")
            && stderr.contains("verify-full"),
        "{stderr}"
    );
    let out = run(
        &vars,
        &[
            "current",
            "--database-url",
            &with_param(&db.url, "sslmode=on"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid sslmode 'on'"));

    // Without a URL or any server variable, the hint names PGHOST.
    let out = run(&[], &["current"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PGHOST"));
}

#[test]
fn database_options_before_the_command() {
    let db = TestDb::create();
    let p = one_revision_project();
    let out = p.run(&[
        "--database-url",
        &db.url,
        "--version-table",
        "deploys",
        "--version-table-schema",
        "public",
        "--lock-timeout",
        "5",
        "upgrade",
        "heads",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM public.deploys", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // The command's own options win over those before it.
    let out = p.run(&[
        "--database-url",
        "postgresql://nobody@127.0.0.1:1/nowhere",
        "current",
        "--database-url",
        &db.url,
        "--version-table",
        "deploys",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("aaaa00000001"),
        "{}",
        text(&out)
    );
    // Commands without a database accept and ignore them.
    let out = p.run(&["--database-url", &db.url, "heads"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
