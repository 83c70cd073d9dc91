//! Connecting: URL or key=value strings, unix sockets, no TLS, and
//! password masking.

use super::error::{pg_message, DbError};
use postgres::{Client, Config, NoTls};
use std::str::FromStr;
use std::time::Duration;

/// Replaces any password in a connection string with `***`.
///
/// Handles URLs (`postgresql://user:secret@host/db`, and a `password=`
/// query parameter) and key=value strings (`host=x password=secret`,
/// quoted values too). Everything else is kept, so the result still says
/// which server and database were meant.
pub fn mask_url(url: &str) -> String {
    let trimmed = url.trim_start();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        mask_uri(url)
    } else {
        mask_key_values(url)
    }
}

fn mask_uri(url: &str) -> String {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let (head, rest) = url.split_at(start);
    // The user info ends at the last '@' before the query; if there is none
    // there, a raw '?' may sit in the password: take the last '@' anywhere.
    let q = rest.find('?').unwrap_or(rest.len());
    let at = rest[..q].rfind('@').or_else(|| rest.rfind('@'));
    let mut out = head.to_string();
    let after_userinfo = match at {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            at
        }
        None => 0,
    };
    let tail = &rest[after_userinfo..];
    let q = tail.find('?').unwrap_or(tail.len());
    let (before_query, query) = tail.split_at(q);
    out.push_str(before_query);
    if let Some(q) = query.strip_prefix('?') {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

fn mask_key_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        // Copy whitespace.
        if bytes[i].is_whitespace() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        // Read a key.
        let key_start = i;
        while i < bytes.len() && bytes[i] != '=' && !bytes[i].is_whitespace() {
            i += 1;
        }
        let key: String = bytes[key_start..i].iter().collect();
        out.push_str(&key);
        // Optional spaces, '=', spaces.
        while i < bytes.len() && bytes[i].is_whitespace() {
            out.push(bytes[i]);
            i += 1;
        }
        if i < bytes.len() && bytes[i] == '=' {
            out.push('=');
            i += 1;
            while i < bytes.len() && bytes[i].is_whitespace() {
                out.push(bytes[i]);
                i += 1;
            }
            // The value: quoted or bare.
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == '\'' {
                value.push('\'');
                i += 1;
                while i < bytes.len() {
                    let c = bytes[i];
                    value.push(c);
                    i += 1;
                    if c == '\\' && i < bytes.len() {
                        value.push(bytes[i]);
                        i += 1;
                    } else if c == '\'' {
                        break;
                    }
                }
            } else {
                while i < bytes.len() && !bytes[i].is_whitespace() {
                    if bytes[i] == '\\' && i + 1 < bytes.len() {
                        value.push(bytes[i]);
                        i += 1;
                    }
                    value.push(bytes[i]);
                    i += 1;
                }
            }
            if key.eq_ignore_ascii_case("password") {
                out.push_str("***");
            } else {
                out.push_str(&value);
            }
        }
    }
    out
}

/// Raw password texts that must never be shown: as written in the URL and
/// as decoded by the driver.
fn secrets_of(url: &str, config: Option<&Config>) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(pw) = config.and_then(|c| c.get_password()) {
        if let Ok(s) = std::str::from_utf8(pw) {
            if !s.is_empty() {
                secrets.push(s.to_string());
            }
        }
    }
    // The password as written in the URL (maybe percent-encoded).
    let masked = mask_url(url);
    if masked != url {
        // Take the differing middle part of the original as a secret.
        let prefix = url
            .chars()
            .zip(masked.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let orig: Vec<char> = url.chars().collect();
        let m: Vec<char> = masked.chars().collect();
        let suffix = orig
            .iter()
            .rev()
            .zip(m.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        if prefix + suffix < orig.len() {
            let s: String = orig[prefix..orig.len() - suffix].iter().collect();
            if !s.is_empty() && s != "***" {
                secrets.push(s);
            }
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

fn scrub_with(secrets: &[String], text: &str) -> String {
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

fn parse_config(url: &str) -> Result<Config, DbError> {
    let mut config = Config::from_str(url).map_err(|e| {
        let secrets = secrets_of(url, None);
        DbError::Connect {
            url: mask_url(url),
            message: scrub_with(&secrets, &format!("invalid connection string: {e}")),
        }
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("mergepoint");
    }
    Ok(config)
}

/// Opens one session without TLS. Accepts URLs (`postgresql://u@h:5432/db`,
/// `postgresql:///db?host=/var/run/postgresql` for a unix socket) and
/// key=value strings. A failure is [`DbError::Connect`] (exit code 3) with
/// the masked URL and a scrubbed message.
pub fn connect(url: &str) -> Result<Client, DbError> {
    Ok(Database::connect(url)?.into_client())
}

/// A work session plus what is needed to open more sessions on the same
/// server (the migration lock uses its own) and to keep secrets out of
/// messages.
pub struct Database {
    client: Client,
    config: Config,
    masked: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.masked)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Connects the work session. See [`connect`] for accepted URLs.
    pub fn connect(url: &str) -> Result<Database, DbError> {
        let config = parse_config(url)?;
        let secrets = secrets_of(url, Some(&config));
        let masked = mask_url(url);
        let mut client = open(&config, &masked, &secrets)?;
        // If this process dies mid-statement, let the server notice the
        // closed socket within a second and abort our transaction instead
        // of finishing a long statement first (PostgreSQL 14+; older
        // servers reject the setting, which is harmless).
        let _ = client.batch_execute("SET client_connection_check_interval = 1000");
        Ok(Database {
            client,
            config,
            masked,
            secrets,
        })
    }

    /// The work session.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Gives up the extra state and keeps the session.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// The URL with any password replaced by `***`.
    pub fn masked_url(&self) -> &str {
        &self.masked
    }

    /// Opens another session to the same database (used by the lock).
    pub fn open_session(&self) -> Result<Client, DbError> {
        open(&self.config, &self.masked, &self.secrets)
    }

    /// Removes any password text from a message.
    pub fn scrub(&self, text: &str) -> String {
        scrub_with(&self.secrets, text)
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

fn open(config: &Config, masked: &str, secrets: &[String]) -> Result<Client, DbError> {
    config.connect(NoTls).map_err(|e| DbError::Connect {
        url: masked.to_string(),
        message: scrub_with(secrets, &pg_message(&e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_uri_passwords() {
        assert_eq!(
            mask_url("postgresql://bob:s3cret@db.example:5432/app"),
            "postgresql://bob:***@db.example:5432/app"
        );
        assert_eq!(
            mask_url("postgres://bob:p@ss@host/db?sslmode=disable"),
            "postgres://bob:***@host/db?sslmode=disable"
        );
        assert_eq!(
            mask_url("postgresql://bob@host/db?password=x&application_name=a"),
            "postgresql://bob@host/db?password=***&application_name=a"
        );
        assert_eq!(
            mask_url("postgresql://bob:a?b/c@host/db?x=1"),
            "postgresql://bob:***@host/db?x=1"
        );
        assert_eq!(
            mask_url("postgresql:///db?host=/var/run/postgresql"),
            "postgresql:///db?host=/var/run/postgresql"
        );
    }

    #[test]
    fn masks_key_value_passwords() {
        assert_eq!(
            mask_url("host=localhost password=abc user=bob"),
            "host=localhost password=*** user=bob"
        );
        assert_eq!(
            mask_url("host=localhost password = 'a b\\' c' user=bob"),
            "host=localhost password = *** user=bob"
        );
    }

    #[test]
    fn secrets_include_raw_and_decoded() {
        let url = "postgresql://bob:p%40ss@host/db";
        let config = Config::from_str(url).unwrap();
        let s = secrets_of(url, Some(&config));
        assert!(s.contains(&"p@ss".to_string()));
        assert!(s.contains(&"p%40ss".to_string()));
        assert_eq!(scrub_with(&s, "bad p@ss and p%40ss"), "bad *** and ***");
    }
}
