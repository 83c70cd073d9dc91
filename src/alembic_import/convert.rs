//! Alembic's report and our graph side by side: [`cross_check`] names
//! every difference, [`convert()`] builds the native revisions.

use super::absolute;
use super::driver::{DriverReport, DriverRevision};
use crate::graph::{Revision, RevisionGraph};
use crate::script::NativeBody;
use serde::Serialize;
use std::path::Path;

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
        .map(|rev| convert_one(rev, report.revisions.get(&rev.id), root, &now))
        .collect()
}

/// One revision; `d` is what the driver reported on it.
fn convert_one(rev: &Revision, d: Option<&DriverRevision>, root: &Path, now: &str) -> Converted {
    let source = d
        .map(|d| relative(&d.path, root))
        .unwrap_or_else(|| rev.origin.clone());
    let mut unconverted = Vec::new();
    let mut sql = |function: &'static str, got: Option<&String>, err: Option<&String>| {
        if let (Some(s), None) = (got, err) {
            return s.clone();
        }
        let reason = unconverted_reason(d, err);
        let text = todo_sql(&rev.id, function, &source, &reason);
        unconverted.push(Unconverted { function, reason });
        text
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
    let (transactional, notes) = transactional(d);
    let created = d
        .and_then(|d| d.created.clone())
        .filter(|c| chrono::DateTime::parse_from_rfc3339(c).is_ok())
        .unwrap_or_else(|| now.to_string());
    Converted {
        revision: Revision {
            origin: String::new(),
            // The message, not the docstring's "Revision ID: ..." lines.
            message: crate::script::alembic_doc(&rev.message).to_string(),
            ..rev.clone()
        },
        body: NativeBody {
            created: Some(created),
            transactional,
            upgrade,
            downgrade,
            lock_timeout: None,
            statement_timeout: None,
        },
        source,
        unconverted,
        notes,
    }
}

/// Why a function has no SQL: what Alembic raised, and the usual cause
/// when the revision reads from the database.
fn unconverted_reason(d: Option<&DriverRevision>, err: Option<&String>) -> String {
    let mut reason = err
        .cloned()
        .unwrap_or_else(|| "the driver reported no SQL".to_string());
    if std::fs::read_to_string(d.map_or("", |d| &d.path)).is_ok_and(|t| t.contains("get_bind")) {
        reason.push_str(
            "; the revision uses op.get_bind(), and offline mode has no database connection to read from",
        );
    }
    reason
}

/// Whether the revision can run in a transaction, with a note for each
/// reason it cannot.
fn transactional(d: Option<&DriverRevision>) -> (bool, Vec<String>) {
    let mut notes = Vec::new();
    if d.is_some_and(|d| d.autocommit_block) {
        notes.push(
            "uses autocommit_block(): transactional: false, so the whole revision runs outside a transaction".to_string(),
        );
    }
    if d.is_some_and(|d| d.transaction_control) {
        notes.push(
            "its SQL has BEGIN/COMMIT/ROLLBACK statements of its own: transactional: false"
                .to_string(),
        );
    }
    (notes.is_empty(), notes)
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
}
