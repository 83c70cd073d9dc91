//! Connecting: libpq's conventions ([`super::libpq`]: URL or key=value
//! settings, `PG*` variables, defaults), the password file
//! ([`super::pgpass`]), TLS by sslmode ([`super::tls`]); every message
//! masked and scrubbed with [`super::mask`].
//!
//! How each sslmode opens a session, as libpq: `disable` plain;
//! `allow` plain, then TLS if the server refused the plain session;
//! `prefer` TLS, then plain if the server has no TLS (the driver does
//! that) or the handshake failed; `require`, `verify-ca`, `verify-full`
//! TLS only. libpq never uses TLS on a unix socket, and neither do we.
//! The lock's session ([`Database::open_session`]) is opened the same way
//! with the same settings.

use super::error::{pg_message, DbError};
use super::libpq::{self, Environment, Settings, SettingsError, SslMode};
use super::mask::{mask_url, scrub_parse_message, scrub_with, secrets_of};
use super::pgpass;
use super::tls::{Report, TlsMaterial};
use postgres::config::SslMode as DriverSslMode;
use postgres::{Client, Config, NoTls};
use std::path::PathBuf;
use std::str::FromStr;

/// Opens one session. Accepts URLs (`postgresql://u@h:5432/db`,
/// `postgresql:///db?host=/var/run/postgresql` for a unix socket) and
/// key=value strings, with libpq's `PG*` variables and defaults filling
/// what they leave out. A failure is [`DbError::Connect`] or
/// [`DbError::Tls`] (exit code 3) or [`DbError::Settings`] (exit code 2),
/// with the masked URL and a scrubbed message.
pub fn connect(url: &str) -> Result<Client, DbError> {
    Ok(Database::connect(url)?.into_client())
}

/// The real environment: the `PG*` variables, `$HOME` (else the home of
/// the passwd entry), the OS user (the passwd entry of the effective
/// user, else `$USER`), and the file system.
pub fn process_environment() -> Environment {
    let vars = libpq::ENV_VARS
        .iter()
        .filter_map(|(name, _)| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect();
    let entry = passwd_entry();
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| entry.as_ref().map(|(_, home)| PathBuf::from(home)));
    let os_user = entry
        .map(|(name, _)| name)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()));
    Environment {
        vars,
        home,
        os_user,
        exists: Box::new(|p| p.exists()),
    }
}

/// The (name, home) of the effective user in /etc/passwd, as libpq's
/// getpwuid.
fn passwd_entry() -> Option<(String, String)> {
    #[cfg(unix)]
    {
        let uid = rustix::process::geteuid().as_raw().to_string();
        let text = std::fs::read_to_string("/etc/passwd").ok()?;
        text.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 6 && f[2] == uid).then(|| (f[0].to_string(), f[5].to_string()))
        })
    }
    #[cfg(not(unix))]
    None
}

/// A work session plus what is needed to open more sessions on the same
/// server (the migration lock uses its own) and to keep secrets out of
/// messages.
pub struct Database {
    client: Client,
    opener: Opener,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.opener.masked)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Connects the work session, with the `PG*` variables and files of
    /// this process ([`process_environment`]). See [`connect`]. Warnings
    /// (a password file ignored for its permissions) are dropped; the
    /// command line uses [`Database::connect_reporting`].
    pub fn connect(url: &str) -> Result<Database, DbError> {
        Database::connect_with(url, &process_environment())
    }

    /// Connects the work session with the environment `env` (tests hand
    /// in their own variables instead of changing the process's).
    pub fn connect_with(url: &str, env: &Environment) -> Result<Database, DbError> {
        Database::connect_reporting(url, env, &mut |_| {})
    }

    /// Connects, telling `warn` what the user should hear about the
    /// settings (a password file ignored because of its permissions, as
    /// libpq warns) before the connection is tried, so the warning is
    /// there when it then fails.
    pub fn connect_reporting(
        url: &str,
        env: &Environment,
        warn: &mut dyn FnMut(&str),
    ) -> Result<Database, DbError> {
        let opener = Opener::new(url, env, warn)?;
        let mut client = opener.open()?;
        // If this process dies mid-statement, let the server notice the
        // closed socket within a second and abort our transaction instead
        // of finishing a long statement first (PostgreSQL 14+; older
        // servers reject the setting, which is harmless).
        let _ = client.batch_execute("SET client_connection_check_interval = 1000");
        Ok(Database { client, opener })
    }

    /// The work session.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Gives up the extra state and keeps the session.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// The URL with any password replaced by `***` (for a connection made
    /// from the `PG*` variables alone, the host, port, user and database).
    pub fn masked_url(&self) -> &str {
        &self.opener.masked
    }

    /// The sslmode in force (`disable` on a unix socket).
    pub fn sslmode(&self) -> SslMode {
        self.opener.mode
    }

    /// Opens another session to the same database with the same settings
    /// (used by the lock).
    pub fn open_session(&self) -> Result<Client, DbError> {
        self.opener.open()
    }

    /// A new session, with the same settings, to another database of the
    /// same server (the schema engine's temporary databases on the dev
    /// server). Its masked URL names the database.
    pub fn connect_to(&self, dbname: &str) -> Result<Database, DbError> {
        let mut opener = self.opener.clone();
        opener.config.dbname(dbname);
        opener.masked = format!("{} (database {dbname})", self.opener.masked);
        let mut client = opener.open()?;
        let _ = client.batch_execute("SET client_connection_check_interval = 1000");
        Ok(Database { client, opener })
    }

    /// What opens sessions like this one's, to send to another thread (a
    /// signal handler that must drop temporary databases).
    pub fn connector(&self) -> Connector {
        Connector(self.opener.clone())
    }

    /// Removes any password text from a message.
    pub fn scrub(&self, text: &str) -> String {
        scrub_with(&self.opener.secrets, text)
    }

    /// Scrubs the messages of an error.
    pub(crate) fn scrub_err(&self, e: DbError) -> DbError {
        match e {
            DbError::Query { context, message } => DbError::Query {
                context,
                message: self.scrub(&message),
            },
            DbError::Connect { url, message } => DbError::Connect {
                url,
                message: self.scrub(&message),
            },
            DbError::StepFailed(mut f) => {
                f.message = self.scrub(&f.message);
                f.audit_error = f.audit_error.map(|m| self.scrub(&m));
                DbError::StepFailed(f)
            }
            DbError::LockLost {
                table,
                reason,
                applied,
                stopped_before,
            } => DbError::LockLost {
                table,
                reason: self.scrub(&reason),
                applied,
                stopped_before,
            },
            other => other,
        }
    }
}

/// Everything needed to open sessions: the driver's settings (password
/// included), the sslmode, the loaded certificates.
#[derive(Clone)]
struct Opener {
    config: Config,
    mode: SslMode,
    tls: Option<TlsMaterial>,
    masked: String,
    secrets: Vec<String>,
}

/// Opens sessions with a [`Database`]'s settings ([`Database::connector`]).
#[derive(Clone)]
pub struct Connector(Opener);

impl Connector {
    /// A new session to the same database.
    pub fn open(&self) -> Result<Client, DbError> {
        self.0.open()
    }
}

/// One failed attempt and what its TLS saw.
struct Failure {
    error: postgres::Error,
    report: Report,
}

impl Opener {
    fn new(url: &str, env: &Environment, warn: &mut dyn FnMut(&str)) -> Result<Opener, DbError> {
        let written_secrets = secrets_of(url, None);
        let settings = libpq::resolve(url, env);
        let masked = match &settings {
            _ if !url.trim().is_empty() => mask_url(url),
            Ok(s) => s.describe(),
            Err(_) => "the server the PG* variables name".to_string(),
        };
        let settings = settings.map_err(|e| match e {
            SettingsError::Syntax(m) => DbError::Connect {
                url: masked.clone(),
                message: scrub_parse_message(&written_secrets, &m),
            },
            value => DbError::Settings {
                url: masked.clone(),
                message: scrub_with(&written_secrets, &value.to_string()),
            },
        })?;
        let password = match settings.password_origin {
            Some(_) => None,
            None => password_from_file(&settings, warn),
        };
        let mut config =
            Config::from_str(&settings.driver_conninfo(true)).map_err(|e| DbError::Settings {
                url: masked.clone(),
                message: scrub_parse_message(&written_secrets, &pg_message(&e)),
            })?;
        if let Some(pw) = password {
            config.password(pw);
        }
        let secrets = secrets_of(url, Some(&config));
        let mode = if settings.all_unix_sockets() {
            SslMode::Disable
        } else {
            settings.sslmode
        };
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(
                TlsMaterial::load(
                    settings.root_certs.as_ref(),
                    settings.client_cert.as_ref(),
                    settings.verify(),
                )
                .map_err(|e| DbError::Settings {
                    url: masked.clone(),
                    message: e.to_string(),
                })?,
            ),
        };
        Ok(Opener {
            config,
            mode,
            tls,
            masked,
            secrets,
        })
    }

    fn open(&self) -> Result<Client, DbError> {
        let (first, labels) = match self.mode {
            SslMode::Disable => (DriverSslMode::Disable, ("", "")),
            SslMode::Allow => (DriverSslMode::Disable, ("without TLS", "with TLS")),
            SslMode::Prefer => (DriverSslMode::Prefer, ("with TLS", "without TLS")),
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                (DriverSslMode::Require, ("", ""))
            }
        };
        let failed = match self.attempt(first)? {
            Ok(client) => return Ok(client),
            Err(f) => f,
        };
        let retry = match self.mode {
            // Only a refusal by the server makes libpq retry with TLS.
            SslMode::Allow => failed.error.as_db_error().is_some(),
            SslMode::Prefer => failed.report.handshake_failed.is_some(),
            _ => false,
        };
        if !retry {
            return Err(self.error(vec![("", failed)]));
        }
        let second = match self.mode {
            SslMode::Allow => DriverSslMode::Require,
            _ => DriverSslMode::Disable,
        };
        match self.attempt(second)? {
            Ok(client) => Ok(client),
            Err(again) => Err(self.error(vec![(labels.0, failed), (labels.1, again)])),
        }
    }

    /// One try with the driver's `mode`: the outer error is a TLS setup
    /// that cannot work (reported as is), the inner one the driver's.
    fn attempt(&self, mode: DriverSslMode) -> Result<Result<Client, Failure>, DbError> {
        let mut config = self.config.clone();
        config.ssl_mode(mode);
        Ok(match (&self.tls, mode) {
            (Some(tls), DriverSslMode::Prefer | DriverSslMode::Require) => {
                let (connector, report) = tls.connector().map_err(|message| DbError::Settings {
                    url: self.masked.clone(),
                    message,
                })?;
                config.connect(connector).map_err(|error| Failure {
                    error,
                    report: report.lock().map(|r| r.clone()).unwrap_or_default(),
                })
            }
            _ => config.connect(NoTls).map_err(|error| Failure {
                error,
                report: Report::default(),
            }),
        })
    }

    /// The error for failed attempts: a certificate check failure first
    /// (it says what to fix), else every attempt's driver message.
    fn error(&self, failures: Vec<(&'static str, Failure)>) -> DbError {
        let scrub = |s: &str| scrub_with(&self.secrets, s);
        let described: Vec<String> = failures
            .iter()
            .map(|(label, f)| {
                let mut m = pg_message(&f.error);
                if m.contains("server does not support TLS") {
                    m = format!(
                        "the server does not accept TLS, and sslmode={} needs it; enable ssl on the server, or use sslmode=prefer on a trusted network",
                        self.mode
                    );
                }
                if label.is_empty() {
                    scrub(&m)
                } else {
                    format!("{label}: {}", scrub(&m))
                }
            })
            .collect();
        let check = failures.iter().find_map(|(_, f)| f.report.check.clone());
        match check {
            Some(check) => {
                let others: Vec<&String> = failures
                    .iter()
                    .zip(&described)
                    .filter(|((_, f), _)| f.report.check.is_none())
                    .map(|(_, d)| d)
                    .collect();
                let mut message = check.message();
                for o in others {
                    message.push_str(&format!(" (also tried {o})"));
                }
                DbError::Tls {
                    url: self.masked.clone(),
                    message: scrub(&message),
                }
            }
            None => DbError::Connect {
                url: self.masked.clone(),
                message: described.join("; "),
            },
        }
    }
}

/// The password from the password file for the first host (libpq looks
/// it up per host; the driver takes one password for all).
fn password_from_file(settings: &Settings, warn: &mut dyn FnMut(&str)) -> Option<String> {
    let path = settings.passfile.as_ref()?;
    match pgpass::read(path) {
        pgpass::Read::Missing => None,
        pgpass::Read::Ignored(why) => {
            warn(&why);
            None
        }
        pgpass::Read::Text(text) => {
            // libpq matches the host, else the hostaddr, else localhost.
            let host = settings
                .hosts
                .first()
                .or(settings.hostaddr.as_ref())
                .map_or("localhost", String::as_str);
            let target = pgpass::Target::for_host(
                host,
                settings.ports.first().copied().unwrap_or(5432),
                &settings.dbname,
                &settings.user,
            );
            pgpass::lookup(&text, &target)
        }
    }
}
