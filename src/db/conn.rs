//! Connecting: URL or key=value strings, unix sockets, no TLS; every
//! message masked and scrubbed with [`super::mask`].

use super::error::{pg_message, DbError};
use super::mask::{mask_url, scrub_parse_message, scrub_with, secrets_of};
use postgres::{Client, Config, NoTls};
use std::str::FromStr;
use std::time::Duration;

fn parse_config(url: &str) -> Result<Config, DbError> {
    let mut config = Config::from_str(url).map_err(|e| {
        let secrets = secrets_of(url, None);
        let trimmed = url.trim_start();
        // The driver only knows these two schemes, in lower case; say so
        // rather than repeat "invalid connection string".
        let message = if url.contains("://")
            && !trimmed.starts_with("postgresql://")
            && !trimmed.starts_with("postgres://")
        {
            "not a PostgreSQL URL: it must start with postgresql:// or postgres:// (lower case)"
                .to_string()
        } else {
            pg_message(&e)
        };
        DbError::Connect {
            url: mask_url(url),
            message: scrub_parse_message(&secrets, &message),
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
