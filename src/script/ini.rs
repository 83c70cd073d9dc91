//! Just enough of Python's `configparser` to read `alembic.ini` as Alembic
//! does: sections, `key = value` / `key: value`, indented continuation
//! lines, full-line `#`/`;` comments, case-insensitive keys, and
//! `%(name)s` interpolation with `here` set to the file's directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::LoadError;

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
    pub file_template: Option<String>,
    pub truncate_slug_length: Option<usize>,
}

/// Reads `alembic.ini` at `path` the way Alembic's `ScriptDirectory.from_config`
/// does. Relative paths are taken from the directory of the ini file (Alembic
/// takes them from the current directory, which is usually the same).
///
/// Every revisions location must exist: a `script_location` or
/// `version_locations` entry naming a missing directory is an error naming
/// it (Alembic: "Path doesn't exist"), never an empty project.
pub(crate) fn read_alembic_ini(path: &Path) -> Result<AlembicIni, LoadError> {
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
    let cx = IniCx {
        path,
        ini: &ini,
        vars: &vars,
        here_dir: &here_dir,
    };
    if !ini.has_section("alembic") {
        return Err(cx.err(
            None,
            format!(
                "no [alembic] section; add one with {}",
                script_location_hint(&here_dir)
            ),
        ));
    }
    let Some((script_location, sl_line)) = cx.get("script_location")? else {
        return Err(cx.err(
            None,
            format!(
                "[alembic] has no script_location; add {}",
                script_location_hint(&here_dir)
            ),
        ));
    };
    let script_dir = cx.resolve(&script_location, sl_line)?;
    if !script_dir.is_dir() {
        return Err(cx.missing(sl_line, "script_location", &script_dir));
    }
    let mut version_dirs = Vec::new();
    for (dir, line) in cx.version_locations()? {
        if !dir.is_dir() {
            return Err(cx.missing(line, "version_locations", &dir));
        }
        version_dirs.push(dir);
    }
    if version_dirs.is_empty() {
        let versions = script_dir.join("versions");
        if !versions.is_dir() {
            return Err(cx.err(
                Some(sl_line),
                format!(
                    "the script directory {} has no versions/ directory (Alembic's default version location); create it (`alembic init` does) or set version_locations",
                    script_dir.display()
                ),
            ));
        }
        version_dirs.push(versions);
    }
    Ok(AlembicIni {
        version_dirs,
        recursive: cx.boolean("recursive_version_locations")?,
        file_template: cx.get("file_template")?.map(|(v, _)| v),
        truncate_slug_length: cx.whole_number("truncate_slug_length")?,
    })
}

/// An `alembic.ini` being read: its `[alembic]` settings, interpolated.
struct IniCx<'a> {
    path: &'a Path,
    ini: &'a Ini,
    vars: &'a HashMap<String, String>,
    here_dir: &'a Path,
}

impl IniCx<'_> {
    fn err(&self, line: Option<usize>, message: String) -> LoadError {
        LoadError::Config {
            path: self.path.to_path_buf(),
            line,
            message,
        }
    }

    fn get(&self, key: &str) -> Result<Option<(String, usize)>, LoadError> {
        self.ini.get("alembic", key, self.vars)
    }

    /// A configured location that does not exist.
    fn missing(&self, line: usize, key: &str, dir: &Path) -> LoadError {
        let hint = if key == "script_location" {
            format!(
                "; fix it, for this layout: {}",
                script_location_hint(self.here_dir)
            )
        } else {
            "; create the directory or remove it from version_locations".to_string()
        };
        self.err(
            Some(line),
            format!("{key}: Path doesn't exist: {}{hint}", dir.display()),
        )
    }

    /// A location as written in the ini: absolute, or from the ini's
    /// directory.
    fn resolve(&self, p: &str, line: usize) -> Result<PathBuf, LoadError> {
        let pb = PathBuf::from(p);
        if !pb.is_absolute() && p.contains(':') {
            return Err(self.err(
                Some(line),
                format!("'{p}' is a Python package resource, which cannot be found without running Python; use a file system path"),
            ));
        }
        Ok(if pb.is_absolute() {
            pb
        } else {
            self.here_dir.join(pb)
        })
    }

    /// `version_locations`, split as Alembic splits it, each with its line.
    fn version_locations(&self) -> Result<Vec<(PathBuf, usize)>, LoadError> {
        let Some((locs, line)) = self.get("version_locations")? else {
            return Ok(Vec::new());
        };
        let items: Vec<String> = match self.path_separator()? {
            None => split_space_comma(&locs)
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect(),
            Some(sep) => locs
                .split(sep)
                .filter(|x| !x.is_empty())
                .map(|x| x.trim().to_string())
                .collect(),
        };
        items
            .iter()
            .map(|item| Ok((self.resolve(item, line)?, line)))
            .collect()
    }

    /// `path_separator` (or the older `version_path_separator`), if set.
    fn path_separator(&self) -> Result<Option<&'static str>, LoadError> {
        let sep = match self.get("path_separator")? {
            Some(s) => Some(s),
            None => self.get("version_path_separator")?,
        };
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
                return Err(self.err(
                    Some(line),
                    format!("'{other}' is not a valid path_separator; expected 'space', 'newline', 'os', ':' or ';'"),
                ))
            }
        }))
    }

    fn boolean(&self, key: &str) -> Result<bool, LoadError> {
        match self.get(key)? {
            None => Ok(false),
            Some((v, line)) => match v.to_lowercase().as_str() {
                "1" | "yes" | "true" | "on" => Ok(true),
                "0" | "no" | "false" | "off" => Ok(false),
                other => Err(self.err(
                    Some(line),
                    format!("{key}: '{other}' is not a boolean (true/false)"),
                )),
            },
        }
    }

    fn whole_number(&self, key: &str) -> Result<Option<usize>, LoadError> {
        let Some((v, line)) = self.get(key)? else {
            return Ok(None);
        };
        v.trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| self.err(Some(line), format!("{key}: '{v}' is not a whole number")))
    }
}

/// What `script_location` should say for the layout around an ini file in
/// `here`: the ini's own directory when it is the script directory (as in
/// Flask-Migrate's `migrations/alembic.ini`), a subdirectory that holds an
/// Alembic script directory (`env.py` or `versions/`), else `alembic init`.
pub(crate) fn script_location_hint(here: &Path) -> String {
    let is_script_dir = |d: &Path| d.join("env.py").is_file() || d.join("versions").is_dir();
    if is_script_dir(here) {
        return "`script_location = %(here)s` (this directory holds env.py or versions/)"
            .to_string();
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
        Some(n) => format!("`script_location = %(here)s/{n}` ({n}/ holds the Alembic scripts)"),
        None => "`script_location = %(here)s/alembic` after creating that directory with `alembic init alembic`".to_string(),
    }
}

/// Alembic's legacy split of version_locations: `, *` or runs of spaces.
fn split_space_comma(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' || c == ' ' {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}
