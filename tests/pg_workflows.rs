//! The schema-aware workflows against a real PostgreSQL, through the real
//! binary: `revision --autogenerate`, `verify`, `check --schema`,
//! `merge --verify` and `check --merges`. Each test makes its own project
//! and databases; the dev server is the tests' admin server.

mod common;

#[path = "pg_workflows/autogenerate.rs"]
mod autogenerate;
#[path = "pg_workflows/check_schema.rs"]
mod check_schema;
#[path = "pg_workflows/merges.rs"]
mod merges;
#[path = "pg_workflows/verify.rs"]
mod verify;

use common::pg::admin_url;
use common::project::Project;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `mergepoint ARGS --dev-url DEV` in `project`, with no inherited
/// `MERGEPOINT_DEV_URL`.
pub fn mp(project: &Project, args: &[&str]) -> Output {
    let dev = admin_url();
    let mut all = args.to_vec();
    all.extend_from_slice(&["--dev-url", dev.as_str()]);
    let mut c = project.cmd(&all);
    c.env_remove("MERGEPOINT_DEV_URL");
    c.output().unwrap()
}

/// `mergepoint --dir DIR ARGS --dev-url DEV`, for projects that are not
/// a [`Project`] (the shipped example, an Alembic fixture).
pub fn mp_in(dir: &Path, args: &[&str]) -> Output {
    let dev = admin_url();
    let out = std::process::Command::new(common::project::bin())
        .arg("--dir")
        .arg(dir)
        .args(args)
        .args(["--dev-url", dev.as_str()])
        .env_remove("MERGEPOINT_DEV_URL")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The repository's own files (the shipped example project, fixtures).
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The Alembic fixture project (read only: every command here refuses it
/// before writing anything).
pub fn alembic_project() -> PathBuf {
    repo_path("tests/fixtures/alembic_shop")
}
