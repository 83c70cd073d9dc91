//! Writing the converted revisions as a native project and reading them
//! back: [`check_out_dir`] before anything is written, [`write()`], then
//! [`verify`] that the result is the same graph.

use super::convert::Converted;
use super::ImportError;
use crate::graph::{Revision, RevisionGraph};
use crate::script::{self, Format, NativeBody, Project};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    let (g, bodies) = read_back(out)?;
    let mut problems = compare_revisions(&g, &bodies, written);
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
    let history_note = compare_history(&g, source, &mut problems);
    if problems.is_empty() {
        Ok(Verified {
            heads: g.ids(g.heads()),
            history_note,
        })
    } else {
        Err(ImportError::Verify { problems })
    }
}

/// The written project's graph and each revision's SQL, by id.
fn read_back(out: &Path) -> Result<(RevisionGraph, HashMap<String, NativeBody>), ImportError> {
    let project = Project::locate(Some(out))?;
    let loaded = script::load(&project);
    if !loaded.problems.is_empty() {
        return Err(ImportError::Verify {
            problems: loaded.problems.iter().map(|p| p.to_string()).collect(),
        });
    }
    let bodies: HashMap<String, NativeBody> = loaded
        .revisions
        .iter()
        .zip(loaded.bodies)
        .filter_map(|(r, b)| match b {
            script::Body::Native(n) => Some((r.id.clone(), n)),
            script::Body::Alembic => None,
        })
        .collect();
    let g = RevisionGraph::build(loaded.revisions).map_err(|e| ImportError::Verify {
        problems: e.problems.iter().map(|p| p.to_string()).collect(),
    })?;
    Ok((g, bodies))
}

/// Each written revision as it reads back: its header and its SQL.
fn compare_revisions(
    g: &RevisionGraph,
    bodies: &HashMap<String, NativeBody>,
    written: &[Converted],
) -> Vec<String> {
    let mut problems = Vec::new();
    for c in written {
        let want = &c.revision;
        let Some(ix) = g.find(&want.id) else {
            problems.push(format!("revision {} is missing", want.id));
            continue;
        };
        let got = g.rev(ix);
        if header(got) != header(want) {
            problems.push(format!(
                "{}: reads back differently (parents, depends_on, branch labels or message)",
                got.origin
            ));
        }
        if bodies.get(&want.id) != Some(&c.body) {
            problems.push(format!("{}: its SQL reads back differently", got.origin));
        }
    }
    problems
}

/// What must read back unchanged besides the SQL.
fn header(r: &Revision) -> (&[String], &[String], &[String], &str) {
    (&r.parents, &r.depends_on, &r.branch_labels, &r.message)
}

/// Compares the history orders; returns a note when they differ only in
/// how parallel branches interleave.
fn compare_history(
    g: &RevisionGraph,
    source: &RevisionGraph,
    problems: &mut Vec<String>,
) -> Option<String> {
    let history = g.history(None).map(|h| g.ids(&h));
    let want_history = source.history(None).map(|h| source.ids(&h));
    match (history, want_history) {
        (Ok(a), Ok(b)) if a == b => None,
        (Ok(mut a), Ok(mut b)) => {
            // Alembic breaks ties between parallel branches by file name;
            // that only differs when the Alembic file names do not sort
            // like `<id>_<slug>`.
            a.sort();
            b.sort();
            let same_load_order = source
                .revisions()
                .iter()
                .map(|r| &r.id)
                .eq(g.revisions().iter().map(|r| &r.id));
            if a != b {
                problems.push("history lists different revisions".to_string());
                None
            } else if same_load_order {
                problems.push("history order differs".to_string());
                None
            } else {
                Some(
                    "history interleaves parallel branches in a different order: the Alembic file names do not sort like the native <id>_<slug> names".to_string(),
                )
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            problems.push(format!("history: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_dir_rules() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("out");
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
    }
}
