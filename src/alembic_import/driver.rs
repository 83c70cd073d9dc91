//! The Python side of the import: the embedded `driver.py`, run with the
//! chosen interpreter on the Alembic project, and its one-line JSON report.

use super::{absolute, ImportError};
use crate::script::{LoadError, Project};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The Python driver, written to a temporary file and run by [`run_driver`].
pub const DRIVER_SOURCE: &str = include_str!("driver.py");

/// The driver protocol version this binary understands.
const DRIVER_VERSION: u32 = 1;

/// The driver's report on one revision.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct DriverRevision {
    pub path: String,
    pub down_revision: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub doc: Option<String>,
    /// The docstring's `Create Date:` as RFC 3339 UTC.
    pub created: Option<String>,
    pub upgrade_sql: Option<String>,
    pub downgrade_sql: Option<String>,
    pub upgrade_error: Option<String>,
    pub downgrade_error: Option<String>,
    /// `upgrade()` or `downgrade()` entered `autocommit_block()`.
    pub autocommit_block: bool,
    /// The captured SQL holds BEGIN/COMMIT/ROLLBACK statements of its own.
    pub transaction_control: bool,
}

#[derive(Debug, Deserialize)]
struct DriverFatal {
    kind: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct DriverDoc {
    driver: u32,
    #[serde(default)]
    fatal: Option<DriverFatal>,
    #[serde(default)]
    alembic_version: Option<String>,
    #[serde(default)]
    sqlalchemy_version: Option<String>,
    #[serde(default)]
    python: Option<String>,
    #[serde(default)]
    env_note: Option<String>,
    #[serde(default)]
    revisions: BTreeMap<String, DriverRevision>,
}

/// What the driver found.
#[derive(Debug, Clone)]
pub struct DriverReport {
    pub alembic_version: String,
    pub sqlalchemy_version: String,
    pub python_version: String,
    /// Why the project's env.py could not be run offline (then its
    /// `target_metadata` was not used), when it could not.
    pub env_note: Option<String>,
    pub revisions: BTreeMap<String, DriverRevision>,
}

/// The driver written to a fresh temporary file (removed when dropped).
fn driver_file() -> Result<tempfile::NamedTempFile, LoadError> {
    let dir = std::env::temp_dir();
    crate::alembic_run::script_file("mergepoint-import-alembic-", DRIVER_SOURCE)
        .map_err(|e| LoadError::io(&dir, "write the driver file", &e))
}

/// Runs the driver with `python` on the Alembic `project` and returns its
/// report. The driver runs in the project root (where `alembic` is run),
/// with the project's `alembic.ini` when it has one.
pub fn run_driver(
    python: &str,
    project: &Project,
    dialect: &str,
) -> Result<DriverReport, ImportError> {
    let driver = driver_file()?;
    let out = driver_command(python, driver.path(), project, dialect)
        .output()
        .map_err(|e| ImportError::NoPython {
            python: python.to_string(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "no such program".to_string()
            } else {
                e.to_string()
            },
        })?;
    parse_report(python, &out)
}

/// `python driver.py --dialect D` with the project's ini, or its script
/// directory and version locations.
fn driver_command(python: &str, driver: &Path, project: &Project, dialect: &str) -> Command {
    let root = absolute(&project.root);
    let mut cmd = Command::new(python);
    cmd.arg(driver).arg("--dialect").arg(dialect);
    cmd.args(crate::alembic_run::project_args(project));
    cmd.current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null());
    cmd
}

/// The report on the driver's last stdout line, or why there is none.
fn parse_report(python: &str, out: &Output) -> Result<DriverReport, ImportError> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let doc: Option<DriverDoc> = last.and_then(|l| serde_json::from_str(l).ok());
    let Some(doc) = doc else {
        return Err(no_report(python, out));
    };
    if doc.driver != DRIVER_VERSION {
        return Err(ImportError::Driver {
            python: python.to_string(),
            status: "protocol".to_string(),
            message: format!("driver protocol {} (expected {DRIVER_VERSION})", doc.driver),
        });
    }
    if let Some(f) = doc.fatal {
        return Err(match f.kind.as_str() {
            "no_alembic" => ImportError::NoAlembic {
                python: python.to_string(),
                message: f.message,
            },
            "load" => ImportError::AlembicLoad {
                message: f.message.trim_end().replace('\n', "\n  "),
            },
            _ => ImportError::Driver {
                python: python.to_string(),
                status: f.kind,
                message: f.message,
            },
        });
    }
    Ok(DriverReport {
        alembic_version: doc.alembic_version.unwrap_or_default(),
        sqlalchemy_version: doc.sqlalchemy_version.unwrap_or_default(),
        python_version: doc.python.unwrap_or_default(),
        env_note: doc.env_note,
        revisions: doc.revisions,
    })
}

/// The driver printed no report: a Python 2 or otherwise unusable
/// interpreter fails before the driver can say anything.
fn no_report(python: &str, out: &Output) -> ImportError {
    let status = match out.status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    let mut message = tail(&String::from_utf8_lossy(&out.stderr), 15);
    if message.is_empty() {
        message = tail(&String::from_utf8_lossy(&out.stdout), 15);
    }
    if message.is_empty() {
        message = "no output".to_string();
    }
    ImportError::Driver {
        python: python.to_string(),
        status,
        message,
    }
}

/// The last `n` non-blank lines of `s`.
fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
