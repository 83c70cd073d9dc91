//! libpq's connection conventions, as pure functions: reading a URL or a
//! key=value conninfo string into parameters ([`parse_conninfo`]), and
//! filling what it leaves out from the `PG*` environment variables and
//! libpq's defaults ([`resolve`]) into typed [`Settings`].
//!
//! No I/O happens here: the environment, the home directory, the OS user
//! and which default files exist are handed in as an [`Environment`]
//! (`Environment::from_process` builds the real one), so every precedence
//! rule is unit- and property-tested. Reading files (certificates, the
//! password file) and connecting live in `conn`, `tls` and `pgpass`.
//!
//! Precedence, as libpq's: a parameter in the string, else its variable
//! (`PGHOST`, ...), else the default. A parameter written with an empty
//! value counts as given (libpq does not consult the variable then) and
//! means the default. Messages never repeat a value that came from the
//! string except the sslmode's, because in a malformed URL a value may hold
//! part of a password; values from variables are named with the variable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// libpq's `sslmode`: how much TLS to insist on and what to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    /// Plain only.
    Disable,
    /// Plain first; TLS if the server refuses the plain session.
    Allow,
    /// TLS first; plain if the server has no TLS or the handshake fails.
    Prefer,
    /// TLS only; the certificate is not checked (unless a root
    /// certificate is present: then as `VerifyCa`, as libpq).
    Require,
    /// TLS only, the certificate chain checked against the root
    /// certificates.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// All modes, weakest first.
    pub const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// The mode named `s` (exact, lower case, as libpq).
    pub fn parse(s: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// libpq's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The URL or conninfo string.
    Conninfo,
    /// An environment variable (its name).
    Env(&'static str),
    /// libpq's default.
    Default,
}

impl Origin {
    /// How a message names the setting `key` from here: `sslmode in the
    /// connection string`, `PGSSLMODE`, `the default sslmode`.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Origin::Conninfo => format!("{key} in the connection string"),
            Origin::Env(var) => (*var).to_string(),
            Origin::Default => format!("the default {key}"),
        }
    }
}

/// Why connection settings could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// The string is neither a URL nor key=value settings that can be read.
    /// The message names no value (it may be part of a password).
    Syntax(String),
    /// A value that cannot be used (bad sslmode, port, timeout, an
    /// unsupported parameter).
    Value {
        key: String,
        origin: Origin,
        message: String,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Syntax(m) => f.write_str(m),
            SettingsError::Value {
                key,
                origin,
                message,
            } => write!(f, "{}: {message}", origin.describe(key)),
        }
    }
}

/// The libpq environment variables mergepoint reads, and the parameter
/// each one fills.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGOPTIONS", "options"),
    ("PGAPPNAME", "application_name"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGSSLNEGOTIATION", "sslnegotiation"),
    ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
];

/// Parameters the driver (`postgres::Config`) reads itself; anything else
/// that reaches it is reported by it as an unknown option.
const DRIVER_PARAMS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslnegotiation",
];

/// libpq parameters that would change security or routing if silently
/// ignored, and that mergepoint cannot honour: refused with a clear error.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("sslpassword", "encrypted client keys are not supported; decrypt the key file (openssl pkey -in KEY -out KEY.plain) and keep it at mode 0600"),
    ("sslcrl", "certificate revocation lists are not supported"),
    ("sslcrldir", "certificate revocation lists are not supported"),
    ("sslcertmode", "only libpq's default (send a client certificate when one is configured) is supported; remove it"),
    ("requirepeer", "peer credential checks are not supported"),
    ("service", "connection service files (pg_service.conf) are not supported; write the settings into the URL"),
    ("require_auth", "not supported; remove it"),
    ("gssencmode", "GSSAPI encryption is not supported; remove it or use gssencmode=disable"),
];

/// libpq parameters with no effect on what mergepoint does, accepted and
/// ignored so that a string that works for psql works here.
const IGNORED: &[&str] = &[
    "sslcompression",
    "sslsni",
    "krbsrvname",
    "gsslib",
    "client_encoding",
];

/// The connection string as (parameter, value) pairs in the order written.
/// `postgresql://` or `postgres://` (lower case, as libpq) is a URL;
/// anything else is read as key=value settings. Percent-decoding is
/// strict (libpq refuses a bad `%` escape too); `ssl=true` in a URL is
/// `sslmode=require`, as libpq. Errors name no value.
pub fn parse_conninfo(s: &str) -> Result<Vec<(String, String)>, SettingsError> {
    let trimmed = s.trim_start();
    for prefix in ["postgresql://", "postgres://"] {
        if let Some(rest) = trimmed.strip_prefix(prefix) {
            return parse_url(rest);
        }
    }
    let read = parse_key_values(s);
    let plain_keys = |p: &Vec<(String, String)>| {
        p.iter()
            .all(|(k, _)| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    };
    match read {
        Ok(p) if plain_keys(&p) => Ok(p),
        // `POSTGRESQL://…`, `jdbc:postgresql://…`: say what is wrong
        // rather than how it fails as key=value settings.
        _ if s.contains("://") => Err(SettingsError::Syntax(
            "not a PostgreSQL URL: it must start with postgresql:// or postgres:// (lower case)"
                .to_string(),
        )),
        other => other,
    }
}

fn syntax(message: &str) -> SettingsError {
    SettingsError::Syntax(message.to_string())
}

/// The part of a URL after `scheme://`.
fn parse_url(rest: &str) -> Result<Vec<(String, String)>, SettingsError> {
    let mut params = Vec::new();
    // The user info ends at the last '@' before the query: a raw '/' or
    // '@' in a password then still reads as the password.
    let query_at = rest.find('?').unwrap_or(rest.len());
    let mut rest = match rest[..query_at].rfind('@') {
        Some(at) => {
            let creds = &rest[..at];
            let (user, password) = match creds.find(':') {
                Some(c) => (&creds[..c], Some(&creds[c + 1..])),
                None => (creds, None),
            };
            let user = decode(user, "the user name")?;
            if !user.is_empty() {
                params.push(("user".to_string(), user));
            }
            if let Some(pw) = password {
                params.push(("password".to_string(), decode(pw, "the password")?));
            }
            &rest[at + 1..]
        }
        None => rest,
    };
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hostlist = &rest[..host_end];
    rest = &rest[host_end..];
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for chunk in hostlist.split(',') {
            let (host, port) = if let Some(inner) = chunk.strip_prefix('[') {
                let close = inner
                    .find(']')
                    .ok_or_else(|| syntax("an IPv6 host in the URL has no closing `]`"))?;
                let after = &inner[close + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if after.is_empty() => None,
                    None => return Err(syntax("unexpected text after an IPv6 host in the URL")),
                };
                (inner[..close].to_string(), port)
            } else {
                match chunk.find(':') {
                    Some(c) => (decode(&chunk[..c], "a host")?, Some(&chunk[c + 1..])),
                    None => (decode(chunk, "a host")?, None),
                }
            };
            hosts.push(host);
            ports.push(match port {
                Some(p) => decode(p, "a port")?,
                None => String::new(),
            });
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            params.push(("host".to_string(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            params.push(("port".to_string(), ports.join(",")));
        }
    }
    if let Some(path) = rest.strip_prefix('/') {
        let end = path.find('?').unwrap_or(path.len());
        let dbname = decode(&path[..end], "the database name")?;
        if !dbname.is_empty() {
            params.push(("dbname".to_string(), dbname));
        }
        rest = &path[end..];
    }
    if let Some(query) = rest.strip_prefix('?') {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let eq = pair.find('=').ok_or_else(|| {
                syntax("a URL query parameter has no `=` (write key=value, joined by &)")
            })?;
            let key = decode(&pair[..eq], "a query parameter name")?;
            let value = decode(&pair[eq + 1..], "a query parameter value")?;
            // JDBC's spelling, which libpq accepts too.
            if key == "ssl" && value == "true" {
                params.push(("sslmode".to_string(), "require".to_string()));
            } else {
                params.push((key, value));
            }
        }
    }
    Ok(params)
}

/// Strict percent-decoding to UTF-8; `what` names the part for the error.
fn decode(s: &str, what: &str) -> Result<String, SettingsError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let byte = match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => (h * 16 + l) as u8,
                _ => {
                    return Err(SettingsError::Syntax(format!(
                        "invalid percent-encoding in {what} of the URL (write % as %25)"
                    )))
                }
            };
            if byte == 0 {
                return Err(SettingsError::Syntax(format!(
                    "{what} of the URL contains %00, which PostgreSQL cannot use"
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        SettingsError::Syntax(format!(
            "{what} of the URL is not UTF-8 once percent-decoded"
        ))
    })
}

/// libpq's key=value syntax: `key = value` pairs separated by whitespace;
/// a value is single-quoted (backslash escapes `'` and `\`) or runs to the
/// next whitespace (backslash escapes any byte).
fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, SettingsError> {
    let chars: Vec<char> = s.chars().collect();
    let mut params = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i == chars.len() {
            break;
        }
        let key_start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[key_start..i].iter().collect();
        i = skip_ws(i);
        if chars.get(i) != Some(&'=') {
            return Err(SettingsError::Syntax(format!(
                "missing `=` after `{key}` in the connection settings (write key=value pairs, or a postgresql:// URL)"
            )));
        }
        i = skip_ws(i + 1);
        let mut value = String::new();
        if chars.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(syntax(
                            "unterminated quoted value in the connection settings",
                        ))
                    }
                    Some('\\') if i + 1 < chars.len() => {
                        value.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        params.push((key, value));
    }
    if params.is_empty() {
        return Err(syntax(
            "empty connection string (give a postgresql:// URL, key=value settings, or set PGHOST and friends)",
        ));
    }
    Ok(params)
}

/// What [`resolve`] needs from the outside world.
pub struct Environment {
    /// Environment variables (only the [`ENV_VARS`] are read). Empty
    /// values count as unset.
    pub vars: BTreeMap<String, String>,
    /// The home directory (for `~/.pgpass` and `~/.postgresql/`).
    pub home: Option<PathBuf>,
    /// The operating-system user name: libpq's default user.
    pub os_user: Option<String>,
    /// Whether a file exists (the default certificate files, the unix
    /// sockets of the default host).
    pub exists: Box<dyn Fn(&Path) -> bool + Send + Sync>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Variables may hold PGPASSWORD: never printed.
        f.debug_struct("Environment")
            .field("home", &self.home)
            .field("os_user", &self.os_user)
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// An environment with no variables, no home, no user and no files.
    pub fn empty() -> Environment {
        Environment {
            vars: BTreeMap::new(),
            home: None,
            os_user: None,
            exists: Box::new(|_| false),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Where the root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file (`sslrootcert=FILE`, or `~/.postgresql/root.crt`).
    File { path: PathBuf, origin: Origin },
    /// The system's trusted roots (`sslrootcert=system`).
    System,
}

/// A client certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub cert_origin: Origin,
    pub key: PathBuf,
    pub key_origin: Origin,
}

/// What the certificate check of a TLS session verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: the session is encrypted, the server not authenticated.
    Nothing,
    /// The chain up to a trusted root.
    Chain,
    /// The chain, and that the certificate names the host.
    ChainAndHost,
}

/// Everything needed to open sessions, resolved. Its `Debug` shows the
/// password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Parameters for the driver, in libpq's names, with non-empty
    /// values: host, port, user, dbname, password (when known),
    /// application_name, connect_timeout and whatever else the string set.
    pub driver: Vec<(String, String)>,
    /// Hosts as given (a `/...` host is a socket directory); empty when
    /// only `hostaddr` names the server.
    pub hosts: Vec<String>,
    /// `hostaddr`, when given.
    pub hostaddr: Option<String>,
    /// One port per host (5432 where none was given).
    pub ports: Vec<u16>,
    pub user: String,
    pub dbname: String,
    /// Where the password came from, if one was given.
    pub password_origin: Option<Origin>,
    /// The password file to read when no password was given.
    pub passfile: Option<PathBuf>,
    pub sslmode: SslMode,
    pub sslmode_origin: Origin,
    pub root_certs: Option<RootCerts>,
    pub client_cert: Option<ClientCert>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let driver: Vec<(&str, &str)> = self
            .driver
            .iter()
            .map(|(k, v)| (k.as_str(), if k == "password" { "***" } else { v.as_str() }))
            .collect();
        f.debug_struct("Settings")
            .field("driver", &driver)
            .field("sslmode", &self.sslmode)
            .field("sslmode_origin", &self.sslmode_origin)
            .field("root_certs", &self.root_certs)
            .field("client_cert", &self.client_cert)
            .field("passfile", &self.passfile)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// What a TLS session checks: verify-full the chain and the host,
    /// verify-ca the chain; the other modes the chain only when root
    /// certificates are present (libpq's rule for `require`, which it
    /// applies to `prefer` and `allow` as well), else nothing.
    pub fn verify(&self) -> Verify {
        match self.sslmode {
            SslMode::VerifyFull => Verify::ChainAndHost,
            SslMode::VerifyCa => Verify::Chain,
            _ if self.root_certs.is_some() => Verify::Chain,
            _ => Verify::Nothing,
        }
    }

    /// Whether every host is a unix socket directory: libpq never uses TLS
    /// on a unix socket, whatever the sslmode.
    pub fn all_unix_sockets(&self) -> bool {
        !self.hosts.is_empty() && self.hosts.iter().all(|h| h.starts_with('/'))
    }

    /// The value of driver parameter `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.driver
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Settings as a key=value conninfo string for `postgres::Config`
    /// (values quoted, `\` and `'` escaped), with the password left out
    /// unless `with_password`.
    pub fn driver_conninfo(&self, with_password: bool) -> String {
        let mut out = String::new();
        for (k, v) in &self.driver {
            if k == "password" && !with_password {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(k);
            out.push_str("='");
            for c in v.chars() {
                if c == '\'' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('\'');
        }
        out
    }

    /// A description of the server for messages, without the password:
    /// `host=... port=... user=... dbname=...`.
    pub fn describe(&self) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            self.hosts.join(","),
            self.ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
            self.user,
            self.dbname
        )
    }
}

/// libpq's default socket directories, in the order tried: Debian's, then
/// the upstream default.
pub const SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

/// The default application name.
pub const APPLICATION_NAME: &str = "mergepoint";

/// The connect timeout when none is set (libpq waits forever; a migration
/// tool should not).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One parameter after the variables are applied.
struct Value {
    value: String,
    origin: Origin,
}

/// Reads `conninfo` and fills what it leaves out from `env` (see the
/// module docs for the precedence).
///
/// Defaults: host, the first socket directory of [`SOCKET_DIRS`] holding
/// the server's socket, else `localhost`; port 5432; user, the OS user;
/// dbname, the user; application_name [`APPLICATION_NAME`];
/// connect_timeout [`CONNECT_TIMEOUT`]; sslmode `prefer` (`verify-full`
/// with `sslrootcert=system`); passfile `~/.pgpass`; sslrootcert,
/// sslcert and sslkey the files under `~/.postgresql/` when they exist.
pub fn resolve(conninfo: &str, env: &Environment) -> Result<Settings, SettingsError> {
    let written = if conninfo.trim().is_empty() {
        Vec::new()
    } else {
        parse_conninfo(conninfo)?
    };
    let mut given: BTreeMap<String, Value> = BTreeMap::new();
    for (key, value) in written {
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == key) {
            // gssencmode=disable/prefer is what we do anyway.
            if key == "gssencmode" && matches!(value.as_str(), "disable" | "prefer") {
                continue;
            }
            return Err(SettingsError::Value {
                key,
                origin: Origin::Conninfo,
                message: (*why).to_string(),
            });
        }
        if IGNORED.contains(&key.as_str()) {
            continue;
        }
        // A later setting wins, as in libpq.
        given.insert(
            key,
            Value {
                value,
                origin: Origin::Conninfo,
            },
        );
    }
    for (var, key) in ENV_VARS {
        if given.contains_key(*key) {
            continue;
        }
        if let Some(v) = env.var(var) {
            given.insert(
                key.to_string(),
                Value {
                    value: v.to_string(),
                    origin: Origin::Env(var),
                },
            );
        }
    }
    // Empty values mean the default from here on.
    given.retain(|_, v| !v.value.is_empty());
    let take = |given: &mut BTreeMap<String, Value>, key: &str| given.remove(key);

    let sslmode_given = take(&mut given, "sslmode");
    let rootcert_given = take(&mut given, "sslrootcert");
    let sslcert_given = take(&mut given, "sslcert");
    let sslkey_given = take(&mut given, "sslkey");
    let passfile_given = take(&mut given, "passfile");
    let fallback_app = take(&mut given, "fallback_application_name");

    let system_roots = rootcert_given.as_ref().is_some_and(|v| v.value == "system");
    let (sslmode, sslmode_origin) = match sslmode_given {
        Some(v) => match SslMode::parse(&v.value) {
            Some(mode) => (mode, v.origin),
            None => {
                return Err(SettingsError::Value {
                    key: "sslmode".to_string(),
                    message: format!(
                        "invalid sslmode '{}': use disable, allow, prefer, require, verify-ca or verify-full",
                        v.value
                    ),
                    origin: v.origin,
                })
            }
        },
        None if system_roots => (SslMode::VerifyFull, Origin::Default),
        None => (SslMode::Prefer, Origin::Default),
    };
    if system_roots && sslmode != SslMode::VerifyFull && sslmode != SslMode::Disable {
        // libpq 16's rule: anyone can get a publicly trusted certificate
        // for a name they own, so only the host check means anything.
        return Err(SettingsError::Value {
            key: "sslmode".to_string(),
            origin: sslmode_origin,
            message: format!(
                "sslmode={sslmode} may not be used with sslrootcert=system (use verify-full)"
            ),
        });
    }

    let home_file = |name: &str| env.home.as_ref().map(|h| h.join(".postgresql").join(name));
    let root_certs = match rootcert_given {
        Some(v) if v.value == "system" => Some(RootCerts::System),
        Some(v) => Some(RootCerts::File {
            path: PathBuf::from(v.value),
            origin: v.origin,
        }),
        None => home_file("root.crt")
            .filter(|p| (env.exists)(p))
            .map(|path| RootCerts::File {
                path,
                origin: Origin::Default,
            }),
    };
    if root_certs.is_none() && matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) {
        return Err(SettingsError::Value {
            key: "sslmode".to_string(),
            origin: sslmode_origin,
            message: format!(
                "sslmode={sslmode} needs root certificates to check the server against, and there are none: set sslrootcert=/path/to/ca.crt (or PGSSLROOTCERT), put the CA at ~/.postgresql/root.crt, or use sslrootcert=system for a server with a publicly trusted certificate"
            ),
        });
    }
    let client_cert = client_cert(sslcert_given, sslkey_given, &home_file, env)?;

    // Hosts and ports.
    let port_value = take(&mut given, "port");
    let mut ports_written = Vec::new();
    if let Some(p) = &port_value {
        for part in p.value.split(',') {
            if part.is_empty() {
                ports_written.push(5432);
                continue;
            }
            match part.parse::<u16>() {
                Ok(n) if n > 0 => ports_written.push(n),
                _ => {
                    let shown = match p.origin {
                        Origin::Env(_) => format!("invalid port '{part}'"),
                        _ => "invalid port".to_string(),
                    };
                    return Err(SettingsError::Value {
                        key: "port".to_string(),
                        origin: p.origin.clone(),
                        message: format!("{shown}: it must be a number from 1 to 65535"),
                    });
                }
            }
        }
    }
    let host_value = take(&mut given, "host");
    let mut hosts: Vec<String> = match &host_value {
        Some(h) => h.value.split(',').map(str::to_string).collect(),
        None => Vec::new(),
    };
    let hostaddr = given.get("hostaddr").map(|v| v.value.clone());
    if hosts.is_empty() && hostaddr.is_none() {
        let port = ports_written.first().copied().unwrap_or(5432);
        let dir = SOCKET_DIRS
            .iter()
            .find(|d| (env.exists)(&Path::new(d).join(format!(".s.PGSQL.{port}"))));
        hosts.push(dir.map_or("localhost", |d| d).to_string());
    }
    let n = hosts.len().max(1);
    let ports: Vec<u16> = match ports_written.len() {
        0 => vec![5432; n],
        1 => vec![ports_written[0]; n],
        k if k == n => ports_written.clone(),
        _ => {
            return Err(SettingsError::Value {
                key: "port".to_string(),
                origin: port_value.map_or(Origin::Default, |p| p.origin),
                message: format!(
                    "{} ports for {} hosts: give one port, or one per host",
                    ports_written.len(),
                    n
                ),
            })
        }
    };

    let user = match take(&mut given, "user") {
        Some(v) => v.value,
        None => env.os_user.clone().ok_or_else(|| SettingsError::Value {
            key: "user".to_string(),
            origin: Origin::Default,
            message: "no user name: put one in the URL (postgresql://USER@host/db) or set PGUSER"
                .to_string(),
        })?,
    };
    let dbname = take(&mut given, "dbname").map_or_else(|| user.clone(), |v| v.value);
    let password = take(&mut given, "password");
    let app = take(&mut given, "application_name")
        .map(|v| v.value)
        .or(fallback_app.map(|v| v.value))
        .unwrap_or_else(|| APPLICATION_NAME.to_string());
    let timeout = match take(&mut given, "connect_timeout") {
        None => CONNECT_TIMEOUT,
        Some(v) => match v.value.trim().parse::<i64>() {
            // libpq: 0 or less means "wait forever"; mergepoint keeps its
            // bound instead, so a dead address never hangs a deploy.
            Ok(secs) if secs <= 0 => CONNECT_TIMEOUT,
            // libpq raises 1 to 2 seconds.
            Ok(secs) => Duration::from_secs(secs.max(2) as u64),
            Err(_) => {
                let shown = match v.origin {
                    Origin::Env(_) => format!("invalid connect_timeout '{}'", v.value),
                    _ => "invalid connect_timeout".to_string(),
                };
                return Err(SettingsError::Value {
                    key: "connect_timeout".to_string(),
                    origin: v.origin,
                    message: format!("{shown}: it must be a whole number of seconds"),
                });
            }
        },
    };
    let passfile = match passfile_given {
        Some(v) => Some(PathBuf::from(v.value)),
        None => env.home.as_ref().map(|h| h.join(".pgpass")),
    };

    let mut driver = Vec::new();
    if !hosts.is_empty() {
        driver.push(("host".to_string(), hosts.join(",")));
    }
    driver.extend([
        (
            "port".to_string(),
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("user".to_string(), user.clone()),
        ("dbname".to_string(), dbname.clone()),
        ("application_name".to_string(), app),
        ("connect_timeout".to_string(), timeout.as_secs().to_string()),
    ]);
    let password_origin = password.as_ref().map(|p| p.origin.clone());
    if let Some(p) = password {
        driver.push(("password".to_string(), p.value));
    }
    for (key, v) in given {
        if !DRIVER_PARAMS.contains(&key.as_str()) {
            return Err(SettingsError::Syntax(format!(
                "unknown connection parameter `{key}`"
            )));
        }
        driver.push((key, v.value));
    }
    Ok(Settings {
        driver,
        hosts,
        hostaddr,
        ports,
        user,
        dbname,
        password_origin,
        passfile,
        sslmode,
        sslmode_origin,
        root_certs,
        client_cert,
    })
}

/// The client certificate: `sslcert`/`sslkey` as given, else the files
/// under `~/.postgresql/` when the certificate exists (libpq sends none
/// otherwise). A key without a certificate, or the reverse when given
/// explicitly, is completed with the default name next to it.
fn client_cert(
    cert: Option<Value>,
    key: Option<Value>,
    home_file: &dyn Fn(&str) -> Option<PathBuf>,
    env: &Environment,
) -> Result<Option<ClientCert>, SettingsError> {
    let (cert_path, cert_origin) = match cert {
        Some(v) => (PathBuf::from(v.value), v.origin),
        None => {
            match home_file("postgresql.crt").filter(|p| (env.exists)(p)) {
                Some(p) => (p, Origin::Default),
                None if key.is_some() => {
                    let key = key.expect("checked");
                    return Err(SettingsError::Value {
                    key: "sslkey".to_string(),
                    origin: key.origin,
                    message: "a client key without a client certificate: set sslcert (or PGSSLCERT) too".to_string(),
                });
                }
                None => return Ok(None),
            }
        }
    };
    let (key_path, key_origin) = match key {
        Some(v) => (PathBuf::from(v.value), v.origin),
        None => match home_file("postgresql.key") {
            Some(p) => (p, Origin::Default),
            None => {
                return Err(SettingsError::Value {
                    key: "sslcert".to_string(),
                    origin: cert_origin,
                    message: "a client certificate without a key: set sslkey (or PGSSLKEY) too"
                        .to_string(),
                })
            }
        },
    };
    Ok(Some(ClientCert {
        cert: cert_path,
        cert_origin,
        key: key_path,
        key_origin,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: Some(PathBuf::from("/home/me")),
            os_user: Some("me".to_string()),
            exists: Box::new(|_| false),
        }
    }

    fn params(s: &str) -> Vec<(String, String)> {
        parse_conninfo(s).unwrap()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn urls_are_read_as_libpq_reads_them() {
        assert_eq!(
            params("postgresql://app:p%40ss@db.example:6432/shop?sslmode=verify-full&sslrootcert=%2Fca.crt"),
            kv(&[
                ("user", "app"),
                ("password", "p@ss"),
                ("host", "db.example"),
                ("port", "6432"),
                ("dbname", "shop"),
                ("sslmode", "verify-full"),
                ("sslrootcert", "/ca.crt"),
            ])
        );
        assert_eq!(
            params("postgres://[::1]:5433,h2/db"),
            kv(&[("host", "::1,h2"), ("port", "5433,"), ("dbname", "db")])
        );
        assert_eq!(
            params("postgresql:///db?host=/var/run/postgresql"),
            kv(&[("dbname", "db"), ("host", "/var/run/postgresql")])
        );
        assert_eq!(
            params("postgresql://%2Ftmp/db"),
            kv(&[("host", "/tmp"), ("dbname", "db")])
        );
        assert_eq!(params("postgresql://"), kv(&[]));
        assert_eq!(
            params("postgresql://h?ssl=true"),
            kv(&[("host", "h"), ("sslmode", "require")])
        );
        // A raw '/' or '@' in the password still reads as the password.
        assert_eq!(
            params("postgresql://u:a/b@c@h/db"),
            kv(&[
                ("user", "u"),
                ("password", "a/b@c"),
                ("host", "h"),
                ("dbname", "db")
            ])
        );
    }

    #[test]
    fn bad_urls_are_syntax_errors_naming_no_value() {
        for url in [
            "postgresql://u:S3cr%zz@h/db",
            "postgresql://h/db?S3cret",
            "postgresql://[::1/db",
            "postgresql://h/d%00b",
            "POSTGRESQL://u:S3cret@h",
        ] {
            let e = parse_conninfo(url).unwrap_err();
            assert!(matches!(e, SettingsError::Syntax(_)), "{url}: {e:?}");
            assert!(!e.to_string().contains("S3c"), "{url}: {e}");
        }
    }

    #[test]
    fn key_values_are_read_as_libpq_reads_them() {
        assert_eq!(
            params("host=h  port = 5433 password='a b\\'c' dbname=x\\ y"),
            kv(&[
                ("host", "h"),
                ("port", "5433"),
                ("password", "a b'c"),
                ("dbname", "x y")
            ])
        );
        assert!(matches!(
            parse_conninfo("host=h password='abc"),
            Err(SettingsError::Syntax(_))
        ));
        assert!(matches!(
            parse_conninfo("host=h garbage"),
            Err(SettingsError::Syntax(_))
        ));
        assert!(matches!(
            parse_conninfo("  "),
            Err(SettingsError::Syntax(_))
        ));
    }

    #[test]
    fn the_string_wins_over_the_variables_which_win_over_defaults() {
        let e = env(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
            ("PGDATABASE", "envdb"),
            ("PGPASSWORD", "envpw"),
            ("PGAPPNAME", "envapp"),
            ("PGSSLMODE", "require"),
        ]);
        let s = resolve("postgresql://u@h/db", &e).unwrap();
        assert_eq!(s.hosts, vec!["h"]);
        assert_eq!(s.ports, vec![6000]);
        assert_eq!((s.user.as_str(), s.dbname.as_str()), ("u", "db"));
        assert_eq!(s.get("password"), Some("envpw"));
        assert_eq!(s.password_origin, Some(Origin::Env("PGPASSWORD")));
        assert_eq!(s.get("application_name"), Some("envapp"));
        assert_eq!(
            (s.sslmode, s.sslmode_origin),
            (SslMode::Require, Origin::Env("PGSSLMODE"))
        );

        let s = resolve("", &e).unwrap();
        assert_eq!(s.hosts, vec!["envhost"]);
        assert_eq!(s.dbname, "envdb");

        let s = resolve("", &env(&[])).unwrap();
        assert_eq!(s.hosts, vec!["localhost"]);
        assert_eq!(s.ports, vec![5432]);
        assert_eq!((s.user.as_str(), s.dbname.as_str()), ("me", "me"));
        assert_eq!(s.get("application_name"), Some("mergepoint"));
        assert_eq!(s.get("connect_timeout"), Some("10"));
        assert_eq!(s.sslmode, SslMode::Prefer);
        assert_eq!(s.passfile, Some(PathBuf::from("/home/me/.pgpass")));
        assert_eq!(s.password_origin, None);
        assert_eq!(s.verify(), Verify::Nothing);
    }

    #[test]
    fn an_empty_value_blocks_the_variable_and_means_the_default() {
        let s = resolve("host='' dbname=x", &env(&[("PGHOST", "envhost")])).unwrap();
        assert_eq!(s.hosts, vec!["localhost"]);
        let s = resolve("dbname=x", &env(&[("PGHOST", "")])).unwrap();
        assert_eq!(s.hosts, vec!["localhost"]);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let s = resolve("host=h password=S3cretPw", &env(&[])).unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("S3cretPw") && shown.contains("***"),
            "{shown}"
        );
    }

    #[test]
    fn hostaddr_alone_names_the_server() {
        let s = resolve("hostaddr=127.0.0.1 dbname=x", &env(&[("PGHOST", "")])).unwrap();
        assert!(s.hosts.is_empty());
        assert_eq!(s.hostaddr.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.get("host"), None);
        let c: postgres::Config = s.driver_conninfo(true).parse().unwrap();
        assert!(c.get_hosts().is_empty());
        assert_eq!(c.get_hostaddrs().len(), 1);
    }

    #[test]
    fn the_default_host_is_the_socket_directory_holding_the_socket() {
        let mut e = env(&[("PGPORT", "5433")]);
        e.exists = Box::new(|p| p == Path::new("/tmp/.s.PGSQL.5433"));
        let s = resolve("dbname=x", &e).unwrap();
        assert_eq!(s.hosts, vec!["/tmp"]);
        assert!(s.all_unix_sockets());
    }

    #[test]
    fn bad_values_name_the_value_and_where_it_came_from() {
        let e = resolve("", &env(&[("PGPORT", "54x2")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PGPORT: invalid port '54x2': it must be a number from 1 to 65535"
        );
        let e = resolve("host=h port=0", &env(&[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "port in the connection string: invalid port: it must be a number from 1 to 65535"
        );
        let e = resolve("postgresql://h/db?sslmode=verify_full", &env(&[])).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "sslmode in the connection string: invalid sslmode 'verify_full': use disable, allow, prefer, require, verify-ca or verify-full"
            ),
            "{e}"
        );
        let e = resolve("", &env(&[("PGSSLMODE", "on")])).unwrap_err();
        assert!(
            e.to_string().starts_with("PGSSLMODE: invalid sslmode 'on'"),
            "{e}"
        );
        let e = resolve("", &env(&[("PGCONNECT_TIMEOUT", "soon")])).unwrap_err();
        assert!(e.to_string().contains("'soon'"), "{e}");
        let e = resolve("host=h sslpassword=x", &env(&[])).unwrap_err();
        assert!(e.to_string().contains("encrypted client keys"), "{e}");
        let e = resolve("host=h bogus=1", &env(&[])).unwrap_err();
        assert!(matches!(e, SettingsError::Syntax(_)));
        let e = resolve("host=a,b,c port=1,2", &env(&[])).unwrap_err();
        assert!(e.to_string().contains("2 ports for 3 hosts"), "{e}");
    }

    #[test]
    fn verification_follows_libpq() {
        let e = env(&[]);
        let s = |conninfo: &str| resolve(conninfo, &e);
        assert_eq!(
            s("host=h sslmode=require").unwrap().verify(),
            Verify::Nothing
        );
        assert_eq!(
            s("host=h sslmode=require sslrootcert=/ca")
                .unwrap()
                .verify(),
            Verify::Chain
        );
        assert_eq!(
            s("host=h sslmode=prefer sslrootcert=/ca").unwrap().verify(),
            Verify::Chain
        );
        assert_eq!(
            s("host=h sslmode=verify-ca sslrootcert=/ca")
                .unwrap()
                .verify(),
            Verify::Chain
        );
        assert_eq!(
            s("host=h sslmode=verify-full sslrootcert=/ca")
                .unwrap()
                .verify(),
            Verify::ChainAndHost
        );
        // verify-* without any root certificate is refused up front.
        let err = s("host=h sslmode=verify-full").unwrap_err().to_string();
        assert!(err.contains("sslrootcert="), "{err}");
        // sslrootcert=system: verify-full by default, weaker refused.
        let sys = s("host=h sslrootcert=system").unwrap();
        assert_eq!(
            (sys.sslmode, sys.root_certs.clone()),
            (SslMode::VerifyFull, Some(RootCerts::System))
        );
        let err = s("host=h sslrootcert=system sslmode=verify-ca")
            .unwrap_err()
            .to_string();
        assert!(err.contains("use verify-full"), "{err}");
    }

    #[test]
    fn default_certificate_files_count_only_when_present() {
        let mut e = env(&[]);
        e.exists = Box::new(|p| {
            p == Path::new("/home/me/.postgresql/root.crt")
                || p == Path::new("/home/me/.postgresql/postgresql.crt")
        });
        let s = resolve("host=h sslmode=require", &e).unwrap();
        assert_eq!(
            s.root_certs,
            Some(RootCerts::File {
                path: PathBuf::from("/home/me/.postgresql/root.crt"),
                origin: Origin::Default
            })
        );
        assert_eq!(s.verify(), Verify::Chain);
        let c = s.client_cert.unwrap();
        assert_eq!(c.key, PathBuf::from("/home/me/.postgresql/postgresql.key"));
        let s = resolve("host=h sslcert=/c.crt sslkey=/c.key", &env(&[])).unwrap();
        let c = s.client_cert.unwrap();
        assert_eq!((c.cert, c.key), ("/c.crt".into(), "/c.key".into()));
        let s = resolve(
            "host=h",
            &env(&[("PGSSLCERT", "/e.crt"), ("PGSSLKEY", "/e.key")]),
        )
        .unwrap();
        assert_eq!(s.client_cert.unwrap().key_origin, Origin::Env("PGSSLKEY"));
        assert!(resolve("host=h sslkey=/c.key", &env(&[])).is_err());
    }

    #[test]
    fn driver_conninfo_round_trips_through_the_driver() {
        let s = resolve(
            "postgresql://u:p%27w%5C@h:1/d%20b?options=-c%20x%3Dy&target_session_attrs=any",
            &env(&[]),
        )
        .unwrap();
        let c: postgres::Config = s.driver_conninfo(true).parse().unwrap();
        assert_eq!(c.get_user(), Some("u"));
        assert_eq!(c.get_password(), Some(&b"p'w\\"[..]));
        assert_eq!(c.get_dbname(), Some("d b"));
        assert_eq!(c.get_options(), Some("-c x=y"));
        assert_eq!(c.get_ports(), &[1]);
        assert!(!s.driver_conninfo(false).contains("p\\'w"));
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                'a', 'Z', '0', ':', '@', '/', '?', '&', '=', '%', '\'', '\\', ' ', ',', '[', ']',
                'é', '\t',
            ]),
            0..24,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        /// Any text is read or refused, never a panic.
        #[test]
        fn parsing_never_panics(s in arb_text(), url in any::<bool>()) {
            let s = if url { format!("postgresql://{s}") } else { s };
            let _ = parse_conninfo(&s);
            let _ = resolve(&s, &env(&[]));
        }

        /// A value written quoted into key=value settings reads back as
        /// itself, whatever it holds.
        #[test]
        fn key_value_quoting_round_trips(v in arb_text()) {
            prop_assume!(!v.is_empty());
            let quoted: String = v.chars().flat_map(|c| {
                if c == '\'' || c == '\\' { vec!['\\', c] } else { vec![c] }
            }).collect();
            let got = parse_conninfo(&format!("host=h password='{quoted}' user=u")).unwrap();
            prop_assert_eq!(&got[1], &("password".to_string(), v));
        }

        /// A password percent-encoded into a URL reads back as itself.
        #[test]
        fn url_passwords_round_trip(v in arb_text()) {
            let enc: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
            let got = parse_conninfo(&format!("postgresql://u:{enc}@h/db")).unwrap();
            prop_assert_eq!(&got[1], &("password".to_string(), v));
        }

        /// Each variable fills its parameter exactly when the string does
        /// not set it, whatever the others do: string, then variable, then
        /// default, per parameter.
        #[test]
        fn variables_fill_only_what_the_string_leaves_out(
            where_set in prop::collection::vec((any::<bool>(), any::<bool>()), 6)
        ) {
            // (parameter, variable, value in the string, in the variable, default)
            let cases = [
                ("host", "PGHOST", "sh", "eh", "localhost"),
                ("port", "PGPORT", "1111", "2222", "5432"),
                ("user", "PGUSER", "su", "eu", "me"),
                ("application_name", "PGAPPNAME", "sa", "ea", "mergepoint"),
                ("connect_timeout", "PGCONNECT_TIMEOUT", "30", "40", "10"),
                ("options", "PGOPTIONS", "-csa", "-cea", ""),
            ];
            let mut conninfo = Vec::new();
            let mut vars = Vec::new();
            for ((key, var, sv, ev, _), (in_string, in_env)) in cases.iter().zip(&where_set) {
                if *in_string {
                    conninfo.push(format!("{key}={sv}"));
                }
                if *in_env {
                    vars.push((*var, *ev));
                }
            }
            let conninfo = if conninfo.is_empty() { "dbname=d".to_string() } else { conninfo.join(" ") };
            let s = resolve(&conninfo, &env(&vars)).unwrap();
            for ((key, _, sv, ev, default), (in_string, in_env)) in cases.iter().zip(&where_set) {
                let want = if *in_string { *sv } else if *in_env { *ev } else { *default };
                let got = s.get(key).unwrap_or("");
                prop_assert_eq!(got, want, "{}", key);
            }
        }
    }
}
