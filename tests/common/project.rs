//! A native project in a temporary directory, run through the real
//! `mergepoint` binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mergepoint"))
}

/// A native project: `mergepoint.yaml` and YAML revisions.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mergepoint.yaml"), "format: native\n").unwrap();
        std::fs::create_dir(dir.path().join("revisions")).unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where this project's runs keep their caches (beside the project,
    /// not in it).
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().with_extension("mp-cache")
    }

    pub fn rev(&self, id: &str, parents: &[&str], transactional: bool, up: &str, down: &str) {
        let indent = |s: &str| s.lines().map(|l| format!("  {l}\n")).collect::<String>();
        let text = format!(
            "id: {id}\nparents: [{}]\nmessage: rev {id}\ncreated: 2026-11-22T10:15:00Z\ntransactional: {transactional}\nupgrade: |\n{}downgrade: |\n{}",
            parents.join(", "),
            indent(up),
            indent(down)
        );
        std::fs::write(
            self.path().join("revisions").join(format!("{id}_rev.yaml")),
            text,
        )
        .unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--dir").arg(self.path()).args(args);
        c.env_remove("DATABASE_URL");
        // The project's own caches (parse cache, built schemas): a test
        // never answers from another test's run.
        c.env("MERGEPOINT_CACHE_DIR", self.cache_dir());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.cache_dir());
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
