//! Shared helpers of the CLI tests: a [`TestEnv`] that writes revision
//! files into a fresh temporary project and runs the real `mergepoint`
//! binary in it, and a transcript format for snapshots.
//!
//! Fixture graphs are named by letters: revision `bbbb` is "B". Ids are four
//! repeated letters so transcripts stay readable.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// One native revision to write.
#[derive(Clone, Debug, Default)]
pub struct Rev {
    pub id: &'static str,
    pub parents: Vec<&'static str>,
    pub depends_on: Vec<&'static str>,
    pub labels: Vec<&'static str>,
    pub message: String,
}

/// `rev("bbbb", &["aaaa"])`: a revision with a default message.
pub fn rev(id: &'static str, parents: &[&'static str]) -> Rev {
    Rev {
        id,
        parents: parents.to_vec(),
        message: format!("revision {}", id.to_uppercase().chars().next().unwrap()),
        ..Rev::default()
    }
}

impl Rev {
    pub fn labels(mut self, labels: &[&'static str]) -> Rev {
        self.labels = labels.to_vec();
        self
    }
    pub fn depends(mut self, deps: &[&'static str]) -> Rev {
        self.depends_on = deps.to_vec();
        self
    }
    pub fn msg(mut self, m: &str) -> Rev {
        self.message = m.to_string();
        self
    }
}

fn yaml_list(items: &[&str]) -> String {
    format!("[{}]", items.join(", "))
}

/// The output of one run.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// `$ mergepoint ARGS`, stdout, stderr (marked), exit code.
    pub fn transcript(&self) -> String {
        let shown: Vec<String> = self
            .args
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains([' ', '"', '\'', '$', '*']) {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect();
        let mut t = format!("$ mergepoint {}\n", shown.join(" "));
        t.push_str(&self.stdout);
        if !self.stderr.is_empty() {
            t.push_str("[stderr]\n");
            t.push_str(&self.stderr);
        }
        t.push_str(&format!("[exit {}]\n", self.code));
        t
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of {:?} is not JSON ({e}):\n{}",
                self.args, self.stdout
            )
        })
    }
}

/// A temporary project directory.
pub struct TestEnv {
    dir: tempfile::TempDir,
}

impl TestEnv {
    /// An empty native project (`mergepoint.yaml` + `revisions/`).
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("mergepoint.yaml"),
            "format: native\nrevisions: revisions\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("revisions")).unwrap();
        TestEnv { dir }
    }

    /// A native project holding `revs`.
    pub fn native(revs: &[Rev]) -> TestEnv {
        let env = TestEnv::new();
        for r in revs {
            env.write_rev(r);
        }
        env
    }

    /// A copy of `tests/fixtures/<name>` as the project.
    pub fn fixture(name: &str) -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        copy_dir(&src, dir.path());
        TestEnv { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `revisions/<id>_rev.yaml`.
    pub fn write_rev(&self, r: &Rev) {
        let text = format!(
            "id: {}\nparents: {}\ndepends_on: {}\nbranch_labels: {}\nmessage: {}\ncreated: 2026-11-22T10:15:00Z\ntransactional: true\nupgrade: |\n  CREATE TABLE t_{} (id int);\ndowngrade: |\n  DROP TABLE t_{};\n",
            r.id,
            yaml_list(&r.parents),
            yaml_list(&r.depends_on),
            yaml_list(&r.labels),
            r.message,
            r.id,
            r.id
        );
        self.write(&format!("revisions/{}_rev.yaml", r.id), &text);
    }

    /// Writes any file (parent directories created).
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Files under `rel`, sorted names.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Runs `mergepoint ARGS` with the project root as working directory.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// [`Self::run`] with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let out = Command::cargo_bin("mergepoint")
            .unwrap()
            .args(args)
            .current_dir(self.root())
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Runs several commands and joins their transcripts.
    pub fn transcript(&self, commands: &[&[&str]]) -> String {
        commands
            .iter()
            .map(|c| self.run(c).transcript())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// insta settings that redact this environment's temp path and
    /// timestamps.
    pub fn settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
        s.set_prepend_module_to_snapshot(false);
        let root = self.root().to_string_lossy().into_owned();
        let mut filters = vec![(regex_escape(&root), "[ROOT]".to_string())];
        if let Ok(canon) = self.root().canonicalize() {
            let canon = canon.to_string_lossy().into_owned();
            if canon != root {
                filters.push((regex_escape(&canon), "[ROOT]".to_string()));
            }
        }
        filters.push((
            r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?".to_string(),
            "[TIMESTAMP]".to_string(),
        ));
        for (re, with) in filters {
            s.add_filter(&re, with);
        }
        s
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

/// The fixture graphs, by name.
pub mod graphs {
    use super::{rev, Rev};

    /// A <- B <- C
    pub fn linear() -> Vec<Rev> {
        vec![
            rev("aaaa", &[]).msg("create users"),
            rev("bbbb", &["aaaa"]).msg("create orders"),
            rev("cccc", &["bbbb"]).msg("add orders.status"),
        ]
    }

    /// A <- B, A <- C: a branch point and two open heads.
    pub fn fork() -> Vec<Rev> {
        vec![
            rev("aaaa", &[]).msg("create users"),
            rev("bbbb", &["aaaa"]).msg("create orders"),
            rev("cccc", &["aaaa"]).msg("create invoices"),
        ]
    }

    /// A <- B, A <- C, (B, C) <- D <- E: fork, merge, one head.
    pub fn merge() -> Vec<Rev> {
        vec![
            rev("aaaa", &[]).msg("create users"),
            rev("bbbb", &["aaaa"]).msg("create orders"),
            rev("cccc", &["aaaa"]).msg("create invoices"),
            rev("dddd", &["bbbb", "cccc"]).msg("merge orders and invoices"),
            rev("eeee", &["dddd"]).msg("add users.email"),
        ]
    }

    /// Two labelled branches from two bases: core (A <- B) and billing
    /// (F <- G).
    pub fn labels() -> Vec<Rev> {
        vec![
            rev("aaaa", &[]).msg("create users").labels(&["core"]),
            rev("bbbb", &["aaaa"]).msg("add users.email"),
            rev("ffff", &[]).msg("create invoices").labels(&["billing"]),
            rev("gggg", &["ffff"]).msg("add invoices.total"),
        ]
    }

    /// Billing's D depends on core's B without being a merge.
    pub fn depends_on() -> Vec<Rev> {
        vec![
            rev("aaaa", &[]).msg("create users").labels(&["core"]),
            rev("bbbb", &["aaaa"]).msg("add users.email"),
            rev("cccc", &[]).msg("create invoices").labels(&["billing"]),
            rev("dddd", &["cccc"])
                .msg("invoice emails")
                .depends(&["bbbb"]),
        ]
    }
}
