/*!
The CLI's seam to revision files on disk.

Every command reaches the file system through this module only: find the
project, load its revisions, write a new one. It is written against the
loader API of `mergepoint::script` (`Project::locate`, `load`,
`write_revision`, `init_project`, `new_revision_id`); until that module
lands on this branch, a small interim reader/writer below stands in for it
with the same shapes, so the commands and their tests do not change when
the switch happens.
*/

use super::error::{CliError, CliResult};
use crate::graph::Revision;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which kind of revisions directory a project has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// mergepoint's own YAML files (`<id>_<slug>.yaml`).
    Native,
    /// Alembic `versions/*.py` files.
    Alembic,
}

/// A located project: where it is and how its revisions are stored.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub revisions_dir: PathBuf,
    pub format: Format,
}

/// A file that could not be read as a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// Everything read from a revisions directory, in load order (sorted file
/// names), with the files that failed.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub revisions: Vec<Revision>,
    pub problems: Vec<LoadProblem>,
}

/// What `revision` and `merge` ask to be written.
#[derive(Debug, Clone)]
pub struct NewRevision {
    pub id: String,
    pub parents: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub message: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub transactional: bool,
    pub upgrade: String,
    pub downgrade: String,
}

const CONFIG_FILE: &str = "mergepoint.yaml";

/// Finds the project at `dir` (a project root or a revisions directory;
/// default: the current directory).
pub fn locate(dir: Option<&Path>) -> CliResult<Project> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir()?,
    };
    if !dir.is_dir() {
        return Err(
            CliError::input(format!("'{}' is not a directory", dir.display()))
                .with_hint("pass --dir with a project root or a revisions directory"),
        );
    }
    let config = dir.join(CONFIG_FILE);
    if config.is_file() {
        let text = std::fs::read_to_string(&config)?;
        let conf: ConfigFile = serde_yaml::from_str(&text).map_err(|e| {
            CliError::input(format!("{}: {e}", config.display()))
                .with_hint("fix the YAML of the config file")
        })?;
        let format = match conf.format.as_deref() {
            Some("alembic") => Format::Alembic,
            _ => Format::Native,
        };
        let revisions_dir = dir.join(conf.revisions_dir.unwrap_or_else(|| "revisions".into()));
        return Ok(Project {
            root: dir,
            revisions_dir,
            format,
        });
    }
    if dir.join("alembic.ini").is_file() || dir.join("versions").is_dir() {
        let versions = if dir.join("versions").is_dir() {
            dir.join("versions")
        } else {
            dir.join("alembic").join("versions")
        };
        return Ok(Project {
            root: dir,
            revisions_dir: versions,
            format: Format::Alembic,
        });
    }
    if dir.join("revisions").is_dir() {
        return Ok(Project {
            root: dir.clone(),
            revisions_dir: dir.join("revisions"),
            format: Format::Native,
        });
    }
    let names = sorted_files(&dir)?;
    let has = |ext: &str| {
        names
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == ext))
    };
    if has("yaml") || has("yml") {
        return Ok(Project {
            root: dir.clone(),
            revisions_dir: dir,
            format: Format::Native,
        });
    }
    if has("py") {
        return Ok(Project {
            root: dir.clone(),
            revisions_dir: dir,
            format: Format::Alembic,
        });
    }
    Err(CliError::input(format!(
        "no mergepoint project in '{}': no {CONFIG_FILE}, alembic.ini, revisions/ or versions/ here",
        dir.display()
    ))
    .with_hint("run 'mergepoint init' to create a project, or pass --dir PATH"))
}

#[derive(Debug, Deserialize, Default)]
struct ConfigFile {
    revisions_dir: Option<String>,
    format: Option<String>,
}

fn sorted_files(dir: &Path) -> CliResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| CliError::input(format!("cannot read '{}': {e}", dir.display())))?
    {
        let path = entry?.path();
        if path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Loads every revision file of the project in load order.
pub fn load(project: &Project) -> CliResult<Loaded> {
    let mut loaded = Loaded::default();
    if !project.revisions_dir.is_dir() {
        return Err(CliError::input(format!(
            "revisions directory '{}' does not exist",
            project.revisions_dir.display()
        ))
        .with_hint("create it, or run 'mergepoint init'"));
    }
    for path in sorted_files(&project.revisions_dir)? {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let parsed = match (project.format, ext) {
            (Format::Native, "yaml" | "yml") => interim::read_native(&path),
            (Format::Alembic, "py") => interim::read_alembic(&path),
            _ => continue,
        };
        match parsed {
            Ok(rev) => loaded.revisions.push(rev),
            Err(message) => loaded.problems.push(LoadProblem {
                file: path.clone(),
                message,
            }),
        }
    }
    Ok(loaded)
}

/// Writes a new revision file in the project's own format.
pub fn write_revision(project: &Project, new: &NewRevision) -> CliResult<PathBuf> {
    let (name, text) = match project.format {
        Format::Native => (
            format!("{}_{}.yaml", new.id, slug(&new.message)),
            interim::native_text(new),
        ),
        Format::Alembic => (
            format!("{}_{}.py", new.id, slug(&new.message)),
            interim::alembic_text(new),
        ),
    };
    let path = project.revisions_dir.join(name);
    if path.exists() {
        return Err(CliError::input(format!(
            "'{}' already exists; not overwriting it",
            path.display()
        )));
    }
    std::fs::write(&path, text)
        .map_err(|e| CliError::input(format!("cannot write '{}': {e}", path.display())))?;
    Ok(path)
}

/// Creates `mergepoint.yaml` and an empty `revisions/` in `root`.
pub fn init_project(root: &Path) -> CliResult<Project> {
    let config = root.join(CONFIG_FILE);
    if config.exists() {
        return Err(CliError::input(format!(
            "'{}' already exists: this directory is already a mergepoint project",
            config.display()
        )));
    }
    std::fs::create_dir_all(root.join("revisions"))?;
    std::fs::write(
        &config,
        "# mergepoint project configuration\nrevisions_dir: revisions\nformat: native\n",
    )?;
    locate(Some(root))
}

/// A fresh revision id: 12 lowercase hex characters of a v4 UUID.
pub fn new_revision_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// File-name slug of a message, as Alembic makes it.
fn slug(message: &str) -> String {
    let mut out = String::new();
    for word in message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_ascii_lowercase());
        if out.len() > 40 {
            break;
        }
    }
    out
}

/// The interim reader and writer (see the module docs).
mod interim {
    use super::NewRevision;
    use crate::graph::Revision;
    use serde::Deserialize;
    use std::path::Path;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NativeFile {
        id: String,
        #[serde(default)]
        parents: Vec<String>,
        #[serde(default)]
        depends_on: Vec<String>,
        #[serde(default)]
        branch_labels: Vec<String>,
        #[serde(default)]
        message: String,
        #[serde(default)]
        #[allow(dead_code)]
        created: Option<serde_yaml::Value>,
        #[serde(default)]
        #[allow(dead_code)]
        transactional: Option<bool>,
        #[serde(default)]
        #[allow(dead_code)]
        upgrade: Option<String>,
        #[serde(default)]
        #[allow(dead_code)]
        downgrade: Option<String>,
    }

    pub fn read_native(path: &Path) -> Result<Revision, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let file: NativeFile =
            serde_yaml::from_str(&text).map_err(|e| format!("not a valid revision file: {e}"))?;
        Ok(Revision {
            id: file.id,
            parents: file.parents,
            depends_on: file.depends_on,
            branch_labels: file.branch_labels,
            message: file.message,
            origin: path.display().to_string(),
        })
    }

    pub fn read_alembic(path: &Path) -> Result<Revision, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let mut rev = Revision {
            origin: path.display().to_string(),
            ..Revision::default()
        };
        let mut found_id = false;
        let trimmed = text.trim_start();
        for quote in ["\"\"\"", "'''"] {
            if let Some(rest) = trimmed.strip_prefix(quote) {
                let doc = rest.split(quote).next().unwrap_or("");
                rev.message = doc.trim().lines().next().unwrap_or("").trim().to_string();
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            let Some((lhs, rhs)) = line.split_once('=') else {
                continue;
            };
            let name = lhs.split(':').next().unwrap_or("").trim();
            if line.starts_with(' ') || line.starts_with('\t') {
                continue;
            }
            let mut value = rhs.trim().to_string();
            let opens = |v: &str| v.matches(['(', '[']).count() > v.matches([')', ']']).count();
            while opens(&value) && i < lines.len() {
                value.push_str(lines[i].trim());
                i += 1;
            }
            match name {
                "revision" => {
                    let v = literal(&value).map_err(|e| format!("revision: {e}"))?;
                    rev.id = v.into_iter().next().unwrap_or_default();
                    found_id = true;
                }
                "down_revision" => {
                    rev.parents = literal(&value).map_err(|e| format!("down_revision: {e}"))?
                }
                "branch_labels" => {
                    rev.branch_labels =
                        literal(&value).map_err(|e| format!("branch_labels: {e}"))?
                }
                "depends_on" => {
                    rev.depends_on = literal(&value).map_err(|e| format!("depends_on: {e}"))?
                }
                _ => {}
            }
        }
        if !found_id || rev.id.is_empty() {
            return Err("no `revision = \"...\"` assignment: not an Alembic revision file".into());
        }
        Ok(rev)
    }

    /// None, a string, or a tuple/list of strings.
    fn literal(value: &str) -> Result<Vec<String>, String> {
        let v = value.split('#').next().unwrap_or("").trim();
        if v == "None" || v == "()" || v == "[]" {
            return Ok(Vec::new());
        }
        let inner = v
            .strip_prefix(['(', '['])
            .and_then(|s| s.strip_suffix([')', ']']))
            .unwrap_or(v);
        let mut out = Vec::new();
        for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let s = part
                .strip_prefix('"')
                .and_then(|p| p.strip_suffix('"'))
                .or_else(|| part.strip_prefix('\'').and_then(|p| p.strip_suffix('\'')))
                .ok_or_else(|| format!("cannot read '{v}' without running Python"))?;
            out.push(s.to_string());
        }
        Ok(out)
    }

    fn yaml_list(items: &[String]) -> String {
        format!("[{}]", items.join(", "))
    }

    fn block(text: &str) -> String {
        if text.trim().is_empty() {
            return " \"\"\n".to_string();
        }
        let mut out = " |\n".to_string();
        for line in text.trim_end().lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    pub fn native_text(new: &NewRevision) -> String {
        format!(
            "id: {}\nparents: {}\ndepends_on: {}\nbranch_labels: {}\nmessage: {}\ncreated: {}\ntransactional: {}\nupgrade:{}downgrade:{}",
            new.id,
            yaml_list(&new.parents),
            yaml_list(&new.depends_on),
            yaml_list(&new.branch_labels),
            serde_json::to_string(&new.message).unwrap_or_default(),
            new.created,
            new.transactional,
            block(&new.upgrade),
            block(&new.downgrade),
        )
    }

    fn py_value(items: &[String]) -> String {
        match items {
            [] => "None".to_string(),
            [one] => format!("{one:?}"),
            many => format!(
                "({},)",
                many.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    pub fn alembic_text(new: &NewRevision) -> String {
        let body = |sql: &str| {
            if sql.trim().is_empty() {
                "    pass\n".to_string()
            } else {
                format!("    op.execute({:?})\n", sql.trim())
            }
        };
        format!(
            "\"\"\"{msg}\n\nRevision ID: {id}\nRevises: {revises}\nCreate Date: {created}\n\n\"\"\"\nfrom typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n\n# revision identifiers, used by Alembic.\nrevision: str = {id:?}\ndown_revision: Union[str, Sequence[str], None] = {down}\nbranch_labels: Union[str, Sequence[str], None] = {labels}\ndepends_on: Union[str, Sequence[str], None] = {deps}\n\n\ndef upgrade() -> None:\n{up}\n\ndef downgrade() -> None:\n{downgrade}",
            msg = new.message,
            id = new.id,
            revises = new.parents.join(", "),
            created = new.created,
            down = py_value(&new.parents),
            labels = py_value(&new.branch_labels),
            deps = py_value(&new.depends_on),
            up = body(&new.upgrade),
            downgrade = body(&new.downgrade),
        )
    }
}
