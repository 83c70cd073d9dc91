//! Revision files on disk: find a project, load every revision file (native
//! YAML or Alembic `.py`), and write new ones in the project's own format.
//!
//! - [`Project::locate`] finds the project and its revisions directories.
//! - [`load`] reads every revision file once, in Alembic's order, in parallel.
//! - [`read_step_sql`] reads one step's SQL afresh for running it (the
//!   parse cache behind [`load`] serves graph commands only).
//! - [`write_revision`] writes a new revision file, never overwriting.
//! - [`init_project`] creates `mergepoint.yaml` and an empty `revisions/`.
//!
//! # Alembic compatibility (static reading)
//!
//! Same as Alembic: which files are revisions (`*.py`, not `__init__*`, not
//! `.#*`, nothing in `__pycache__`), the order (file names sorted per
//! directory, `version_locations` in configured order, subdirectories
//! top-down and sorted with `recursive_version_locations`), `%(here)s` and
//! `path_separator`/legacy splitting of `version_locations`, the legacy
//! `<hex>.py` id, the message (`Script.longdoc`, the stripped docstring;
//! one-line output shows `Script.doc`, up to its first blank line), the file
//! name (`file_template`, `truncate_slug_length`, slug rules), and the
//! layout of written files (Alembic's default `script.py.mako`; the CLI
//! renders a project's own through its Python, `alembic_import::template`).
//!
//! Also read: `[tool.alembic]` in `pyproject.toml` (the ini's keys first, as
//! Alembic), Flask-Migrate's `migrations/alembic.ini` without
//! `script_location` (its own directory is the script directory, and a
//! Flask application's root finds `migrations/`), and `package:dir`
//! locations whose package sits under `prepend_sys_path`.
//!
//! Differs: relative `script_location`/`version_locations` are taken from
//! the directory of the file naming them (Alembic: the current directory); `Create Date`
//! and the date fields of `file_template` are UTC (`Create Date` ends in
//! `+00:00`), as with Alembic's `timezone = UTC`; values must be literals
//! (None, strings, tuples or lists of strings), so computed ones are
//! reported with their line; files must be UTF-8 (or declare Latin-1);
//! docstrings are not dedented (Python 3.13 dedents them, which only
//! matters for indented multi-line messages).
//!
//! Not supported: packages found only by importing them (site-packages,
//! editable installs: refused with a hint), `sourceless` (`.pyc` only),
//! other `timezone`s, `\N{...}` escapes in headers.

mod alembic;
mod cache;
mod dirfile;
mod error;
mod ini;
mod load;
pub(crate) mod native;
mod pyproject;
mod step;

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use alembic::alembic_body;
pub use alembic::{alembic_doc, parse_alembic, render_alembic};
pub(crate) use cache::build_id;
pub use cache::{CacheConfig, CacheReport};
pub use error::LoadError;
#[doc(hidden)]
pub use native::fast_path_agrees;
pub use native::{parse_native, render_native};

pub use crate::config::Format;
use crate::config::{Config, CONFIG_FILE, CONFIG_TEMPLATE};
use crate::graph::Revision;
pub use load::{load, load_with};
pub use step::{read_native_body, read_step_sql, StepRead};

/// A located project: where its revision files are and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project root (where `mergepoint.yaml` or `alembic.ini` is, or the
    /// directory given when there is neither).
    pub root: PathBuf,
    /// Directories holding revision files, in configured order. New
    /// revisions go into the first.
    pub revisions_dirs: Vec<PathBuf>,
    pub format: Format,
    /// `mergepoint.yaml`'s contents (the default when there is none).
    pub config: Config,
    /// Alembic's `recursive_version_locations`: also read subdirectories.
    pub recursive: bool,
    /// Alembic's `file_template` for new files (None: `%(rev)s_%(slug)s`),
    /// with `%%` already unescaped. Native projects always use `<id>_<slug>`.
    pub file_template: Option<String>,
    /// The Alembic configuration file that set `file_template` (else the
    /// project's `alembic.ini` or `pyproject.toml`), named when it gives a
    /// file name that cannot be used.
    pub alembic_config: Option<PathBuf>,
    /// Alembic's `truncate_slug_length` (None: 40).
    pub truncate_slug_length: Option<usize>,
    /// For an Alembic project: where its settings and scripts are.
    pub alembic: Option<AlembicLayout>,
}

/// Where an Alembic project's settings and scripts are, as Alembic (or
/// `flask db`) finds them: what a Python process needs to build Alembic's
/// own `Config` and `ScriptDirectory` for the project (`Config(ini,
/// toml_file=pyproject)`, and `script_location` set to `script_dir` where
/// neither file sets it, as Flask-Migrate does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlembicLayout {
    /// `alembic.ini`, if the project has one.
    pub ini: Option<PathBuf>,
    /// `pyproject.toml` with a `[tool.alembic]` table, if there is one.
    pub pyproject: Option<PathBuf>,
    /// The script directory (`env.py`, `script.py.mako`): `script_location`
    /// resolved (a `package:dir` too), the ini's own directory for
    /// Flask-Migrate, or the directory given that holds `versions/`.
    pub script_dir: PathBuf,
}

/// What Alembic's own code is given to load an Alembic project: its
/// settings files and script directory as located ([`AlembicLayout`]),
/// else `alembic.ini` at the root (if there is one) and the parent of the
/// first revisions directory. Absolute paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlembicSettings {
    pub ini: Option<PathBuf>,
    pub pyproject: Option<PathBuf>,
    pub script_dir: PathBuf,
}

impl Project {
    pub fn alembic_settings(&self) -> AlembicSettings {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let root = abs(&self.root);
        match &self.alembic {
            Some(l) => AlembicSettings {
                ini: l.ini.as_deref().map(abs),
                pyproject: l.pyproject.as_deref().map(abs),
                script_dir: abs(&l.script_dir),
            },
            None => AlembicSettings {
                ini: Some(root.join(ALEMBIC_INI)).filter(|p| p.is_file()),
                pyproject: None,
                script_dir: self
                    .revisions_dirs
                    .first()
                    .map(|d| abs(d))
                    .and_then(|d| d.parent().map(Path::to_path_buf))
                    .unwrap_or_else(|| root.clone()),
            },
        }
    }
}

/// Everything read from a project's revision files.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Revisions in load order; `origin` is the file path.
    pub revisions: Vec<Revision>,
    /// `bodies[i]` belongs to `revisions[i]`.
    pub bodies: Vec<Body>,
    /// Files that could not be read, in load order.
    pub problems: Vec<LoadError>,
    /// How the parse cache served this load.
    pub cache: CacheReport,
}

/// What a revision does, beyond its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    Native(NativeBody),
    /// The Python `upgrade()`/`downgrade()` functions, which we never run.
    Alembic,
}

/// The body of a native revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NativeBody {
    /// RFC 3339 timestamp, as written in the file.
    pub created: Option<String>,
    /// Run in one transaction with the version-table update (default true).
    pub transactional: bool,
    pub upgrade: String,
    pub downgrade: String,
    /// PostgreSQL `lock_timeout` for this revision's SQL (e.g. `5s`); None:
    /// the run's or the project's.
    pub lock_timeout: Option<String>,
    /// PostgreSQL `statement_timeout` for this revision's SQL.
    pub statement_timeout: Option<String>,
}

/// A revision to be written by [`write_revision`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRevision {
    pub id: String,
    pub parents: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub message: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub transactional: bool,
    pub upgrade: String,
    pub downgrade: String,
}

const ALEMBIC_INI: &str = "alembic.ini";

/// Flask-Migrate's default migrations directory (`Migrate(directory=...)`).
const FLASK_MIGRATE_DIR: &str = "migrations";

/// The longest revision id, in characters: Alembic's version table stores
/// ids in `version_num varchar(32)`, so a longer one could be applied but
/// never recorded. Refused when a revision is read or written.
pub const MAX_REVISION_ID_CHARS: usize = 32;

impl Project {
    /// Finds the project at `dir` (None: the current directory).
    ///
    /// `dir` may be a project root (with `mergepoint.yaml` or `alembic.ini`),
    /// a native revisions directory (YAML revision files, or the revisions
    /// directory named by the parent's `mergepoint.yaml`), an Alembic script
    /// directory (with `versions/`), or a bare Alembic versions directory.
    pub fn locate(dir: Option<&Path>) -> Result<Project, LoadError> {
        let dir = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(LoadError::NoProject {
                    dir,
                    looked_for: "a directory, but this is a file".to_string(),
                    hint: None,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LoadError::NoProject {
                    dir,
                    looked_for: "a directory, but nothing exists at this path".to_string(),
                    hint: None,
                })
            }
            Err(e) => return Err(LoadError::io(&dir, "open the directory", &e)),
        }
        let cfg_path = dir.join(CONFIG_FILE);
        if cfg_path.is_file() {
            let config = Config::load(&cfg_path)?;
            return Project::from_config(dir, config, &cfg_path);
        }
        if let Some(files) = AlembicFiles::of(&dir)? {
            return Project::from_alembic(dir, Config::default(), files);
        }
        // The root of a Flask application, where `flask db` runs: its
        // Alembic project is `migrations/` (Flask-Migrate's default
        // directory), whose alembic.ini has no script_location.
        if let Some(files) = AlembicFiles::flask(&dir) {
            return Project::from_alembic(dir.join(FLASK_MIGRATE_DIR), Config::default(), files);
        }
        // The revisions directory of a project one level up.
        if let Some(parent) = dir.parent().filter(|p| p.join(CONFIG_FILE).is_file()) {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            let p = Project::locate(Some(parent))?;
            let me = fs::canonicalize(&dir).ok();
            if p.revisions_dirs
                .iter()
                .any(|d| fs::canonicalize(d).ok() == me)
            {
                return Ok(p);
            }
        }
        // An Alembic script or versions directory below its alembic.ini:
        // use the ini, so that every version location is found.
        if let Some(p) = enclosing_alembic_project(&dir) {
            return Ok(p);
        }
        Project::bare(dir)
    }

    /// A directory with no configuration: an Alembic script directory (with
    /// `versions/`), or a directory of revision files, by what it holds.
    fn bare(dir: PathBuf) -> Result<Project, LoadError> {
        if dir.join("versions").is_dir() {
            return Ok(Project {
                revisions_dirs: vec![dir.join("versions")],
                alembic: Some(AlembicLayout {
                    ini: None,
                    pyproject: None,
                    script_dir: dir.clone(),
                }),
                root: dir,
                format: Format::Alembic,
                config: Config::default(),
                recursive: false,
                file_template: None,
                alembic_config: None,
                truncate_slug_length: None,
            });
        }
        let (has_yaml, has_py) = sniff(&dir);
        let format = if has_yaml {
            Format::Native
        } else if has_py || dir.file_name().is_some_and(|n| n == "versions") {
            Format::Alembic
        } else {
            return Err(LoadError::NoProject {
                hint: nested_alembic_hint(&dir),
                looked_for: format!(
                    "{CONFIG_FILE}, {ALEMBIC_INI}, a versions/ directory, YAML revision files (with an `id:` line) or Alembic *.py revision files (with `revision = ...`)"
                ),
                dir,
            });
        };
        Ok(Project {
            revisions_dirs: vec![dir.clone()],
            root: dir,
            format,
            config: Config::default(),
            recursive: false,
            file_template: None,
            alembic_config: None,
            truncate_slug_length: None,
            alembic: None,
        })
    }

    fn from_config(root: PathBuf, config: Config, cfg_path: &Path) -> Result<Project, LoadError> {
        let mut alembic = AlembicFiles::of(&root)?;
        // A mergepoint.yaml in a Flask application's root (for its database
        // URL, say) keeps the application's migrations/ project, unless it
        // says otherwise or a native revisions/ is there too.
        if alembic.is_none()
            && config.revisions.is_none()
            && match config.format {
                Some(f) => f == Format::Alembic,
                None => !root.join("revisions").is_dir(),
            }
        {
            alembic = AlembicFiles::flask(&root);
        }
        let format = config.format.unwrap_or(if alembic.is_some() {
            Format::Alembic
        } else {
            Format::Native
        });
        if let Some(r) = &config.revisions {
            return Ok(Project {
                revisions_dirs: vec![root.join(r)],
                root,
                format,
                config,
                recursive: false,
                file_template: None,
                alembic_config: None,
                truncate_slug_length: None,
                alembic: None,
            });
        }
        match format {
            Format::Native => Ok(Project {
                revisions_dirs: vec![root.join("revisions")],
                root,
                format,
                config,
                recursive: false,
                file_template: None,
                alembic_config: None,
                truncate_slug_length: None,
                alembic: None,
            }),
            Format::Alembic if alembic.is_some() => {
                Project::from_alembic(root, config, alembic.unwrap_or_default())
            }
            Format::Alembic if root.join("versions").is_dir() => Ok(Project {
                revisions_dirs: vec![root.join("versions")],
                alembic: Some(AlembicLayout {
                    ini: None,
                    pyproject: None,
                    script_dir: root.clone(),
                }),
                root,
                format,
                config,
                recursive: false,
                file_template: None,
                alembic_config: None,
                truncate_slug_length: None,
            }),
            Format::Alembic => Err(LoadError::Config {
                path: cfg_path.to_path_buf(),
                line: None,
                message: format!(
                    "format is alembic but there is no {ALEMBIC_INI}, no [tool.alembic] in pyproject.toml and no versions/ here; set `revisions:` to the Alembic versions directory{}",
                    match versions_below(&root) {
                        Some(v) => format!(" (here: `revisions: {v}`)"),
                        None => String::new(),
                    }
                ),
            }),
        }
    }

    fn from_alembic(
        root: PathBuf,
        config: Config,
        files: AlembicFiles,
    ) -> Result<Project, LoadError> {
        let ini = ini::read_alembic(files.ini.as_deref(), files.toml.as_ref())?;
        Ok(Project {
            root,
            revisions_dirs: ini.version_dirs,
            format: Format::Alembic,
            config,
            recursive: ini.recursive,
            alembic_config: ini
                .file_template
                .as_ref()
                .map(|(_, from)| from.clone())
                .or(ini.config_file),
            file_template: ini.file_template.map(|(t, _)| t),
            truncate_slug_length: ini.truncate_slug_length,
            alembic: Some(AlembicLayout {
                ini: files.ini,
                pyproject: files.toml.map(|t| t.path().to_path_buf()),
                script_dir: ini.script_dir,
            }),
        })
    }
}

/// An Alembic project's configuration files in one directory: `alembic.ini`
/// and `[tool.alembic]` in `pyproject.toml` (Alembic reads both, the ini
/// first, key by key). The TOML is parsed here, once.
#[derive(Default)]
struct AlembicFiles {
    ini: Option<PathBuf>,
    toml: Option<pyproject::TomlAlembic>,
}

impl AlembicFiles {
    /// None when `dir` has neither.
    fn of(dir: &Path) -> Result<Option<AlembicFiles>, LoadError> {
        let ini = Some(dir.join(ALEMBIC_INI)).filter(|p| p.is_file());
        let toml = pyproject::TomlAlembic::read(dir)?;
        Ok((ini.is_some() || toml.is_some()).then_some(AlembicFiles { ini, toml }))
    }

    /// Flask-Migrate's `migrations/alembic.ini` below a Flask application's
    /// root `dir`, if there is one.
    fn flask(dir: &Path) -> Option<AlembicFiles> {
        let ini = dir.join(FLASK_MIGRATE_DIR).join(ALEMBIC_INI);
        ini.is_file().then_some(AlembicFiles {
            ini: Some(ini),
            toml: None,
        })
    }
}

/// `<sub>/versions` for the first subdirectory of `root` (in sorted order)
/// that holds an Alembic `versions/` directory, as Flask-Migrate's
/// `migrations/` does.
fn versions_below(root: &Path) -> Option<String> {
    let mut subs: Vec<String> = fs::read_dir(root)
        .ok()?
        .flatten()
        .filter(|e| e.path().join("versions").is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    subs.sort();
    subs.first().map(|s| format!("{s}/versions"))
}

/// For a directory whose Alembic project sits in a subdirectory (Flask-Migrate
/// keeps `migrations/alembic.ini`): the --dir that finds it. `mergepoint
/// init` would start a second, native project there instead.
fn nested_alembic_hint(dir: &Path) -> Option<String> {
    let mut found: Vec<String> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().join(ALEMBIC_INI).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    found.sort();
    let sub = found.first()?;
    Some(format!(
        "{sub}/{ALEMBIC_INI} is an Alembic project (the Flask-Migrate layout): pass --dir {}",
        dir.join(sub).display()
    ))
}

/// The Alembic project one or two levels up whose script directory or
/// version locations include `dir`, if any.
fn enclosing_alembic_project(dir: &Path) -> Option<Project> {
    let me = fs::canonicalize(dir).ok()?;
    let mut up = me.parent();
    for _ in 0..2 {
        let root = up?;
        if let Some(files) = AlembicFiles::of(root).ok()? {
            let p = Project::from_alembic(root.to_path_buf(), Config::default(), files).ok()?;
            let hit = p.revisions_dirs.iter().any(|d| {
                let d = fs::canonicalize(d).ok();
                d.as_deref() == Some(&me) || d.as_deref().and_then(Path::parent) == Some(&me)
            });
            return hit.then_some(p);
        }
        up = root.parent();
    }
    None
}

/// Does `dir` hold native revision files / Alembic revision files?
fn sniff(dir: &Path) -> (bool, bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (false, false);
    };
    let (mut yaml, mut py) = (false, false);
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let native = is_native_file(name);
        let alembic = is_alembic_file(name);
        if (!native || yaml) && (!alembic || py) {
            continue;
        }
        // Only regular files are read (a FIFO would block the open); the
        // loader reports anything else named like a revision.
        if !fs::metadata(e.path()).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(text) = fs::read_to_string(e.path()) else {
            continue;
        };
        if native && text.lines().any(|l| l.starts_with("id:")) {
            yaml = true;
        }
        if alembic
            && text.lines().any(|l| {
                l.strip_prefix("revision")
                    .is_some_and(|r| r.trim_start().starts_with(['=', ':']))
            })
        {
            py = true;
        }
        if yaml {
            break;
        }
    }
    (yaml, py)
}

/// A native revision file name: `*.yaml` or `*.yml`, not hidden (which
/// also skips editor lock files such as `.#x.yaml`).
fn is_native_file(name: &str) -> bool {
    !name.starts_with('.')
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
        && name != CONFIG_FILE
}

/// Alembic's `_only_source_rev_file`: `(?!\.\#|__init__)(.*\.py)$`.
fn is_alembic_file(name: &str) -> bool {
    !name.starts_with(".#")
        && !name.starts_with("__init__")
        && name.ends_with(".py")
        && !name.contains('\n')
}

/// A new revision id: the last 12 hex digits of a random (v4) UUID, as
/// Alembic's `uuid.uuid4().hex[-12:]`.
pub fn new_revision_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    hex[hex.len() - 12..].to_string()
}

/// Alembic's file-name slug of a message (`\w+` runs joined by `_`, lower
/// case, at most 40 characters cut at a word boundary).
pub fn slug(message: &str) -> String {
    alembic::slug(message)
}

/// Writes `rev` as a new file in the project's format into the first
/// revisions directory (created if missing). Never overwrites a file.
pub fn write_revision(project: &Project, rev: &NewRevision) -> Result<PathBuf, LoadError> {
    let text = match project.format {
        Format::Native => {
            let r = Revision {
                id: rev.id.clone(),
                parents: rev.parents.clone(),
                depends_on: rev.depends_on.clone(),
                branch_labels: rev.branch_labels.clone(),
                message: rev.message.clone(),
                origin: String::new(),
            };
            let body = NativeBody {
                created: Some(
                    rev.created
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                transactional: rev.transactional,
                upgrade: rev.upgrade.clone(),
                downgrade: rev.downgrade.clone(),
                lock_timeout: None,
                statement_timeout: None,
            };
            render_native(&r, &body)
        }
        Format::Alembic => render_alembic(rev),
    };
    let path = new_revision_path(project, rev)?;
    write_new(&path, &text, " (pick another id or message)")?;
    Ok(path)
}

/// Creates the (empty) file a new revision `rev` of `project` goes in,
/// named as `write_revision` names it, and returns its path; refuses an id
/// that cannot be a file name and a file that exists. For a writer that
/// fills the file itself (an Alembic project's own `script.py.mako`).
pub fn reserve_revision_file(project: &Project, rev: &NewRevision) -> Result<PathBuf, LoadError> {
    let path = new_revision_path(project, rev)?;
    write_new(&path, "", " (pick another id or message)")?;
    Ok(path)
}

/// Where a new revision `rev` of `project` goes (its directory created):
/// the first revisions directory, the file named by the project's rules;
/// refuses an id that cannot be a file name.
fn new_revision_path(project: &Project, rev: &NewRevision) -> Result<PathBuf, LoadError> {
    let dir = project
        .revisions_dirs
        .first()
        .cloned()
        .unwrap_or_else(|| project.root.join("revisions"));
    if let Some(reason) = crate::graph::id_problem(&rev.id).or_else(|| {
        rev.id
            .contains(['/', '\\', '.'])
            .then(|| "it contains a path character".to_string())
    }) {
        return Err(LoadError::NotARevision {
            path: dir.clone(),
            reason: format!("cannot write revision id '{}': {reason}", rev.id),
        });
    }
    LoadError::check_id_length(&dir, None, &rev.id)?;
    let ext = match project.format {
        Format::Native => "yaml",
        Format::Alembic => "py",
    };
    let config_file = || {
        project
            .alembic_config
            .clone()
            .unwrap_or_else(|| project.root.join(ALEMBIC_INI))
    };
    let name = match (project.format, &project.file_template) {
        (Format::Alembic, Some(t)) => {
            let slug = alembic::slug_with(&rev.message, project.truncate_slug_length.unwrap_or(40));
            alembic::file_name(t, &rev.id, &slug, &rev.created).map_err(|m| LoadError::Config {
                path: config_file(),
                line: None,
                message: format!("file_template: {m}"),
            })?
        }
        (Format::Alembic, None) => format!(
            "{}_{}",
            rev.id,
            alembic::slug_with(&rev.message, project.truncate_slug_length.unwrap_or(40))
        ),
        (Format::Native, _) => format!("{}_{}", rev.id, slug(&rev.message)),
    };
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(LoadError::Config {
            path: config_file(),
            line: None,
            message: format!(
                "file_template gives the file name '{name}', which is not a plain file name"
            ),
        });
    }
    fs::create_dir_all(&dir).map_err(|e| LoadError::io(&dir, "create the directory", &e))?;
    Ok(dir.join(format!("{name}.{ext}")))
}

/// Writes `text` into a file [`reserve_revision_file`] made; removes the
/// file if that fails.
pub fn fill_reserved(path: &Path, text: &str) -> Result<(), LoadError> {
    use std::io::Write;
    let written = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    written.map_err(|e| {
        let _ = fs::remove_file(path);
        LoadError::io(path, "write", &e)
    })
}

fn write_new(path: &Path, text: &str, hint: &str) -> Result<(), LoadError> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                LoadError::Exists {
                    path: path.to_path_buf(),
                    hint: hint.to_string(),
                }
            } else {
                LoadError::io(path, "create", &e)
            }
        })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| LoadError::io(path, "write", &e))
}

/// Creates `mergepoint.yaml` (commented, every key documented) and an
/// empty `revisions/` directory at `root`. Refuses if `mergepoint.yaml`
/// already exists. Next to an `alembic.ini` the project is an Alembic one
/// and no `revisions/` is made.
pub fn init_project(root: &Path) -> Result<Project, LoadError> {
    fs::create_dir_all(root).map_err(|e| LoadError::io(root, "create the directory", &e))?;
    let cfg = root.join(CONFIG_FILE);
    write_new(
        &cfg,
        CONFIG_TEMPLATE,
        "; this directory is already a mergepoint project",
    )?;
    let project = Project::locate(Some(root))?;
    // An Alembic project keeps its versions directories; a native one gets
    // its empty revisions directory.
    if project.format == Format::Native {
        for dir in &project.revisions_dirs {
            fs::create_dir_all(dir).map_err(|e| LoadError::io(dir, "create the directory", &e))?;
        }
    }
    Ok(project)
}
