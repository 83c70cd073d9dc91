//! The SQL a step runs, read from its revision file at the moment it is
//! needed: never from the parse cache, which serves graph commands only.
//! The runner and the offline renderer call [`read_step_sql`] for each step
//! and record the checksum of exactly what they read.

use std::path::Path;

use super::{parse_native, LoadError, NativeBody};
use crate::graph::{Direction, Revision};

/// One direction of a native revision, as its file says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRead {
    /// The upgrade or downgrade SQL.
    pub sql: String,
    /// Whether the revision runs in one transaction with its version-table
    /// update (transaction control in it was refused while reading).
    pub transactional: bool,
    /// [`crate::sql::sha256_hex`] of `sql`.
    pub sha256: String,
}

/// Reads `revision`'s file afresh and returns its body (both directions'
/// SQL), with every check of [`read_step_sql`].
pub fn read_native_body(revision: &Revision) -> Result<NativeBody, LoadError> {
    let path = Path::new(&revision.origin);
    let meta = std::fs::metadata(path).map_err(|e| LoadError::io(path, "read", &e))?;
    if !meta.is_file() {
        return Err(LoadError::NotAFile {
            path: path.to_path_buf(),
            kind: super::dirfile::special_kind(&meta.file_type()),
        });
    }
    if !super::is_native_file(path.file_name().and_then(|n| n.to_str()).unwrap_or("")) {
        return Err(LoadError::NotARevision {
            path: path.to_path_buf(),
            reason: "only native YAML revisions carry SQL mergepoint runs; Alembic revisions are Python (convert them with `mergepoint import-alembic`)".to_string(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(path, "read", &e))?;
    let text = String::from_utf8(bytes).map_err(|e| LoadError::Io {
        path: path.to_path_buf(),
        action: "decode",
        message: format!("it is not valid UTF-8 ({e}); save it as UTF-8"),
    })?;
    let (rev, body) = parse_native(path, &text)?;
    if rev.id != revision.id {
        return Err(LoadError::NotARevision {
            path: path.to_path_buf(),
            reason: format!(
                "it declared revision '{}' when the project was loaded and declares '{}' now; it changed underneath this run, so run the command again",
                revision.id, rev.id
            ),
        });
    }
    Ok(body)
}

/// Reads `revision`'s file (`revision.origin`) afresh and returns the SQL
/// of `direction`. The whole file is parsed again, with every check of
/// loading (transaction control, id length); the file must still declare
/// `revision.id`, else it changed since the graph was loaded and the step
/// is refused. Only regular files are opened. Alembic `.py` revisions have
/// no SQL mergepoint can run: an error.
pub fn read_step_sql(revision: &Revision, direction: Direction) -> Result<StepRead, LoadError> {
    let body = read_native_body(revision)?;
    let sql = match direction {
        Direction::Upgrade => body.upgrade,
        Direction::Downgrade => body.downgrade,
    };
    Ok(StepRead {
        sha256: crate::sql::sha256_hex(&sql),
        sql,
        transactional: body.transactional,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{load_with, CacheConfig, Project};

    fn file(id: &str, tx: bool, up: &str) -> String {
        format!("id: {id}\nparents: []\nmessage: m\ntransactional: {tx}\nupgrade: |\n  {up}\ndowngrade: |\n  drop table t;\n")
    }

    #[test]
    fn reads_the_file_now_not_what_the_cache_remembers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("revisions");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(tmp.path().join("mergepoint.yaml"), "").unwrap();
        let path = dir.join("aaaa_x.yaml");
        std::fs::write(&path, file("aaaa", true, "create table t();")).unwrap();
        let project = Project::locate(Some(tmp.path())).unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = CacheConfig {
            min_age: std::time::Duration::ZERO,
            ..CacheConfig::in_dir(cache_dir.path())
        };
        load_with(&project, &cache);
        let loaded = load_with(&project, &cache);
        assert_eq!(loaded.cache.hits, 1, "the graph came from the cache");
        let rev = &loaded.revisions[0];

        let up = read_step_sql(rev, Direction::Upgrade).unwrap();
        assert_eq!(up.sql, "create table t();\n");
        assert!(up.transactional);
        assert_eq!(up.sha256, crate::sql::sha256_hex("create table t();\n"));
        let down = read_step_sql(rev, Direction::Downgrade).unwrap();
        assert_eq!(down.sql, "drop table t;\n");

        // Edited after loading (same length, so a stamp could even match):
        // the step gets what the file says now, and its checksum.
        std::fs::write(&path, file("aaaa", false, "create table u();")).unwrap();
        let now = read_step_sql(rev, Direction::Upgrade).unwrap();
        assert_eq!(now.sql, "create table u();\n");
        assert!(!now.transactional);
        assert_eq!(now.sha256, crate::sql::sha256_hex(&now.sql));

        // Every check of loading applies.
        std::fs::write(&path, file("aaaa", true, "commit;")).unwrap();
        let e = read_step_sql(rev, Direction::Upgrade).unwrap_err();
        assert!(matches!(e, LoadError::TransactionControl { .. }), "{e}");
        // Another revision in the same file: refused.
        std::fs::write(&path, file("bbbb", true, "select 1;")).unwrap();
        let e = read_step_sql(rev, Direction::Upgrade).unwrap_err();
        assert!(e.to_string().contains("declares 'bbbb' now"), "{e}");
        // Replaced by a FIFO: refused without opening it.
        std::fs::remove_file(&path).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(fifo.success());
        let e = read_step_sql(rev, Direction::Upgrade).unwrap_err();
        assert!(matches!(e, LoadError::NotAFile { .. }), "{e}");
        // Gone.
        std::fs::remove_file(&path).unwrap();
        assert!(read_step_sql(rev, Direction::Upgrade).is_err());
    }

    #[test]
    fn alembic_revisions_have_no_sql_to_run() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a1_x.py");
        std::fs::write(&path, "revision = 'a1'\ndown_revision = None\n").unwrap();
        let rev = Revision {
            id: "a1".into(),
            parents: vec![],
            depends_on: vec![],
            branch_labels: vec![],
            message: String::new(),
            origin: path.display().to_string(),
        };
        let e = read_step_sql(&rev, Direction::Upgrade).unwrap_err();
        assert!(
            e.to_string().contains("Alembic revisions are Python"),
            "{e}"
        );
    }
}
