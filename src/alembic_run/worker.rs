//! The Python side of an online run: the embedded `worker.py`, started once
//! per run with the project's interpreter, and its line protocol (one JSON
//! request per line on its stdin, one JSON answer per line on its stdout;
//! its stderr is the user's, where the project's logging and prints go).

use crate::db::SessionError;
use crate::script::Project;
use serde::Deserialize;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use thiserror::Error;

/// The worker, written to a temporary file and started by [`Worker::start`].
pub const WORKER_SOURCE: &str = include_str!("worker.py");

/// The protocol version this binary speaks.
const WORKER_VERSION: u32 = 1;

/// The environment variable the database URL reaches the worker through
/// (never its command line, which other users of the machine can read).
pub const URL_ENV: &str = "MP_WORKER_DATABASE_URL";

/// Why the worker could not be started.
#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("cannot run the Python interpreter '{python}': {message}")]
    NoPython { python: String, message: String },
    #[error("the Python interpreter '{python}' cannot import Alembic: {message}")]
    NoAlembic { python: String, message: String },
    #[error("the Python interpreter '{python}' has no PostgreSQL driver: {message}")]
    NoDriver { python: String, message: String },
    /// Alembic could not load the project (a revision file that does not
    /// import, a broken alembic.ini).
    #[error("{message}")]
    Load { message: String },
    /// The worker could not connect to the database.
    #[error("the Alembic worker could not connect to the database: {message}")]
    Connect { message: String },
    /// The worker crashed or said something that is not its protocol.
    #[error("the Alembic worker run by '{python}' failed ({status}): {message}")]
    Failed {
        python: String,
        status: String,
        message: String,
    },
}

/// What the worker says once it is ready.
#[derive(Debug, Clone, Deserialize)]
pub struct Hello {
    pub worker: u32,
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub alembic: String,
    #[serde(default)]
    pub sqlalchemy: String,
    #[serde(default)]
    pub python: String,
    #[serde(default)]
    pub driver: String,
    /// Why env.py could not be run offline, and what was assumed.
    #[serde(default)]
    pub env_note: Option<String>,
    /// The `context.configure()` options passed on to the online context.
    #[serde(default)]
    pub honoured: Vec<String>,
    /// The options that only matter to autogenerate or offline runs.
    #[serde(default)]
    pub ignored: Vec<String>,
    #[serde(default)]
    pub version_table: Option<String>,
    #[serde(default)]
    pub version_table_schema: Option<String>,
    #[serde(default)]
    pub has_metadata: bool,
}

/// One answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub lock_timeout: bool,
    #[serde(default)]
    pub intact: Option<bool>,
    #[serde(default)]
    pub in_block: Option<bool>,
    /// A failed step had run an `autocommit_block()`: what ran before and
    /// in it is committed.
    #[serde(default)]
    pub committed_part: bool,
}

impl Answer {
    /// The failure as a session error (kind `ended` is the caller's to
    /// interpret: see [`Answer::ended`]).
    pub fn into_result(self) -> Result<Answer, SessionError> {
        if self.ok {
            return Ok(self);
        }
        Err(SessionError {
            message: self
                .error
                .unwrap_or_else(|| "the Alembic worker failed without a message".to_string()),
            connection_lost: self.kind.as_deref() == Some("lost"),
            lock_timeout: self.lock_timeout,
        })
    }

    /// The worker found the step's transaction ended.
    pub fn ended(&self) -> bool {
        !self.ok && self.kind.as_deref() == Some("ended")
    }
}

/// A running worker. Dropping it ends the process (its open transaction,
/// if any, rolls back with its connection).
pub struct Worker {
    python: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The worker's source; kept until the process ends.
    _file: tempfile::NamedTempFile,
    pub hello: Hello,
}

fn worker_file(python: &str) -> Result<tempfile::NamedTempFile, WorkerError> {
    let failed = |e: std::io::Error| WorkerError::Failed {
        python: python.to_string(),
        status: "setup".to_string(),
        message: format!(
            "cannot write the worker file in {}: {e}",
            std::env::temp_dir().display()
        ),
    };
    super::script_file("mergepoint-alembic-worker-", WORKER_SOURCE).map_err(failed)
}

impl Worker {
    /// Starts the worker with `python` in the project root (where `alembic`
    /// runs), with the project's `alembic.ini` when it has one, connected
    /// to `url`; returns once it has loaded the project, run env.py offline
    /// and connected.
    pub fn start(python: &str, project: &Project, url: &str) -> Result<Worker, WorkerError> {
        let file = worker_file(python)?;
        let root = super::absolute(&project.root);
        let mut cmd = Command::new(python);
        cmd.arg(file.path());
        cmd.args(super::project_args(project));
        cmd.current_dir(&root)
            .env(URL_ENV, url)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| WorkerError::NoPython {
            python: python.to_string(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "no such program".to_string()
            } else {
                e.to_string()
            },
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WorkerError::Failed {
                python: python.to_string(),
                status: "setup".to_string(),
                message: "its pipes could not be opened".to_string(),
            });
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let hello: Option<Hello> = match read {
            Ok(n) if n > 0 => serde_json::from_str(line.trim()).ok(),
            _ => None,
        };
        let Some(hello) = hello else {
            let _ = child.kill();
            let status = match child.wait().ok().and_then(|s| s.code()) {
                Some(c) => format!("exit status {c}"),
                None => "no answer".to_string(),
            };
            return Err(WorkerError::Failed {
                python: python.to_string(),
                status,
                message: if line.trim().is_empty() {
                    "it printed nothing (its error output is above)".to_string()
                } else {
                    format!("it printed '{}'", line.trim())
                },
            });
        };
        let worker = Worker {
            python: python.to_string(),
            child,
            stdin: Some(stdin),
            stdout,
            _file: file,
            hello,
        };
        if worker.hello.worker != WORKER_VERSION {
            return Err(worker.failed(format!(
                "worker protocol {} (expected {WORKER_VERSION})",
                worker.hello.worker
            )));
        }
        if !worker.hello.ok {
            let message = worker.hello.error.clone().unwrap_or_default();
            let python = python.to_string();
            return Err(match worker.hello.kind.as_deref() {
                Some("no_alembic") => WorkerError::NoAlembic { python, message },
                Some("no_driver") => WorkerError::NoDriver { python, message },
                Some("load") => WorkerError::Load {
                    message: message.trim_end().replace('\n', "\n  "),
                },
                Some("connect") => WorkerError::Connect { message },
                _ => worker.failed(message),
            });
        }
        Ok(worker)
    }

    fn failed(&self, message: String) -> WorkerError {
        WorkerError::Failed {
            python: self.python.clone(),
            status: "protocol".to_string(),
            message,
        }
    }

    /// Sends one request and reads its answer. A worker that is gone is a
    /// lost connection (its transaction rolled back with it).
    pub fn request(&mut self, request: &serde_json::Value) -> Result<Answer, SessionError> {
        let gone = |what: String| {
            SessionError::lost(format!(
                "the Alembic worker {what} (its error output, if any, is above); its open transaction was rolled back"
            ))
        };
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(gone("has already ended".to_string()));
        };
        let mut text = request.to_string();
        text.push('\n');
        if let Err(e) = stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
        {
            return Err(gone(format!("could not be sent a request ({e})")));
        }
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => {
                let status = self
                    .child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                Err(gone(format!("exited ({status})")))
            }
            Ok(_) => serde_json::from_str(line.trim())
                .map_err(|e| gone(format!("gave an answer that is not its protocol ({e})"))),
            Err(e) => Err(gone(format!("could not be read ({e})"))),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.request(&serde_json::json!({"op": "exit"}));
        }
        // Closing stdin ends its loop; it must not outlive the run.
        self.stdin = None;
        let waited = (0..50).any(|_| {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            false
        });
        if !waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
