//! Differential test against real Alembic (see tests/alembic/differential.py).
//!
//! Installs the pinned Alembic into `target/alembic-venv` (once; cached by
//! `scripts/alembic-env`), then lets the Python harness generate random Alembic
//! projects and compare every answer of this build's `mergepoint` binary with
//! Alembic's. Fails with the harness report (seed, reproduction command,
//! minimal graph) on any difference that is not in the harness's short list of
//! deliberate differences (documented in alembic-compat.md).
//!
//! The seeds are split into [`PARTS`] test cases, each one harness process
//! with its own work directory, so the test runner runs them in parallel
//! with each other and with the rest of the suite; part 0 also runs the
//! fixtures (tests/alembic/fixtures). `scripts/soak` runs many more seeds.
//!
//! Knobs (environment):
//! - `MERGEPOINT_ALEMBIC_SEEDS` (default 50, over all parts) and
//!   `MERGEPOINT_ALEMBIC_START` (default 0): which graphs;
//!   `MERGEPOINT_ALEMBIC_PLANS` (default 20): random plan questions per
//!   direction per graph.
//! - `MERGEPOINT_ALEMBIC_DB` (default `postgresql://postgres@127.0.0.1:5432/postgres`):
//!   admin URL for the database take-over checks; `off` skips only those.
//! - `PYTHON`: the interpreter that creates the venv (default `python3`).

use std::path::Path;
use std::process::Command;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// Test cases the seeds are split into: enough to keep every core busy
/// and to balance uneven seeds, few enough that each part's start-up (the
/// Alembic import, the probe) stays small.
const PARTS: u64 = 10;

macro_rules! parts {
    ($($name:ident = $part:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                mergepoint_agrees_with_real_alembic($part);
            }
        )*
    };
}

parts!(
    seeds_part_0 = 0,
    seeds_part_1 = 1,
    seeds_part_2 = 2,
    seeds_part_3 = 3,
    seeds_part_4 = 4,
    seeds_part_5 = 5,
    seeds_part_6 = 6,
    seeds_part_7 = 7,
    seeds_part_8 = 8,
    seeds_part_9 = 9,
);

/// Which seeds part `part` of `seeds` seeds from `start` gets: an even
/// split, the first parts taking one more when it does not divide.
fn part_range(start: u64, seeds: u64, part: u64) -> (u64, u64) {
    let (per, extra) = (seeds / PARTS, seeds % PARTS);
    let first = start + part * per + part.min(extra);
    let count = per + u64::from(part < extra);
    (first, count)
}

#[test]
fn parts_cover_every_seed_once() {
    for seeds in [0, 1, 9, 10, 11, 100, 1234] {
        let mut next = 7;
        for part in 0..PARTS {
            let (first, count) = part_range(7, seeds, part);
            assert_eq!(first, next, "{seeds} seeds, part {part}");
            next += count;
        }
        assert_eq!(next, 7 + seeds);
    }
}

fn env_number(key: &str, default: u64) -> u64 {
    match std::env::var(key) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn mergepoint_agrees_with_real_alembic(part: u64) {
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

    let (start, seeds) = part_range(
        env_number("MERGEPOINT_ALEMBIC_START", 0),
        env_number("MERGEPOINT_ALEMBIC_SEEDS", 50),
        part,
    );
    let (start, seeds) = (start.to_string(), seeds.to_string());
    let plans = env_or("MERGEPOINT_ALEMBIC_PLANS", "20");
    let db = env_or(
        "MERGEPOINT_ALEMBIC_DB",
        "postgresql://postgres@127.0.0.1:5432/postgres",
    );

    let mut cmd = Command::new(&venv_python);
    cmd.arg(root.join("tests/alembic/differential.py"))
        // The harness compares plans (the `-- Running` steps): the real
        // offline SQL of Alembic revisions, which runs Alembic for every
        // `--sql` call, is tested in tests/pg_alembic_run.rs.
        .env("MERGEPOINT_ALEMBIC_SQL", "placeholders")
        .args(["--bin", env!("CARGO_BIN_EXE_mergepoint")])
        .args(["--seeds", &seeds, "--start", &start, "--plans", &plans])
        // One process per part: the test runner provides the parallelism.
        .args(["--jobs", "1"])
        .args([
            "--work",
            &root
                .join(format!("target/alembic-diff/part-{part}"))
                .to_string_lossy(),
        ])
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(root);
    if db != "off" {
        cmd.args(["--db", &db]);
    }
    if part != 0 {
        cmd.arg("--no-fixtures");
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
