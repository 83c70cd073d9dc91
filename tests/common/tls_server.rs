//! A throwaway PostgreSQL server with TLS, for tests that need
//! certificates of their own (verify-full, verify-ca, client
//! certificates) and password authentication (the password file).
//!
//! [`Ca`] makes a certificate authority and the certificates it signs
//! (rcgen). [`TlsServer::start`] runs `initdb` into a temporary directory
//! (as the `postgres` user when the tests run as root, since initdb refuses
//! root), writes the server certificate, a CA for client certificates and
//! the given `pg_hba.conf` lines, and starts the server on a free loopback
//! port with `pg_ctl -w` (bounded by timeouts: nothing here can hang).
//! Dropping it stops the server (`pg_ctl stop -m immediate`) and removes
//! the directory. Missing PostgreSQL binaries are a clear failure, never a
//! skip.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A certificate authority.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its private key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (DNS names, or IP addresses).
    pub fn server(&self, names: &[&str]) -> Issued {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*n).try_into().expect("a DNS name")),
            })
            .collect();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate for the PostgreSQL user `user` (its common
    /// name, which `cert` authentication compares with the user).
    pub fn client(&self, user: &str) -> Issued {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Issued {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Writes `text` to `path` with `mode`.
pub fn write_file(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The directory of the PostgreSQL server binaries.
fn bindir() -> PathBuf {
    let candidates = [
        std::env::var("PG_BINDIR").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/lib/postgresql/15/bin")),
        Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .unwrap_or_else(|| {
            panic!(
                "initdb and pg_ctl not found (tried $PG_BINDIR, /usr/lib/postgresql/15/bin, \
                 pg_config --bindir): these tests start a PostgreSQL server of their own; \
                 install it with `apt-get install postgresql-15` or set PG_BINDIR"
            )
        })
}

/// (uid, gid) of the `postgres` user, from /etc/passwd.
fn postgres_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == "postgres")
                .then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .expect(
            "running as root, the server must run as the `postgres` user (initdb refuses root), \
             and there is none: install PostgreSQL's Debian package, which creates it",
        )
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Runs `program args` (as `postgres` when we are root), failing after
/// `timeout`; panics with the output when it fails.
fn run(program: &Path, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .env_remove("PGDATA")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{} {args:?} did not finish within {timeout:?}:\n{}{}",
                program.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running throwaway server.
pub struct TlsServer {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    // Removed on drop, after the server is stopped.
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// Starts a server with `server` as its certificate, `client_ca` as
    /// the CA for client certificates, and `hba` as its pg_hba.conf lines
    /// (local connections are trusted on top, for setup).
    pub fn start(server: &Issued, client_ca: &Ca, hba: &[&str]) -> TlsServer {
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("mp-tls-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        if is_root() {
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let out = run(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "--username=postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        write_file(&data.join("server.crt"), &server.cert_pem, 0o644);
        write_file(&data.join("server.key"), &server.key_pem, 0o600);
        write_file(&data.join("client_ca.crt"), &client_ca.pem(), 0o644);
        let mut hba_text = String::from("local all all trust\n");
        for line in hba {
            hba_text.push_str(line);
            hba_text.push('\n');
        }
        write_file(&data.join("pg_hba.conf"), &hba_text, 0o600);
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'client_ca.crt'\nfsync = off\nshared_buffers = 16MB\n\
             max_connections = 30\npassword_encryption = 'scram-sha-256'\n",
            dir.path().display()
        );
        let mut all = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        all.push_str(&conf);
        write_file(&data.join("postgresql.conf"), &all, 0o600);
        if is_root() {
            let (uid, gid) = postgres_ids();
            for f in [
                "server.crt",
                "server.key",
                "client_ca.crt",
                "pg_hba.conf",
                "postgresql.conf",
            ] {
                std::os::unix::fs::chown(data.join(f), Some(uid), Some(gid)).unwrap();
            }
        }
        let log = dir.path().join("server.log");
        let out = run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
            Duration::from_secs(90),
        );
        if !out.status.success() {
            panic!(
                "the throwaway server did not start:\n{}{}\n--- server log\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        TlsServer {
            port,
            bin,
            data,
            _dir: dir,
        }
    }

    /// A URL for `user` on database `postgres`, with `query` (may be
    /// empty) after `?`.
    pub fn url(&self, host: &str, user: &str, query: &str) -> String {
        let q = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("postgresql://{user}@{host}:{}/postgres{q}", self.port)
    }

    /// A superuser session over TCP without TLS (pg_hba must trust
    /// `postgres` on 127.0.0.1 without TLS).
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
                self.port
            ),
            postgres::NoTls,
        )
        .expect("connect to the throwaway server as postgres")
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            run(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    self.data.to_str().unwrap(),
                    "stop",
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "20",
                ],
                Duration::from_secs(30),
            )
        });
    }
}
