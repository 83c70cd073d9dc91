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

/// The interpreter with real Alembic: the one scripts/test installs it
/// into (`MP_ALEMBIC_PYTHON`), else `MERGEPOINT_ALEMBIC_PYTHON`. Required:
/// these tests compare with Alembic, so without it they fail and say how
/// to get it. Also used by the layout tests.
pub(crate) fn alembic_python() -> PathBuf {
    ["MP_ALEMBIC_PYTHON", "MERGEPOINT_ALEMBIC_PYTHON"]
        .iter()
        .find_map(std::env::var_os)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test runs real Alembic: run it through scripts/test, or set \
                 MP_ALEMBIC_PYTHON=$(scripts/alembic-env)"
            )
        })
}

/// Real Alembic, run as `PYTHON -m alembic` ([`alembic_python`]).
fn real_alembic() -> std::process::Command {
    let python = alembic_python();
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

/// The alembic_shop fixture with a template of its own (a licence header, a
/// differently annotated `down_revision`) and a post-write hook that edits
/// every new file, as real projects have.
fn shop_with_own_template() -> TestEnv {
    let env = TestEnv::fixture("alembic_shop");
    let mako = env.read("proj/script.py.mako").replace(
        "down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}",
        "down_revision: Union[str, None] = ${repr(down_revision)}",
    );
    env.write(
        "proj/script.py.mako",
        &format!("# SPDX-License-Identifier: Apache-2.0\n# STAMP_PENDING\n{mako}"),
    );
    let ini = env.read("alembic.ini").replace(
        "[post_write_hooks]\n",
        "[post_write_hooks]\nhooks = stamp\nstamp.type = exec\nstamp.executable = sed\n\
         stamp.options = -i -e s/STAMP_PENDING/STAMP_DONE/ REVISION_SCRIPT_FILENAME\n",
    );
    env.write("alembic.ini", &ini);
    env
}

/// A revision file without what differs between two writers by design:
/// its id and its `Create Date` (mergepoint writes UTC). Also used by the
/// layout tests.
pub(crate) fn without_id_and_date(text: &str, id: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("Create Date: ") {
                "Create Date: <date>".to_string()
            } else {
                l.replace(id, "<id>")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn revision_and_merge_are_written_from_the_projects_template_and_hooks_like_alembics() {
    for (args, name) in [
        (
            &["revision", "-m", "add orders.note", "--head", "ffff"][..],
            "add_orders_note",
        ),
        (
            &["merge", "heads", "-m", "merge reports"][..],
            "merge_reports",
        ),
    ] {
        let ours = shop_with_own_template();
        let run = ours.run(&[args, &["--rev-id", "8888"]].concat());
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(!run.stderr.contains("warning"), "{}", run.stderr);
        let mine = ours.read(&format!("proj/versions/8888_{name}.py"));
        assert!(
            mine.starts_with("# SPDX-License-Identifier: Apache-2.0\n# STAMP_DONE\n"),
            "{mine}"
        );
        let theirs_env = shop_with_own_template();
        let theirs = real_alembic()
            .args(args)
            .args(["--rev-id", "7777"])
            .current_dir(theirs_env.root())
            .output()
            .unwrap();
        assert!(
            theirs.status.success(),
            "alembic {args:?}: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        let alembics = theirs_env.read(&format!("proj/versions/7777_{name}.py"));
        assert_eq!(
            without_id_and_date(&mine, "8888"),
            without_id_and_date(&alembics, "7777"),
            "{args:?}"
        );
    }
}

#[test]
fn without_a_python_that_has_alembic_the_default_template_is_used_and_said() {
    let env = shop_with_own_template();
    let run = env.run_with_env(
        &[
            "revision",
            "-m",
            "add orders.note",
            "--head",
            "ffff",
            "--rev-id",
            "8888",
        ],
        &[("MP_ALEMBIC_PYTHON", "/nonexistent/python")],
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stderr.contains("warning:")
            && run.stderr.contains("script.py.mako")
            && run.stderr.contains("/nonexistent/python"),
        "{}",
        run.stderr
    );
    let text = env.read("proj/versions/8888_add_orders_note.py");
    assert!(!text.contains("SPDX"), "{text}");
    assert!(
        text.contains("down_revision: Union[str, Sequence[str], None] = 'ffff'"),
        "{text}"
    );
}
