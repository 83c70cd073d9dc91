//! New revisions of an Alembic project written from the project's own
//! `script.py.mako`, as `alembic revision` writes them: the template is
//! rendered by the project's Python with Alembic's own `template_to_file`
//! and the arguments `ScriptDirectory.generate_revision` passes, then the
//! project's `post_write_hooks` run on the file (`template.py`, embedded).
//!
//! mergepoint names the file (its `file_template`, as for every revision)
//! and creates it first, so an existing file is never overwritten; Python
//! fills it. Without a Python that has Alembic, the file gets mergepoint's
//! copy of Alembic's default template and the caller is told what was
//! left out; a template that fails to render, or a hook that fails, is an
//! error naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::absolute;
use crate::script::{self, LoadError, NewRevision, Project};

/// The renderer, embedded in the binary.
pub const TEMPLATE_SOURCE: &str = include_str!("template.py");

/// A revision file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// Set when the project's template or hooks could not be used: what
    /// was written instead, and why.
    pub note: Option<String>,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    ok: bool,
    no_template: Option<String>,
    error: Option<String>,
    message: Option<String>,
}

/// Writes `new` into a new file of `project` (an Alembic project) from the
/// project's `script.py.mako`, rendered with `python`.
pub fn write_from_template(
    python: &str,
    project: &Project,
    new: &NewRevision,
) -> Result<Written, LoadError> {
    let path = script::reserve_revision_file(project, new)?;
    let fallback = |note: Option<String>| -> Result<Written, LoadError> {
        script::fill_reserved(&path, &script::render_alembic(new))?;
        Ok(Written {
            path: path.clone(),
            note,
        })
    };
    let reply = match render(python, project, new, &path) {
        Ok(reply) => reply,
        Err(why) => {
            return fallback(Some(format!(
                "written from mergepoint's copy of Alembic's default template, without the \
                 project's script.py.mako and post_write_hooks: {why}; set MP_ALEMBIC_PYTHON \
                 to a Python that has the project's Alembic"
            )))
        }
    };
    if reply.ok {
        return Ok(Written { path, note: None });
    }
    if reply.no_template.is_some() {
        // As Alembic would need one: the project has no template of its own.
        return fallback(None);
    }
    let kind = reply.error.unwrap_or_default();
    let message = reply.message.unwrap_or_default();
    if kind == "no_alembic" {
        return fallback(Some(format!(
            "written from mergepoint's copy of Alembic's default template, without the \
             project's script.py.mako and post_write_hooks: {python} cannot import Alembic \
             ({message}); set MP_ALEMBIC_PYTHON to a Python that has it"
        )));
    }
    if kind != "hook" {
        // Nothing usable was written: the file goes again.
        let _ = std::fs::remove_file(&path);
    }
    Err(LoadError::Config {
        path: if kind == "hook" {
            path.clone()
        } else {
            project
                .alembic
                .as_ref()
                .and_then(|l| l.ini.clone().or_else(|| l.pyproject.clone()))
                .unwrap_or_else(|| project.root.join("alembic.ini"))
        },
        line: None,
        message: if kind == "hook" {
            format!("the revision was written, but {message}")
        } else {
            message
        },
    })
}

/// Runs the renderer; `Err` says why Python could not be used at all.
fn render(
    python: &str,
    project: &Project,
    new: &NewRevision,
    dest: &Path,
) -> Result<Reply, String> {
    let file = crate::alembic_run::script_file("mergepoint-alembic-template-", TEMPLATE_SOURCE)
        .map_err(|e| format!("cannot write the renderer: {e}"))?;
    let root = absolute(&project.root);
    // Where the project's settings and scripts are, as located (alembic.ini,
    // [tool.alembic], Flask-Migrate's migrations/).
    let settings = project.alembic_settings();
    let (ini, toml, script_dir) = (settings.ini, settings.pyproject, settings.script_dir);
    let body = |sql: &str| (!sql.trim().is_empty()).then(|| script::alembic_body(sql));
    let request = serde_json::json!({
        "ini": ini.map(|p| p.display().to_string()),
        "toml": toml.map(|p| p.display().to_string()),
        "script_dir": script_dir.display().to_string(),
        "version_locations": project.revisions_dirs.iter().map(|d| absolute(d).display().to_string()).collect::<Vec<_>>(),
        "dest": absolute(dest).display().to_string(),
        "id": new.id,
        "parents": new.parents,
        "branch_labels": new.branch_labels,
        "depends_on": new.depends_on,
        "message": new.message,
        // UTC, as mergepoint's own files (alembic-compat.md).
        "created": new.created.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "upgrades": body(&new.upgrade),
        "downgrades": body(&new.downgrade),
    });
    let mut child = Command::new(python)
        .arg(file.path())
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("{python}: no such program")
            } else {
                format!("{python}: {e}")
            }
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(request.to_string().as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{python}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().rev().find(|l| l.starts_with('{'));
    last.and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            format!(
                "{python} did not run the renderer ({}): {}",
                out.status,
                stderr.lines().last().unwrap_or("no output")
            )
        })
}
