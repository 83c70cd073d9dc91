//! The graph commands on an Alembic directory (tests/fixtures/alembic_shop,
//! made with real Alembic 1.x: `alembic revision/merge --rev-id ...`).
//!
//! `tests/fixtures/alembic_shop.expected/*.txt` hold real Alembic's output
//! on that directory; ours must be byte-identical. `merge` must write a
//! Python file Alembic accepts: real Alembic (from scripts/alembic-env) is
//! run on the result too.

mod alembic_layouts;
mod cli_util;

use cli_util::TestEnv;
use std::path::{Path, PathBuf};

fn expected(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alembic_shop.expected")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn matches_real_alembic_output() {
    let env = TestEnv::fixture("alembic_shop");
    for (args, file) in [
        (&["history"][..], "history.txt"),
        (&["heads"][..], "heads.txt"),
        (&["history", "-r", "bbbb:ffff"][..], "history_bbbb_ffff.txt"),
        (&["history", "-r", ":dddd"][..], "history_to_dddd.txt"),
    ] {
        let run = env.run(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stdout,
            expected(file),
            "mergepoint {args:?} differs from alembic"
        );
    }
}

/// Alembic keeps a revision's children in a Python set, so the order of
/// the `-> child` lines of `alembic branches` changes from run to run
/// (hash randomisation); we list them in load order. Compare the lines as
/// a multiset.
#[test]
fn branches_match_real_alembic_up_to_child_order() {
    let env = TestEnv::fixture("alembic_shop");
    let run = env.run(&["branches"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&run.stdout), sorted(&expected("branches.txt")));
    assert_eq!(
        run.stdout,
        "eeee (branchpoint)\n     -> ffff (head)\n     -> gggg (reports)\n\naaaa (branchpoint)\n     -> bbbb\n     -> cccc\n\n"
    );
}

#[test]
fn alembic_read_commands() {
    let env = TestEnv::fixture("alembic_shop");
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "alembic_read",
            env.transcript(&[
                &["heads", "--verbose"],
                &["heads", "--check"],
                &["show", "reports@head"],
                &["history", "--json"],
                &["check"],
                &["plan", "base", "heads"],
                &["graph", "--format", "mermaid"],
            ])
        );
    });
}

/// Real Alembic, run as `PYTHON -m alembic`: the interpreter scripts/test
/// installs it into (`MP_ALEMBIC_PYTHON`), else `MERGEPOINT_ALEMBIC_PYTHON`.
/// Required: the merge file's acceptance by Alembic is part of the contract,
/// so without it the test fails and says how to get it.
fn real_alembic() -> std::process::Command {
    let python = ["MP_ALEMBIC_PYTHON", "MERGEPOINT_ALEMBIC_PYTHON"]
        .iter()
        .find_map(std::env::var_os)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test runs real Alembic: run it through scripts/test, or set \
                 MP_ALEMBIC_PYTHON=$(scripts/alembic-env)"
            )
        });
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-m", "alembic"]);
    cmd
}

#[test]
fn merge_writes_a_python_file_alembic_accepts() {
    let env = TestEnv::fixture("alembic_shop");
    let run = env.run(&["merge", "heads", "-m", "merge reports", "--rev-id", "9999"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = env.list("proj/versions");
    assert!(
        files.contains(&"9999_merge_reports.py".to_string()),
        "{files:?}"
    );
    let text = env.read("proj/versions/9999_merge_reports.py");
    env.settings().bind(|| {
        insta::assert_snapshot!("alembic_merge_file", text);
        insta::assert_snapshot!(
            "alembic_merge",
            format!(
                "{}\n{}",
                run.transcript(),
                env.transcript(&[&["heads"], &["history", "-r", "eeee:"], &["check"]])
            )
        );
    });
    let heads = env.run(&["heads"]);
    assert_eq!(heads.stdout, "9999 (reports) (head)\n");

    {
        for args in [&["heads"][..], &["history"][..]] {
            let theirs = real_alembic()
                .args(args)
                .current_dir(env.root())
                .output()
                .unwrap();
            assert!(
                theirs.status.success(),
                "alembic {args:?} failed: {}",
                String::from_utf8_lossy(&theirs.stderr)
            );
            let ours = env.run(args);
            assert_eq!(
                ours.stdout,
                String::from_utf8(theirs.stdout).unwrap(),
                "{args:?}"
            );
        }
    }
}

#[test]
fn revision_writes_python_in_alembic_dirs() {
    let env = TestEnv::fixture("alembic_shop");
    let refused = env.run(&["revision", "-m", "more"]);
    assert_eq!(refused.code, 2);
    let run = env.run(&[
        "revision",
        "-m",
        "add orders.note",
        "--head",
        "ffff",
        "--rev-id",
        "8888",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = env.read("proj/versions/8888_add_orders_note.py");
    assert!(
        text.contains("down_revision: Union[str, Sequence[str], None] = 'ffff'")
            || text.contains("down_revision = 'ffff'"),
        "{text}"
    );
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "alembic_revision",
            format!("{}\n{}", refused.transcript(), run.transcript())
        );
    });
    let theirs = real_alembic()
        .arg("heads")
        .current_dir(env.root())
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert_eq!(
        String::from_utf8(theirs.stdout).unwrap(),
        env.run(&["heads"]).stdout
    );
}
