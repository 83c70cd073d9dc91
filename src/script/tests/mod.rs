//! Tests of the revision-file layer, by topic: native files, Alembic files,
//! projects (locating, loading, writing), the native fast path, hostile
//! input. Alembic expectations were taken from real Alembic 1.20
//! (`ScriptDirectory._load_revisions`) on the same files. The helpers
//! shared by all of them are here.

use std::fs;
use std::path::{Path, PathBuf};

#[allow(unused_imports)]
use proptest::prelude::*;

use super::*;
use crate::graph::Revision;

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

fn rev(id: &str, parents: &[&str], deps: &[&str], labels: &[&str], msg: &str) -> Revision {
    Revision {
        id: id.into(),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        depends_on: deps.iter().map(|s| s.to_string()).collect(),
        branch_labels: labels.iter().map(|s| s.to_string()).collect(),
        message: msg.into(),
        origin: String::new(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn assert_names(e: &LoadError, file: &str, line: Option<usize>) {
    let msg = e.to_string();
    assert!(
        msg.starts_with(file),
        "message does not start with the file: {msg}"
    );
    if let Some(l) = line {
        assert!(
            msg.starts_with(&format!("{file}:{l}")),
            "message lacks line {l}: {msg}"
        );
        assert_eq!(e.line(), Some(l), "{msg}");
    }
    assert_eq!(crate::cli::CliError::from(e.clone()).exit_code(), 2);
}

fn native_file(id: &str, parents: &[&str]) -> String {
    let r = rev(id, parents, &[], &[], &format!("rev {id}"));
    render_native(
        &r,
        &NativeBody {
            created: None,
            transactional: true,
            upgrade: format!("SELECT '{id}';\n"),
            downgrade: String::new(),
            lock_timeout: None,
            statement_timeout: None,
        },
    )
}

fn py_file(id: &str, down: &str) -> String {
    format!(
        "\"\"\"rev {id}\n\nRevision ID: {id}\n\"\"\"\nrevision = '{id}'\ndown_revision = {down}\n"
    )
}

fn ids(l: &Loaded) -> Vec<&str> {
    l.revisions.iter().map(|r| r.id.as_str()).collect()
}

const INI: &str = "[alembic]\nscript_location = %(here)s/migrations\nprepend_sys_path = .\n";

mod alembic_files;
mod fast_path;
mod hostile;
mod native_files;
mod projects;
