//! `[tool.alembic]` in `pyproject.toml` (Alembic 1.16+): the same settings
//! as `alembic.ini`'s `[alembic]` section, as TOML values. Alembic reads
//! both files of the current directory and takes a key from `alembic.ini`
//! when it has it, else from here (`Config.get_alembic_option`); the
//! caller does the same with [`TomlAlembic`] and the ini.
//!
//! String values go through Python's `%` formatting with `here` (the
//! file's directory) as Alembic's do: `%(here)s` is replaced, `%%` is a
//! `%`. Lists (`version_locations`, `prepend_sys_path`) are TOML arrays of
//! such strings; `recursive_version_locations` must be a TOML boolean.

use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, Table};

use super::LoadError;

pub(crate) const PYPROJECT: &str = "pyproject.toml";

/// A setting's value and the line it is on, if known.
type Setting<T> = Option<(T, Option<usize>)>;

/// The `[tool.alembic]` table of one `pyproject.toml`, parsed once.
pub(crate) struct TomlAlembic {
    path: PathBuf,
    text: String,
    here: String,
    doc: Document<String>,
}

impl TomlAlembic {
    /// Reads `dir/pyproject.toml`. None when there is no such regular
    /// file, or it has no `[tool.alembic]` table (then it is not Alembic's
    /// business, and its TOML is not ours to judge unless it mentions
    /// Alembic at all).
    pub(crate) fn read(dir: &Path) -> Result<Option<TomlAlembic>, LoadError> {
        let path = dir.join(PYPROJECT);
        // Only a regular file is read (a FIFO would block the open).
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| LoadError::io(&path, "read", &e))?;
        if !text.contains("alembic") {
            return Ok(None);
        }
        let doc = match Document::parse(text.clone()) {
            Ok(doc) => doc,
            Err(e) => {
                return Err(LoadError::Config {
                    line: e.span().map(|s| line_of(&text, s.start)),
                    path,
                    message: format!(
                    "not valid TOML ({}); Alembic reads [tool.alembic] from this file, so fix it",
                    e.message().trim_end()
                ),
                })
            }
        };
        let has_table = doc
            .as_table()
            .get("tool")
            .and_then(|t| t.get("alembic"))
            .is_some();
        if !has_table {
            return Ok(None);
        }
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let here = abs
            .parent()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let me = TomlAlembic {
            path,
            text,
            here,
            doc,
        };
        if me.table().is_none() {
            return Err(me.err(
                me.doc.as_table().get("tool").and_then(|t| t.get("alembic")),
                "tool.alembic must be a table ([tool.alembic] with `key = value` lines)"
                    .to_string(),
            ));
        }
        Ok(Some(me))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn table(&self) -> Option<&Table> {
        self.doc.as_table().get("tool")?.get("alembic")?.as_table()
    }

    fn item(&self, key: &str) -> Option<&Item> {
        self.table()?.get(key)
    }

    /// The line of `item` in the file (1-based), if known.
    pub(crate) fn line(&self, item: Option<&Item>) -> Option<usize> {
        item.and_then(Item::span)
            .map(|s| line_of(&self.text, s.start))
    }

    fn err(&self, item: Option<&Item>, message: String) -> LoadError {
        LoadError::Config {
            path: self.path.clone(),
            line: self.line(item),
            message,
        }
    }

    fn format(&self, key: &str, item: &Item, raw: &str) -> Result<String, LoadError> {
        percent_format(raw, &self.here)
            .map_err(|m| self.err(Some(item), format!("tool.alembic.{key}: {m}")))
    }

    /// A string setting, formatted; integers are given as their digits
    /// (Alembic accepts `truncate_slug_length = 40`). With its line.
    pub(crate) fn string(&self, key: &str) -> Result<Setting<String>, LoadError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        let line = self.line(Some(item));
        if let Some(s) = item.as_str() {
            return Ok(Some((self.format(key, item, s)?, line)));
        }
        if let Some(i) = item.as_integer() {
            return Ok(Some((i.to_string(), line)));
        }
        Err(self.err(
            Some(item),
            format!(
                "tool.alembic.{key} is {}, expected a string",
                article(item.type_name())
            ),
        ))
    }

    /// A list-of-strings setting, each formatted. A single string is
    /// refused: Alembic would iterate over its characters.
    pub(crate) fn list(&self, key: &str) -> Result<Setting<Vec<String>>, LoadError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        let line = self.line(Some(item));
        let wrong = || {
            self.err(
                Some(item),
                format!(
                    "tool.alembic.{key} is {}, expected a list of strings such as [\"%(here)s/alembic/versions\"]",
                    article(item.type_name())
                ),
            )
        };
        let Some(array) = item.as_array() else {
            return Err(wrong());
        };
        let mut out = Vec::with_capacity(array.len());
        for v in array.iter() {
            let Some(s) = v.as_str() else {
                return Err(wrong());
            };
            out.push(self.format(key, item, s)?);
        }
        Ok(Some((out, line)))
    }

    /// A boolean setting: Alembic requires a TOML boolean here.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, LoadError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        item.as_bool().map(Some).ok_or_else(|| {
            self.err(
                Some(item),
                format!(
                    "tool.alembic.{key} is {}; Alembic requires a boolean here: write true or false, without quotes",
                    article(item.type_name())
                ),
            )
        })
    }
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte)
        .map_or(1, |t| t.bytes().filter(|&b| b == b'\n').count() + 1)
}

/// Python's `value % {"here": here}` for the conversions Alembic's
/// settings use: `%(here)s` and `%%`.
fn percent_format(raw: &str, here: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix("(here)s") {
            out.push_str(here);
            rest = r;
        } else if let Some(name) = after
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .map(|(n, _)| n)
        {
            return Err(format!(
                "%({name}) is not available here: in pyproject.toml Alembic replaces only %(here)s; write %% for a literal %"
            ));
        } else {
            return Err("'%' must be followed by '%' or '(here)s'".to_string());
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_format_is_pythons_for_here_and_percent() {
        assert_eq!(percent_format("%(here)s/a", "/p").unwrap(), "/p/a");
        assert_eq!(
            percent_format("%%(rev)s_%%(slug)s", "/p").unwrap(),
            "%(rev)s_%(slug)s"
        );
        assert!(percent_format("%(year)d", "/p")
            .unwrap_err()
            .contains("%(year)"));
        assert!(percent_format("50%", "/p").is_err());
    }

    #[test]
    fn reads_the_table_and_types() {
        let tmp = tempfile::tempdir().unwrap();
        let text = "[project]\nname = \"x\"\n\n[tool.alembic]\nscript_location = \"%(here)s/alembic\"\nversion_locations = [\"%(here)s/a\", \"b\"]\nrecursive_version_locations = \"true\"\ntruncate_slug_length = 20\n";
        std::fs::write(tmp.path().join(PYPROJECT), text).unwrap();
        let t = TomlAlembic::read(tmp.path()).unwrap().unwrap();
        let here = std::path::absolute(tmp.path()).unwrap();
        let here = here.to_string_lossy();
        assert_eq!(
            t.string("script_location").unwrap().unwrap(),
            (format!("{here}/alembic"), Some(5))
        );
        assert_eq!(
            t.list("version_locations").unwrap().unwrap().0,
            vec![format!("{here}/a"), "b".to_string()]
        );
        assert_eq!(t.string("truncate_slug_length").unwrap().unwrap().0, "20");
        let e = t.boolean("recursive_version_locations").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("pyproject.toml:7:") && m.contains("true or false"),
            "{m}"
        );
        assert!(t.list("script_location").is_err());
        assert_eq!(t.string("file_template").unwrap(), None);
    }

    #[test]
    fn other_pyprojects_are_not_alembics() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join(PYPROJECT);
        std::fs::write(&p, "[project\nname = broken").unwrap();
        assert!(TomlAlembic::read(tmp.path()).unwrap().is_none());
        std::fs::write(&p, "[project]\ndependencies = [\"alembic\"]\n").unwrap();
        assert!(TomlAlembic::read(tmp.path()).unwrap().is_none());
        std::fs::write(&p, "[tool.alembic]\nscript_location = \n").unwrap();
        let e = TomlAlembic::read(tmp.path()).err().unwrap().to_string();
        assert!(
            e.contains("pyproject.toml:2") && e.contains("not valid TOML"),
            "{e}"
        );
    }
}
