//! Differential test against real Alembic (see tests/alembic/differential.py).
//!
//! Installs the pinned Alembic into `target/alembic-venv` (once; cached by
//! `scripts/alembic-env`), then lets the Python harness generate random Alembic
//! projects and compare every answer of this build's `mergepoint` binary with
//! Alembic's. Fails with the harness report (seed, reproduction command,
//! minimal graph) on any difference that is not in the harness's short list of
//! deliberate differences (documented in alembic-compat.md).
//!
//! Knobs (environment):
//! - `MERGEPOINT_ALEMBIC_SEEDS` (default 200) and `MERGEPOINT_ALEMBIC_START`
//!   (default 0): which graphs; `MERGEPOINT_ALEMBIC_PLANS` (default 20): random
//!   plan questions per direction per graph.
//! - `MERGEPOINT_ALEMBIC_DB` (default `postgresql://postgres@127.0.0.1:5432/postgres`):
//!   admin URL for the database take-over checks; `off` skips only those.
//! - `PYTHON`: the interpreter that creates the venv (default `python3`).

use std::path::Path;
use std::process::Command;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

#[test]
fn mergepoint_agrees_with_real_alembic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let host_python = env_or("PYTHON", "python3");

    // No python: fail loudly, never skip.
    match Command::new(&host_python).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "the Alembic differential test needs Python 3.9+ with venv, and '{host_python}' \
             was not found.\n  Debian/Ubuntu: sudo apt-get install python3 python3-venv\n  \
             Fedora: sudo dnf install python3\n  macOS: brew install python\n\
             or set PYTHON=/path/to/python3. (It installs Alembic from PyPI into target/alembic-venv once.)"
        ),
    }

    let env_script = root.join("scripts/alembic-env");
    let out = Command::new("bash")
        .arg(&env_script)
        .env("PYTHON", &host_python)
        .output()
        .expect("run scripts/alembic-env");
    assert!(
        out.status.success(),
        "scripts/alembic-env failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let venv_python = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let seeds = env_or("MERGEPOINT_ALEMBIC_SEEDS", "200");
    let start = env_or("MERGEPOINT_ALEMBIC_START", "0");
    let plans = env_or("MERGEPOINT_ALEMBIC_PLANS", "20");
    let db = env_or(
        "MERGEPOINT_ALEMBIC_DB",
        "postgresql://postgres@127.0.0.1:5432/postgres",
    );

    let mut cmd = Command::new(&venv_python);
    cmd.arg(root.join("tests/alembic/differential.py"))
        .args(["--bin", env!("CARGO_BIN_EXE_mergepoint")])
        .args(["--seeds", &seeds, "--start", &start, "--plans", &plans])
        .args([
            "--work",
            &root.join("target/alembic-diff").to_string_lossy(),
        ])
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(root);
    if db != "off" {
        cmd.args(["--db", &db]);
    }
    let out = cmd.output().expect("run tests/alembic/differential.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Always show the summary (visible with --nocapture, and on failure).
    println!("{stdout}");
    eprintln!("{stderr}");
    if !out.status.success() {
        let hint = if out.status.code() == Some(2) && db != "off" && stderr.contains("PostgreSQL") {
            "\n(PostgreSQL unreachable: start it, point MERGEPOINT_ALEMBIC_DB at it, or set MERGEPOINT_ALEMBIC_DB=off)"
        } else {
            ""
        };
        panic!(
            "mergepoint differs from real Alembic (exit {:?}); report above.{hint}",
            out.status.code()
        );
    }
}
