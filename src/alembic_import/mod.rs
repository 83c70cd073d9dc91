//! Conversion of an Alembic project into a native mergepoint project
//! (`mergepoint import-alembic`).
//!
//! The graph (ids, parents, depends_on, branch labels, messages) comes from
//! our own static reader ([`crate::script`]), so the result is exactly what
//! mergepoint sees in the Alembic directory. The SQL comes from Alembic
//! itself: a small Python driver (`driver.py`, embedded in the binary) loads
//! the project with Alembic's `ScriptDirectory` and runs each revision's
//! `upgrade()` and `downgrade()` under an offline (`as_sql`) migration
//! context, the way `alembic upgrade --sql` does, capturing only that
//! function's statements.
//!
//! - [`run_driver`] runs the driver and parses its report.
//! - [`cross_check`] compares Alembic's view of the graph with ours.
//! - [`convert`] turns both into native revisions ([`Converted`]), with a
//!   failing `-- TODO` body where Alembic could not produce offline SQL.
//! - [`check_out_dir`], [`write`] and [`verify`] write the native project
//!   (never overwriting a file) and check that it reads back as the same
//!   graph.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::graph::{Revision, RevisionGraph};
use crate::script::{self, Format, LoadError, NativeBody, Project};

/// The Python driver, written to a temporary file and run by [`run_driver`].
pub const DRIVER_SOURCE: &str = include_str!("driver.py");

/// The driver protocol version this binary understands.
const DRIVER_VERSION: u32 = 1;

/// Environment variable naming the Python interpreter (after `--python`).
pub const PYTHON_ENV: &str = "MP_ALEMBIC_PYTHON";

/// The only dialect supported: mergepoint applies SQL to PostgreSQL.
pub const DIALECTS: &[&str] = &["postgresql"];

/// What can stop an import before anything is written.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The interpreter could not be started.
    #[error("cannot run the Python interpreter '{python}': {message}")]
    NoPython { python: String, message: String },
    /// Python runs but cannot import Alembic (or SQLAlchemy).
    #[error("the Python interpreter '{python}' cannot import Alembic: {message}")]
    NoAlembic { python: String, message: String },
    /// Alembic itself could not load the project.
    #[error("{message}")]
    AlembicLoad { message: String },
    /// The driver crashed or printed something that is not its report.
    #[error("the Alembic driver run by '{python}' failed ({status}): {message}")]
    Driver {
        python: String,
        status: String,
        message: String,
    },
    /// Alembic and mergepoint read the directory differently.
    #[error("Alembic and mergepoint read this project differently:\n  {}", .problems.join("\n  "))]
    Mismatch { problems: Vec<String> },
    /// The output directory is not a place we may write to.
    #[error("{}: {message}", .dir.display())]
    OutDir { dir: PathBuf, message: String },
    /// Writing or reading the native project failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The written project does not read back as the same graph.
    #[error("the written project does not match the Alembic project:\n  {}", .problems.join("\n  "))]
    Verify { problems: Vec<String> },
}

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
    revisions: BTreeMap<String, DriverRevision>,
}

/// What the driver found.
#[derive(Debug, Clone)]
pub struct DriverReport {
    pub alembic_version: String,
    pub sqlalchemy_version: String,
    pub python_version: String,
    pub revisions: BTreeMap<String, DriverRevision>,
}

/// The interpreter to use: `--python`, then `MP_ALEMBIC_PYTHON`, then
/// `python3`.
pub fn choose_python(from_cli: Option<&str>) -> String {
    from_cli
        .map(str::to_string)
        .or_else(|| std::env::var(PYTHON_ENV).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "python3".to_string())
}

/// The driver written to a temporary file, removed on drop.
struct TempDriver(PathBuf);

impl TempDriver {
    fn create() -> Result<TempDriver, LoadError> {
        use std::io::Write;
        let rand = uuid::Uuid::new_v4().simple().to_string();
        let path = std::env::temp_dir().join(format!(
            "mergepoint-import-alembic-{}-{}.py",
            std::process::id(),
            &rand[..12]
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| LoadError::io(&path, "create the driver file", &e))?;
        f.write_all(DRIVER_SOURCE.as_bytes())
            .map_err(|e| LoadError::io(&path, "write the driver file", &e))?;
        Ok(TempDriver(path))
    }
}

impl Drop for TempDriver {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the driver with `python` on the Alembic `project` and returns its
/// report. The driver runs in the project root (where `alembic` is run),
/// with the project's `alembic.ini` when it has one.
pub fn run_driver(
    python: &str,
    project: &Project,
    dialect: &str,
) -> Result<DriverReport, ImportError> {
    let driver = TempDriver::create()?;
    let root = absolute(&project.root);
    let mut cmd = Command::new(python);
    cmd.arg(&driver.0).arg("--dialect").arg(dialect);
    let ini = root.join("alembic.ini");
    if ini.is_file() {
        cmd.arg("--ini").arg(&ini);
    } else {
        let first = project
            .revisions_dirs
            .first()
            .map(|d| absolute(d))
            .unwrap_or_else(|| root.join("versions"));
        let script_dir = first
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.clone());
        cmd.arg("--script-dir").arg(script_dir);
        for d in &project.revisions_dirs {
            cmd.arg("--version-location").arg(absolute(d));
        }
    }
    cmd.current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null());
    let out = cmd.output().map_err(|e| ImportError::NoPython {
        python: python.to_string(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "no such program".to_string()
        } else {
            e.to_string()
        },
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let doc: Option<DriverDoc> = last.and_then(|l| serde_json::from_str(l).ok());
    let Some(doc) = doc else {
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        // A Python 2 or otherwise unusable interpreter fails before the
        // driver can report anything.
        let mut message = tail(&stderr, 15);
        if message.is_empty() {
            message = tail(&stdout, 15);
        }
        if message.is_empty() {
            message = "no output".to_string();
        }
        return Err(ImportError::Driver {
            python: python.to_string(),
            status,
            message,
        });
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
        revisions: doc.revisions,
    })
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        }
    })
}

/// Differences between Alembic's view of the project (the driver's report)
/// and our static reading of it: revisions only one side sees, and
/// different parents, depends_on or branch labels.
pub fn cross_check(g: &RevisionGraph, report: &DriverReport) -> Vec<String> {
    let mut problems = Vec::new();
    for rev in g.revisions() {
        let Some(d) = report.revisions.get(&rev.id) else {
            problems.push(format!(
                "{}: Alembic does not see revision {} (mergepoint does)",
                rev.origin, rev.id
            ));
            continue;
        };
        for (what, ours, theirs) in [
            ("down_revision", &rev.parents, &d.down_revision),
            ("depends_on", &rev.depends_on, &d.depends_on),
            ("branch_labels", &rev.branch_labels, &d.branch_labels),
        ] {
            if ours != theirs {
                problems.push(format!(
                    "{}: {what} of {} is [{}] for mergepoint but [{}] for Alembic",
                    rev.origin,
                    rev.id,
                    ours.join(", "),
                    theirs.join(", ")
                ));
            }
        }
    }
    for (id, d) in &report.revisions {
        if g.find(id).is_none() {
            problems.push(format!(
                "{}: Alembic sees revision {id}, mergepoint does not",
                d.path
            ));
        }
    }
    problems
}

/// Why one function of a revision could not be converted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unconverted {
    /// `upgrade` or `downgrade`.
    pub function: &'static str,
    /// What Alembic raised in offline mode.
    pub reason: String,
}

/// One revision, ready to write.
#[derive(Debug, Clone)]
pub struct Converted {
    pub revision: Revision,
    pub body: NativeBody,
    /// The Alembic file it came from.
    pub source: String,
    /// Functions whose SQL is a `-- TODO`, with the reason.
    pub unconverted: Vec<Unconverted>,
    /// Notes on what changed in the conversion (transactional: false, ...).
    pub notes: Vec<String>,
}

impl Converted {
    pub fn is_complete(&self) -> bool {
        self.unconverted.is_empty()
    }
}

/// The `-- TODO` body of a function that could not be converted. It fails
/// when run, so `mergepoint upgrade` cannot record the revision as applied
/// without its SQL.
pub fn todo_sql(id: &str, function: &str, source: &str, reason: &str) -> String {
    let quoted = |s: &str| s.replace('\'', "''");
    let mut out = String::new();
    out.push_str(&format!(
        "-- TODO(mergepoint import-alembic): {function}() of {source} could not be turned into SQL by Alembic's offline mode:\n"
    ));
    for line in reason.lines() {
        out.push_str(&format!("--   {line}\n"));
    }
    out.push_str(
        "-- Write this revision's SQL here by hand (or a comment if it needs none), then delete\n\
         -- these lines and the statement below, which makes the revision fail until you do.\n",
    );
    out.push_str(&format!(
        "DO $mergepoint_todo$ BEGIN RAISE EXCEPTION '%', 'revision {} was imported from Alembic without its {} SQL; write it in the revision file (see its TODO)'; END $mergepoint_todo$;\n",
        quoted(id),
        quoted(function)
    ));
    out
}

/// A path relative to `root` when it lies below it.
fn relative(path: &str, root: &Path) -> String {
    let p = Path::new(path);
    let root = absolute(root);
    p.strip_prefix(&root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| path.to_string())
}

/// Builds the native revisions from our graph and the driver's SQL.
/// `g`'s revisions must all be in the report (see [`cross_check`]).
pub fn convert(g: &RevisionGraph, report: &DriverReport, root: &Path) -> Vec<Converted> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    g.revisions()
        .iter()
        .map(|rev| {
            let d = report.revisions.get(&rev.id);
            let source = d
                .map(|d| relative(&d.path, root))
                .unwrap_or_else(|| rev.origin.clone());
            let mut unconverted = Vec::new();
            let mut notes = Vec::new();
            let mut sql = |function: &'static str,
                           got: Option<&String>,
                           err: Option<&String>|
             -> String {
                match (got, err) {
                    (Some(s), None) => s.clone(),
                    (_, e) => {
                        let mut reason = e
                            .cloned()
                            .unwrap_or_else(|| "the driver reported no SQL".to_string());
                        if std::fs::read_to_string(d.map_or("", |d| &d.path))
                            .is_ok_and(|t| t.contains("get_bind"))
                        {
                            reason.push_str(
                                "; the revision uses op.get_bind(), and offline mode has no database connection to read from",
                            );
                        }
                        let text = todo_sql(&rev.id, function, &source, &reason);
                        unconverted.push(Unconverted { function, reason });
                        text
                    }
                }
            };
            let upgrade = sql(
                "upgrade",
                d.and_then(|d| d.upgrade_sql.as_ref()),
                d.and_then(|d| d.upgrade_error.as_ref()),
            );
            let downgrade = sql(
                "downgrade",
                d.and_then(|d| d.downgrade_sql.as_ref()),
                d.and_then(|d| d.downgrade_error.as_ref()),
            );
            let mut transactional = true;
            if d.is_some_and(|d| d.autocommit_block) {
                transactional = false;
                notes.push(
                    "uses autocommit_block(): transactional: false, so the whole revision runs outside a transaction".to_string(),
                );
            }
            if d.is_some_and(|d| d.transaction_control) {
                transactional = false;
                notes.push(
                    "its SQL has BEGIN/COMMIT/ROLLBACK statements of its own: transactional: false".to_string(),
                );
            }
            let created = d
                .and_then(|d| d.created.clone())
                .filter(|c| chrono::DateTime::parse_from_rfc3339(c).is_ok())
                .unwrap_or_else(|| now.clone());
            Converted {
                revision: Revision {
                    origin: String::new(),
                    ..rev.clone()
                },
                body: NativeBody {
                    created: Some(created),
                    transactional,
                    upgrade,
                    downgrade,
                },
                source,
                unconverted,
                notes,
            }
        })
        .collect()
}

/// Checks that `out` may receive the native project and returns the
/// project to write into: `out` may be missing, or an existing directory
/// that is not an Alembic project and whose revisions directory is absent
/// or empty. Nothing existing is ever overwritten or mixed in.
pub fn check_out_dir(out: &Path) -> Result<(), ImportError> {
    let err = |message: String| ImportError::OutDir {
        dir: out.to_path_buf(),
        message,
    };
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(err("exists and is not a directory".to_string()));
    }
    if out.join("alembic.ini").exists() {
        return Err(err(
            "holds an alembic.ini; write the native project to a separate directory".to_string(),
        ));
    }
    let revisions_dirs = if out.join(crate::config::CONFIG_FILE).is_file() {
        let p = Project::locate(Some(out))?;
        if p.format != Format::Native {
            return Err(err(format!(
                "its {} says format: {}; import into a new directory",
                crate::config::CONFIG_FILE,
                p.format
            )));
        }
        p.revisions_dirs
    } else {
        vec![out.join("revisions")]
    };
    for d in revisions_dirs {
        if let Ok(mut entries) = std::fs::read_dir(&d) {
            if entries.next().is_some() {
                return Err(ImportError::OutDir {
                    dir: d,
                    message: "is not empty; import into a new directory (existing revision files are never overwritten or mixed with imported ones)".to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Creates (or reuses) the native project at `out` and writes every
/// revision, never overwriting a file. Returns the written paths, in order.
pub fn write(out: &Path, revisions: &[Converted]) -> Result<Vec<PathBuf>, ImportError> {
    let project = if out.join(crate::config::CONFIG_FILE).is_file() {
        Project::locate(Some(out))?
    } else {
        script::init_project(out)?
    };
    let mut paths = Vec::with_capacity(revisions.len());
    for c in revisions {
        let created = c
            .body
            .created
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        let new = script::NewRevision {
            id: c.revision.id.clone(),
            parents: c.revision.parents.clone(),
            depends_on: c.revision.depends_on.clone(),
            branch_labels: c.revision.branch_labels.clone(),
            message: c.revision.message.clone(),
            created,
            transactional: c.body.transactional,
            upgrade: c.body.upgrade.clone(),
            downgrade: c.body.downgrade.clone(),
        };
        paths.push(script::write_revision(&project, &new)?);
    }
    Ok(paths)
}

/// What [`verify`] found besides errors.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    pub heads: Vec<String>,
    /// Set when the history order differs only in how parallel branches
    /// are interleaved (the native file names sort differently).
    pub history_note: Option<String>,
}

/// Loads the native project at `out` and checks it is the same graph as
/// `source`: every revision with the same parents, depends_on, branch
/// labels, message and SQL, the same heads, and the same history.
pub fn verify(
    out: &Path,
    source: &RevisionGraph,
    written: &[Converted],
) -> Result<Verified, ImportError> {
    let project = Project::locate(Some(out))?;
    let loaded = script::load(&project);
    let mut problems: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
    if !problems.is_empty() {
        return Err(ImportError::Verify { problems });
    }
    let bodies: HashMap<String, &NativeBody> = loaded
        .revisions
        .iter()
        .zip(&loaded.bodies)
        .filter_map(|(r, b)| match b {
            script::Body::Native(n) => Some((r.id.clone(), n)),
            script::Body::Alembic => None,
        })
        .collect();
    let g = match RevisionGraph::build(loaded.revisions) {
        Ok(g) => g,
        Err(e) => {
            return Err(ImportError::Verify {
                problems: e.problems.iter().map(|p| p.to_string()).collect(),
            })
        }
    };
    for c in written {
        let want = &c.revision;
        let Some(ix) = g.find(&want.id) else {
            problems.push(format!("revision {} is missing", want.id));
            continue;
        };
        let got = g.rev(ix);
        if (
            &got.parents,
            &got.depends_on,
            &got.branch_labels,
            &got.message,
        ) != (
            &want.parents,
            &want.depends_on,
            &want.branch_labels,
            &want.message,
        ) {
            problems.push(format!(
                "{}: reads back differently (parents, depends_on, branch labels or message)",
                got.origin
            ));
        }
        if bodies.get(&want.id).map(|b| (**b).clone()) != Some(c.body.clone()) {
            problems.push(format!("{}: its SQL reads back differently", got.origin));
        }
    }
    if g.len() != source.len() {
        problems.push(format!(
            "{} revisions written, {} in the Alembic project",
            g.len(),
            source.len()
        ));
    }
    let mut heads = g.ids(g.heads());
    let mut want_heads = source.ids(source.heads());
    heads.sort();
    want_heads.sort();
    if heads != want_heads {
        problems.push(format!(
            "heads are [{}], the Alembic project's are [{}]",
            heads.join(", "),
            want_heads.join(", ")
        ));
    }
    let history = g.history(None).map(|h| g.ids(&h));
    let want_history = source.history(None).map(|h| source.ids(&h));
    let mut history_note = None;
    match (history, want_history) {
        (Ok(a), Ok(b)) if a == b => {}
        (Ok(mut a), Ok(mut b)) => {
            // Alembic breaks ties between parallel branches by file name;
            // that only differs when the Alembic file names do not sort
            // like `<id>_<slug>`.
            a.sort();
            b.sort();
            if a != b {
                problems.push("history lists different revisions".to_string());
            } else if source.revisions().iter().map(|r| &r.id).collect::<Vec<_>>()
                == g.revisions().iter().map(|r| &r.id).collect::<Vec<_>>()
            {
                problems.push("history order differs".to_string());
            } else {
                history_note = Some(
                    "history interleaves parallel branches in a different order: the Alembic file names do not sort like the native <id>_<slug> names".to_string(),
                );
            }
        }
        (Err(e), _) | (_, Err(e)) => problems.push(format!("history: {e}")),
    }
    if problems.is_empty() {
        Ok(Verified {
            heads: g.ids(g.heads()),
            history_note,
        })
    } else {
        Err(ImportError::Verify { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drev(parents: &[&str]) -> DriverRevision {
        DriverRevision {
            path: "/p/versions/x.py".to_string(),
            down_revision: parents.iter().map(|s| s.to_string()).collect(),
            depends_on: vec![],
            branch_labels: vec![],
            doc: None,
            created: None,
            upgrade_sql: Some("CREATE TABLE t (x int);\n".to_string()),
            downgrade_sql: Some("DROP TABLE t;\n".to_string()),
            upgrade_error: None,
            downgrade_error: None,
            autocommit_block: false,
            transaction_control: false,
        }
    }

    fn report(revs: &[(&str, DriverRevision)]) -> DriverReport {
        DriverReport {
            alembic_version: "1".into(),
            sqlalchemy_version: "2".into(),
            python_version: "3".into(),
            revisions: revs
                .iter()
                .map(|(id, r)| (id.to_string(), r.clone()))
                .collect(),
        }
    }

    fn graph() -> RevisionGraph {
        RevisionGraph::build(vec![
            Revision::new("aaaa", &[]),
            Revision::new("bbbb", &["aaaa"]),
        ])
        .unwrap()
    }

    #[test]
    fn cross_check_names_every_difference() {
        let g = graph();
        assert!(cross_check(
            &g,
            &report(&[("aaaa", drev(&[])), ("bbbb", drev(&["aaaa"]))])
        )
        .is_empty());
        let mut b = drev(&[]);
        b.branch_labels = vec!["x".into()];
        let problems = cross_check(&g, &report(&[("bbbb", b), ("cccc", drev(&[]))]));
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("Alembic does not see revision aaaa"));
        assert!(problems[1]
            .contains("down_revision of bbbb is [aaaa] for mergepoint but [] for Alembic"));
        assert!(
            problems[2].contains("branch_labels of bbbb is [] for mergepoint but [x] for Alembic")
        );
        assert!(problems[3].contains("Alembic sees revision cccc, mergepoint does not"));
    }

    #[test]
    fn convert_maps_sql_transactions_dates_and_failures() {
        let g = graph();
        let mut a = drev(&[]);
        a.autocommit_block = true;
        a.created = Some("2026-01-02T03:04:05Z".into());
        let mut b = drev(&["aaaa"]);
        b.downgrade_sql = None;
        b.downgrade_error = Some("TypeError: boom (line 3)".into());
        b.created = Some("not a date".into());
        let out = convert(&g, &report(&[("aaaa", a), ("bbbb", b)]), Path::new("/p"));
        assert!(out[0].is_complete());
        assert!(!out[0].body.transactional);
        assert_eq!(out[0].body.created.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(out[0].source, "versions/x.py");
        assert!(!out[1].is_complete());
        assert!(out[1].body.transactional);
        assert_eq!(out[1].body.upgrade, "CREATE TABLE t (x int);\n");
        assert!(out[1]
            .body
            .downgrade
            .starts_with("-- TODO(mergepoint import-alembic): downgrade() of versions/x.py"));
        assert!(out[1]
            .body
            .downgrade
            .contains("--   TypeError: boom (line 3)\n"));
        assert_eq!(
            out[1].unconverted,
            [Unconverted {
                function: "downgrade",
                reason: "TypeError: boom (line 3)".into()
            }]
        );
        let created = out[1].body.created.as_deref().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(created).is_ok(),
            "{created}"
        );
    }

    #[test]
    fn todo_sql_quotes_and_fails() {
        let sql = todo_sql("it's", "upgrade", "v/x.py", "a\nb");
        assert!(sql.contains("--   a\n--   b\n"));
        assert!(sql.contains("'revision it''s was imported"));
        assert!(sql.ends_with("END $mergepoint_todo$;\n"));
        assert!(sql.lines().filter(|l| !l.starts_with("--")).count() == 1);
    }

    #[test]
    fn out_dir_rules() {
        let tmp =
            std::env::temp_dir().join(format!("mp-import-unit-{}", uuid::Uuid::new_v4().simple()));
        assert!(check_out_dir(&tmp).is_ok(), "missing is fine");
        std::fs::create_dir_all(tmp.join("revisions")).unwrap();
        assert!(check_out_dir(&tmp).is_ok(), "empty revisions/ is fine");
        std::fs::write(tmp.join("revisions/x.yaml"), "id: x\n").unwrap();
        let e = check_out_dir(&tmp).unwrap_err().to_string();
        assert!(e.contains("is not empty"), "{e}");
        std::fs::remove_file(tmp.join("revisions/x.yaml")).unwrap();
        std::fs::write(tmp.join("alembic.ini"), "[alembic]\n").unwrap();
        let e = check_out_dir(&tmp).unwrap_err().to_string();
        assert!(e.contains("alembic.ini"), "{e}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
