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
pub(crate) fn read_alembic_ini(path: &Path) -> Result<AlembicIni, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, "read", &e))?;
    let ini = Ini::parse(path, &text)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let here_dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut vars = HashMap::new();
    vars.insert(
        "here".to_string(),
        here_dir.to_string_lossy().replace('\\', "/"),
    );
    let cfg_err = |line: Option<usize>, message: String| LoadError::Config {
        path: path.to_path_buf(),
        line,
        message,
    };
    if !ini.has_section("alembic") {
        return Err(cfg_err(
            None,
            "no [alembic] section; add one with `script_location = %(here)s/alembic`".to_string(),
        ));
    }
    let Some((script_location, sl_line)) = ini.get("alembic", "script_location", &vars)? else {
        return Err(cfg_err(
            None,
            "[alembic] has no script_location; add `script_location = %(here)s/alembic`"
                .to_string(),
        ));
    };
    let resolve = |p: &str, line: usize| -> Result<PathBuf, LoadError> {
        let pb = PathBuf::from(p);
        if !pb.is_absolute() && p.contains(':') {
            return Err(cfg_err(
                Some(line),
                format!("'{p}' is a Python package resource, which cannot be found without running Python; use a file system path"),
            ));
        }
        Ok(if pb.is_absolute() {
            pb
        } else {
            here_dir.join(pb)
        })
    };
    let script_dir = resolve(&script_location, sl_line)?;
    let mut version_dirs = Vec::new();
    if let Some((locs, line)) = ini.get("alembic", "version_locations", &vars)? {
        if !locs.is_empty() {
            let sep = match ini.get("alembic", "path_separator", &vars)? {
                Some(s) => Some(s),
                None => ini.get("alembic", "version_path_separator", &vars)?,
            };
            let items: Vec<String> = match sep {
                None => split_space_comma(&locs)
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .collect(),
                Some((s, sep_line)) => {
                    let ch = match s.as_str() {
                        "space" => " ",
                        "newline" => "\n",
                        "os" => {
                            if cfg!(windows) {
                                ";"
                            } else {
                                ":"
                            }
                        }
                        ":" => ":",
                        ";" => ";",
                        other => {
                            return Err(cfg_err(
                                Some(sep_line),
                                format!("'{other}' is not a valid path_separator; expected 'space', 'newline', 'os', ':' or ';'"),
                            ))
                        }
                    };
                    locs.split(ch)
                        .filter(|x| !x.is_empty())
                        .map(|x| x.trim().to_string())
                        .collect()
                }
            };
            for item in items {
                version_dirs.push(resolve(&item, line)?);
            }
        }
    }
    if version_dirs.is_empty() {
        version_dirs.push(script_dir.join("versions"));
    }
    let recursive = match ini.get("alembic", "recursive_version_locations", &vars)? {
        None => false,
        Some((v, line)) => match v.to_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => true,
            "0" | "no" | "false" | "off" => false,
            other => {
                return Err(cfg_err(
                    Some(line),
                    format!("recursive_version_locations: '{other}' is not a boolean (true/false)"),
                ))
            }
        },
    };
    let file_template = ini.get("alembic", "file_template", &vars)?.map(|(v, _)| v);
    let truncate_slug_length = match ini.get("alembic", "truncate_slug_length", &vars)? {
        None => None,
        Some((v, line)) => Some(v.trim().parse::<usize>().map_err(|_| {
            cfg_err(
                Some(line),
                format!("truncate_slug_length: '{v}' is not a whole number"),
            )
        })?),
    };
    Ok(AlembicIni {
        version_dirs,
        recursive,
        file_template,
        truncate_slug_length,
    })
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
