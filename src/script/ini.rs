//! Just enough of Python's `configparser` to read `alembic.ini` as Alembic
//! does: sections, `key = value` / `key: value`, indented continuation
//! lines, full-line `#`/`;` comments, case-insensitive keys, and
//! `%(name)s` interpolation with `here` set to the file's directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::pyproject::{TomlAlembic, PYPROJECT};
use super::LoadError;

const ALEMBIC_INI_NAME: &str = "alembic.ini";

/// One section: key (lower case) -> (raw value, line).
type Section = HashMap<String, (String, usize)>;

pub(crate) struct Ini {
    path: PathBuf,
    sections: HashMap<String, Section>,
    defaults: Section,
}

impl Ini {
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Ini, LoadError> {
        let err = |line: usize, message: String| LoadError::Config {
            path: path.to_path_buf(),
            line: Some(line),
            message,
        };
        let mut sections: HashMap<String, Section> = HashMap::new();
        let mut defaults = Section::new();
        let mut current: Option<String> = None;
        // The key whose value may continue on indented lines.
        let mut last_key: Option<String> = None;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let trimmed = raw.trim();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if trimmed.is_empty() {
                // configparser keeps blank lines inside multi-line values
                // but strips them at the end; we join non-blank lines only.
                continue;
            }
            let indented = raw.starts_with([' ', '\t']);
            if indented {
                if let Some(k) = &last_key {
                    let sect = match &current {
                        Some(s) if s != "DEFAULT" => sections.get_mut(s),
                        _ => Some(&mut defaults),
                    };
                    if let Some((v, _)) = sect.and_then(|s| s.get_mut(k)) {
                        v.push('\n');
                        v.push_str(trimmed);
                        continue;
                    }
                }
            }
            if trimmed.starts_with('[') {
                let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.split(']').next()) else {
                    return Err(err(lineno, format!("malformed section header '{trimmed}'")));
                };
                if !trimmed.contains(']') {
                    return Err(err(
                        lineno,
                        format!("malformed section header '{trimmed}'; close it with ']'"),
                    ));
                }
                let name = name.to_string();
                if name != "DEFAULT" {
                    sections.entry(name.clone()).or_default();
                }
                current = Some(name);
                last_key = None;
                continue;
            }
            let Some(cut) = raw.find(['=', ':']) else {
                return Err(err(
                    lineno,
                    format!(
                        "'{trimmed}' is neither a [section], a `key = value` line nor a comment"
                    ),
                ));
            };
            let key = raw[..cut].trim().to_lowercase();
            let value = raw[cut + 1..].trim().to_string();
            let Some(sect_name) = &current else {
                return Err(err(
                    lineno,
                    "a `key = value` line before any [section] header".to_string(),
                ));
            };
            let sect = if sect_name == "DEFAULT" {
                &mut defaults
            } else {
                sections.entry(sect_name.clone()).or_default()
            };
            sect.insert(key.clone(), (value, lineno));
            last_key = Some(key);
        }
        Ok(Ini {
            path: path.to_path_buf(),
            sections,
            defaults,
        })
    }

    pub(crate) fn has_section(&self, name: &str) -> bool {
        self.sections.contains_key(name)
    }

    /// The interpolated value of `key` in `section` (or DEFAULT), with `here`
    /// and any extra variables available, and the line it came from.
    pub(crate) fn get(
        &self,
        section: &str,
        key: &str,
        vars: &HashMap<String, String>,
    ) -> Result<Option<(String, usize)>, LoadError> {
        let sect = self.sections.get(section);
        let lookup = |k: &str| -> Option<String> {
            sect.and_then(|s| s.get(k))
                .or_else(|| self.defaults.get(k))
                .map(|(v, _)| v.clone())
                .or_else(|| vars.get(k).cloned())
        };
        let Some((raw, line)) = sect
            .and_then(|s| s.get(key))
            .or_else(|| self.defaults.get(key))
        else {
            return Ok(None);
        };
        let value = interpolate(raw, &lookup, 0).map_err(|m| LoadError::Config {
            path: self.path.clone(),
            line: Some(*line),
            message: format!("{key}: {m}"),
        })?;
        Ok(Some((value, *line)))
    }
}

fn interpolate(
    raw: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > 10 {
        return Err("interpolation nests too deeply (a %(name)s refers to itself?)".to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let Some(close) = r.find(")s") else {
                return Err(
                    "bad interpolation syntax: write %(name)s, or %% for a literal %".to_string(),
                );
            };
            let name = r[..close].to_lowercase();
            let Some(v) = lookup(&name) else {
                return Err(format!("%({name})s refers to '{name}', which is not set"));
            };
            out.push_str(&interpolate(&v, lookup, depth + 1)?);
            rest = &r[close + 2..];
        } else {
            return Err("'%' must be followed by '%' or '(name)s'".to_string());
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The settings of an Alembic project that decide where its revision files
/// are.
pub(crate) struct AlembicIni {
    pub version_dirs: Vec<PathBuf>,
    pub recursive: bool,
    /// With the file that set it.
    pub file_template: Option<(String, PathBuf)>,
    pub truncate_slug_length: Option<usize>,
    /// The file that set `file_template`, else the ini, else the TOML.
    pub config_file: Option<PathBuf>,
    /// `script_location` resolved (or the ini's own directory, as
    /// Flask-Migrate has it).
    pub script_dir: PathBuf,
}

/// Where a setting was read: the file and, when known, the line.
#[derive(Clone)]
struct Origin {
    path: PathBuf,
    line: Option<usize>,
}

impl Origin {
    fn err(&self, message: String) -> LoadError {
        LoadError::Config {
            path: self.path.clone(),
            line: self.line,
            message,
        }
    }

    /// The directory relative locations are taken from.
    fn dir(&self) -> PathBuf {
        let abs = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        abs.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Reads the Alembic configuration of one directory the way Alembic's
/// `Config` and `ScriptDirectory.from_config` do: `alembic.ini` at
/// `ini_path` and/or `[tool.alembic]` of the `pyproject.toml` beside it, a
/// key taken from the ini when it has it, else from the TOML. Relative paths
/// are taken from the directory of the file that names them (Alembic takes
/// them from the current directory, which is usually the same).
///
/// Where neither file sets `script_location` and the ini's own directory
/// holds `env.py` or `versions/`, that directory is the script directory:
/// Flask-Migrate's `migrations/alembic.ini` has no `script_location`
/// because `flask db` sets it to that directory.
///
/// Every revisions location must exist: a `script_location` or
/// `version_locations` entry naming a missing directory is an error naming
/// it (Alembic: "Path doesn't exist"), never an empty project.
pub(crate) fn read_alembic(
    ini_path: Option<&Path>,
    toml: Option<&TomlAlembic>,
) -> Result<AlembicIni, LoadError> {
    let ini = match ini_path {
        Some(path) => Some(read_ini_file(path)?),
        None => None,
    };
    let ini_cx = match (ini_path, &ini) {
        (Some(path), Some((ini, vars, here_dir))) => Some(IniCx {
            path,
            ini,
            vars,
            here_dir,
        }),
        _ => None,
    };
    let cx = Settings {
        ini: ini_cx.as_ref(),
        toml,
    };
    let script_dir = match cx.string("script_location")? {
        Some((location, at)) => {
            let dir = cx.resolve(&location, &at, "script_location")?;
            if !dir.is_dir() {
                return Err(at.err(format!(
                    "script_location: Path doesn't exist: {}; fix it, for this layout: {}",
                    dir.display(),
                    script_location_hint(&at.dir(), at.path.ends_with(PYPROJECT))
                )));
            }
            dir
        }
        None => cx.no_script_location()?,
    };
    let mut version_dirs = Vec::new();
    if let Some((items, at)) = cx.version_locations()? {
        for item in items {
            let dir = cx.resolve(&item, &at, "version_locations")?;
            if !dir.is_dir() {
                return Err(at.err(format!(
                    "version_locations: Path doesn't exist: {}; create the directory or remove it from version_locations",
                    dir.display()
                )));
            }
            version_dirs.push(dir);
        }
    }
    if version_dirs.is_empty() {
        let versions = script_dir.join("versions");
        if !versions.is_dir() {
            let at = cx
                .string("script_location")?
                .map(|(_, at)| at)
                .unwrap_or_else(|| cx.main_file());
            return Err(at.err(format!(
                "the script directory {} has no versions/ directory (Alembic's default version location); create it (`alembic init` does) or set version_locations",
                script_dir.display()
            )));
        }
        version_dirs.push(versions);
    }
    Ok(AlembicIni {
        version_dirs,
        recursive: cx.boolean("recursive_version_locations")?,
        file_template: cx.string("file_template")?.map(|(v, at)| (v, at.path)),
        truncate_slug_length: cx.whole_number("truncate_slug_length")?,
        config_file: ini_path
            .map(Path::to_path_buf)
            .or_else(|| toml.map(|t| t.path().to_path_buf())),
        script_dir,
    })
}

/// `alembic.ini` read and parsed, with `here` set to its directory.
fn read_ini_file(path: &Path) -> Result<(Ini, HashMap<String, String>, PathBuf), LoadError> {
    // Callers found a regular file here; it is read only if it still is
    // one (a FIFO would block the open).
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Err(LoadError::Io {
            path: path.to_path_buf(),
            action: "read",
            message: "it is not a regular file".to_string(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, "read", &e))?;
    let ini = Ini::parse(path, &text)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let here_dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut vars = HashMap::new();
    vars.insert(
        "here".to_string(),
        here_dir.to_string_lossy().replace('\\', "/"),
    );
    Ok((ini, vars, here_dir))
}

/// An `alembic.ini` being read: its `[alembic]` settings, interpolated.
struct IniCx<'a> {
    path: &'a Path,
    ini: &'a Ini,
    vars: &'a HashMap<String, String>,
    here_dir: &'a Path,
}

impl IniCx<'_> {
    fn at(&self, line: Option<usize>) -> Origin {
        Origin {
            path: self.path.to_path_buf(),
            line,
        }
    }

    fn get(&self, key: &str) -> Result<Option<(String, usize)>, LoadError> {
        self.ini.get("alembic", key, self.vars)
    }

    /// A path-list setting of the ini (`version_locations`,
    /// `prepend_sys_path`), split as Alembic splits it: on
    /// `path_separator` (or the older `version_path_separator`; for
    /// `prepend_sys_path` only the newer one), else the legacy way
    /// (`legacy` also splits on ':' for `prepend_sys_path`). None when the
    /// key is unset or empty.
    fn split(
        &self,
        key: &str,
        legacy_colon: bool,
    ) -> Result<Option<(Vec<String>, usize)>, LoadError> {
        let Some((locs, line)) = self.get(key)?.filter(|(v, _)| !v.is_empty()) else {
            return Ok(None);
        };
        let names: &[&str] = if legacy_colon {
            &["path_separator"]
        } else {
            &["path_separator", "version_path_separator"]
        };
        let items: Vec<String> = match self.path_separator(names)? {
            None => split_space_comma(&locs, legacy_colon)
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect(),
            Some(sep) => locs
                .split(sep)
                .filter(|x| !x.is_empty())
                .map(|x| x.trim().to_string())
                .collect(),
        };
        Ok(Some((items, line)))
    }

    /// `path_separator` (or the other `names`, in order), if set.
    fn path_separator(&self, names: &[&str]) -> Result<Option<&'static str>, LoadError> {
        let mut sep = None;
        for name in names {
            sep = self.get(name)?;
            if sep.is_some() {
                break;
            }
        }
        let Some((s, line)) = sep else {
            return Ok(None);
        };
        Ok(Some(match s.as_str() {
            "space" => " ",
            "newline" => "\n",
            "os" if cfg!(windows) => ";",
            "os" | ":" => ":",
            ";" => ";",
            other => {
                return Err(self.at(Some(line)).err(format!(
                    "'{other}' is not a valid path_separator; expected 'space', 'newline', 'os', ':' or ';'"
                )))
            }
        }))
    }
}

/// The settings of one Alembic project: the ini's `[alembic]` first, then
/// `[tool.alembic]`, key by key, as Alembic's `get_alembic_option`.
struct Settings<'a> {
    ini: Option<&'a IniCx<'a>>,
    toml: Option<&'a TomlAlembic>,
}

impl Settings<'_> {
    /// The file a project-wide complaint names: the ini if there is one.
    fn main_file(&self) -> Origin {
        match (self.ini, self.toml) {
            (Some(cx), _) => cx.at(None),
            (None, Some(t)) => Origin {
                path: t.path().to_path_buf(),
                line: None,
            },
            (None, None) => Origin {
                path: PathBuf::from(ALEMBIC_INI_NAME),
                line: None,
            },
        }
    }

    fn string(&self, key: &str) -> Result<Option<(String, Origin)>, LoadError> {
        if let Some(cx) = self.ini {
            if let Some((v, line)) = cx.get(key)? {
                return Ok(Some((v, cx.at(Some(line)))));
            }
        }
        let Some(t) = self.toml else {
            return Ok(None);
        };
        Ok(t.string(key)?.map(|(v, line)| {
            (
                v,
                Origin {
                    path: t.path().to_path_buf(),
                    line,
                },
            )
        }))
    }

    /// A path list: the ini's string, split, when set and not empty, else
    /// the TOML's array (Alembic's `get_version_locations_list`).
    fn list(
        &self,
        key: &str,
        legacy_colon: bool,
    ) -> Result<Option<(Vec<String>, Origin)>, LoadError> {
        if let Some(cx) = self.ini {
            if let Some((items, line)) = cx.split(key, legacy_colon)? {
                return Ok(Some((items, cx.at(Some(line)))));
            }
        }
        let Some(t) = self.toml else {
            return Ok(None);
        };
        Ok(t.list(key)?.map(|(v, line)| {
            (
                v,
                Origin {
                    path: t.path().to_path_buf(),
                    line,
                },
            )
        }))
    }

    fn version_locations(&self) -> Result<Option<(Vec<String>, Origin)>, LoadError> {
        self.list("version_locations", false)
    }

    /// Where neither file sets `script_location`: the Flask-Migrate
    /// layout (the ini's directory is the script directory), else an error
    /// that says what to add, and where.
    fn no_script_location(&self) -> Result<PathBuf, LoadError> {
        if let Some(cx) = self.ini {
            if is_script_dir(cx.here_dir) {
                return Ok(cx.here_dir.to_path_buf());
            }
            let what = if cx.ini.has_section("alembic") {
                "[alembic] has no script_location"
            } else {
                "no [alembic] section with a script_location"
            };
            let toml = match self.toml {
                Some(t) => format!(
                    " (and [tool.alembic] in {} has none either)",
                    t.path().display()
                ),
                None => String::new(),
            };
            return Err(cx.at(None).err(format!(
                "{what}{toml}; add {}",
                script_location_hint(cx.here_dir, false)
            )));
        }
        let at = self.main_file();
        Err(at.err(format!(
            "[tool.alembic] has no script_location; add {}",
            script_location_hint(&at.dir(), true)
        )))
    }

    /// A location as written: absolute, a package resource (`pkg:dir`),
    /// or relative to the directory of the file that names it.
    fn resolve(&self, p: &str, at: &Origin, key: &str) -> Result<PathBuf, LoadError> {
        let pb = PathBuf::from(p);
        if pb.is_absolute() {
            return Ok(pb);
        }
        if p.contains(':') {
            return self.resource(p, at, key);
        }
        Ok(at.dir().join(pb))
    }

    /// `package:dir` as Alembic's `coerce_resource_to_filename` finds it
    /// (`importlib.resources.files(package) / dir`), without running
    /// Python: the package's directory under one of `prepend_sys_path`'s
    /// entries. Installed packages (site-packages) are not searched.
    fn resource(&self, p: &str, at: &Origin, key: &str) -> Result<PathBuf, LoadError> {
        let mut tokens = p.split(':');
        let package = tokens.next().unwrap_or_default();
        let rest: Vec<&str> = tokens.collect();
        let valid = !package.is_empty()
            && package.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !part.starts_with(|c: char| c.is_ascii_digit())
            });
        if !valid {
            return Err(at.err(format!(
                "{key}: '{p}' has a ':' but '{package}' is not a Python package name, so Alembic would read it as a package resource and fail; write the directory's path"
            )));
        }
        let sys_path = match self.list("prepend_sys_path", true)? {
            Some((items, from)) => items
                .iter()
                .map(|i| {
                    let pb = PathBuf::from(i);
                    if pb.is_absolute() {
                        pb
                    } else {
                        from.dir().join(pb)
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        let package_path: PathBuf = package.split('.').collect();
        let Some(base) = sys_path
            .iter()
            .map(|d| d.join(&package_path))
            .find(|d| d.is_dir())
        else {
            let searched = if sys_path.is_empty() {
                "prepend_sys_path is not set".to_string()
            } else {
                format!(
                    "it is in none of prepend_sys_path's directories ({})",
                    sys_path
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(at.err(format!(
                "{key}: '{p}' is a Python package resource, and package '{package}' was not found: {searched}. mergepoint does not import Python, so installed packages are not searched; write the directory's path instead (e.g. %(here)s/{}), or add the directory holding the package to prepend_sys_path",
                package_path.join(rest.iter().collect::<PathBuf>()).display()
            )));
        };
        Ok(rest.iter().fold(base, |d, t| d.join(t)))
    }

    fn boolean(&self, key: &str) -> Result<bool, LoadError> {
        if let Some(cx) = self.ini {
            if let Some((v, line)) = cx.get(key)? {
                return match v.to_lowercase().as_str() {
                    "1" | "yes" | "true" | "on" => Ok(true),
                    "0" | "no" | "false" | "off" => Ok(false),
                    other => Err(cx
                        .at(Some(line))
                        .err(format!("{key}: '{other}' is not a boolean (true/false)"))),
                };
            }
        }
        match self.toml {
            Some(t) => Ok(t.boolean(key)?.unwrap_or(false)),
            None => Ok(false),
        }
    }

    fn whole_number(&self, key: &str) -> Result<Option<usize>, LoadError> {
        let Some((v, at)) = self.string(key)? else {
            return Ok(None);
        };
        v.trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| at.err(format!("{key}: '{v}' is not a whole number")))
    }
}

/// An Alembic script directory: it holds `env.py` or `versions/`.
fn is_script_dir(d: &Path) -> bool {
    d.join("env.py").is_file() || d.join("versions").is_dir()
}

/// What `script_location` should say for the layout around a config file
/// in `here`: the file's own directory when it is the script directory (as
/// in Flask-Migrate's `migrations/alembic.ini`), a subdirectory that holds
/// an Alembic script directory (`env.py` or `versions/`), else `alembic
/// init`. `toml`: written as a TOML string, for `[tool.alembic]`.
pub(crate) fn script_location_hint(here: &Path, toml: bool) -> String {
    let setting = |value: &str| {
        if toml {
            format!("`script_location = \"{value}\"`")
        } else {
            format!("`script_location = {value}`")
        }
    };
    if is_script_dir(here) {
        return format!(
            "{} (this directory holds env.py or versions/)",
            setting("%(here)s")
        );
    }
    let mut subdirs: Vec<String> = std::fs::read_dir(here)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    subdirs.sort();
    // The names Alembic and Flask-Migrate use first, then any other.
    subdirs.sort_by_key(|n| !matches!(n.as_str(), "alembic" | "migrations"));
    match subdirs.iter().find(|n| is_script_dir(&here.join(n))) {
        Some(n) => format!(
            "{} ({n}/ holds the Alembic scripts)",
            setting(&format!("%(here)s/{n}"))
        ),
        None => format!(
            "{} after creating that directory with `alembic init alembic`",
            setting("%(here)s/alembic")
        ),
    }
}

/// Alembic's legacy split of a path list: `, *` or runs of spaces (and,
/// for `prepend_sys_path`, ':').
fn split_space_comma(s: &str, colon: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' || c == ' ' {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            out.push(std::mem::take(&mut cur));
        } else if colon && c == ':' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}
