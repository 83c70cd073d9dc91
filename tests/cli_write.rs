//! Commands that write files: `init`, `revision`, `merge`. Ids come from
//! `--rev-id` so file names and contents are deterministic; the `created`
//! timestamp is redacted.

mod cli_util;

use cli_util::{graphs, rev, TestEnv};

#[test]
fn init_then_first_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    let env = TestEnv::new();
    let init = env.run(&["--dir", root.to_str().unwrap(), "init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(root.join("mergepoint.yaml").is_file());
    assert!(root.join("revisions").is_dir());
    let run = |args: &[&str]| {
        let mut full = vec!["--dir", root.to_str().unwrap()];
        full.extend_from_slice(args);
        env.run(&full)
    };
    let first = run(&[
        "revision",
        "-m",
        "create users",
        "--rev-id",
        "aaaa",
        "--sql-upgrade",
        "CREATE TABLE users (id bigint primary key);",
        "--sql-downgrade",
        "DROP TABLE users;",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = run(&["revision", "-m", "add users.email", "--rev-id", "bbbb"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let file = std::fs::read_to_string(root.join("revisions/aaaa_create_users.yaml")).unwrap();
    let file2 = std::fs::read_to_string(root.join("revisions/bbbb_add_users_email.yaml")).unwrap();
    assert!(
        file2.contains("parents: [aaaa]") || file2.contains("- aaaa"),
        "{file2}"
    );
    let history = run(&["history"]);
    assert_eq!(
        history.stdout,
        "aaaa -> bbbb (head), add users.email\n<base> -> aaaa, create users\n"
    );
    let root_s = root.to_string_lossy().into_owned();
    let t = [init, first, second, history]
        .iter()
        .map(|r| r.transcript())
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&root_s, "[SHOP]");
    env.settings().bind(|| {
        insta::assert_snapshot!("write_init", t);
        insta::assert_snapshot!("write_native_file", format!("{file}---\n{file2}"));
    });
}

#[test]
fn revision_refuses_a_second_head() {
    let env = TestEnv::native(&graphs::fork());
    let refused = env.run(&["revision", "-m", "more", "--rev-id", "xxxx"]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("bbbb") && refused.stderr.contains("cccc"));
    assert!(refused.stderr.contains("--head"));
    assert_eq!(env.list("revisions").len(), 3, "nothing written");

    let not_head = env.run(&[
        "revision", "-m", "more", "--head", "aaaa", "--rev-id", "xxxx",
    ]);
    assert_eq!(not_head.code, 2);
    assert!(not_head.stderr.contains("--splice"));

    let ok = env.run(&[
        "revision",
        "-m",
        "on orders",
        "--head",
        "bbbb",
        "--rev-id",
        "dddd",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let spliced = env.run(&[
        "revision", "-m", "hotfix", "--head", "aaaa", "--splice", "--rev-id", "eeee",
    ]);
    assert_eq!(spliced.code, 0, "{}", spliced.stderr);
    let heads = env.run(&["heads"]);
    assert_eq!(heads.stdout, "cccc (head)\ndddd (head)\neeee (head)\n");
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "write_revision_heads",
            [refused, not_head, ok, spliced, heads]
                .iter()
                .map(|r| r.transcript())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
}

#[test]
fn revision_options_are_validated() {
    let env = TestEnv::native(&graphs::labels());
    let cases: &[(&[&str], i32)] = &[
        (
            &[
                "revision",
                "-m",
                "x",
                "--head",
                "core@head",
                "--rev-id",
                "bbbb",
            ],
            2,
        ),
        (
            &[
                "revision",
                "-m",
                "x",
                "--head",
                "core@head",
                "--rev-id",
                "bad:id",
            ],
            2,
        ),
        (
            &[
                "revision",
                "-m",
                "x",
                "--head",
                "core@head",
                "--branch-label",
                "billing",
                "--rev-id",
                "xxxx",
            ],
            2,
        ),
        (
            &[
                "revision",
                "-m",
                "x",
                "--head",
                "core@head",
                "--depends-on",
                "zzzz",
                "--rev-id",
                "xxxx",
            ],
            2,
        ),
        (&["revision", "-m", "x", "--splice", "--rev-id", "xxxx"], 2),
        (
            &[
                "revision",
                "-m",
                "bill users",
                "--head",
                "billing@head",
                "--depends-on",
                "core",
                "--depends-on",
                "bbbb",
                "--rev-id",
                "hhhh",
            ],
            0,
        ),
        (
            &[
                "revision",
                "-m",
                "start audit",
                "--head",
                "base",
                "--branch-label",
                "audit",
                "--rev-id",
                "iiii",
            ],
            0,
        ),
    ];
    let mut t = Vec::new();
    for (args, code) in cases {
        let run = env.run(args);
        assert_eq!(run.code, *code, "{}", run.transcript());
        t.push(run.transcript());
    }
    let written = env.read("revisions/hhhh_bill_users.yaml");
    assert!(
        written.contains("depends_on: [core, bbbb]") || written.contains("- core"),
        "{written}"
    );
    t.push(env.run(&["history"]).transcript());
    env.settings().bind(|| {
        insta::assert_snapshot!("write_revision_options", t.join("\n"));
        insta::assert_snapshot!("write_revision_depends_file", written);
    });
}

#[test]
fn merge_heads_and_named_revisions() {
    let env = TestEnv::native(&[
        rev("aaaa", &[]),
        rev("bbbb", &["aaaa"]),
        rev("cccc", &["aaaa"]),
        rev("dddd", &["aaaa"]),
    ]);
    let too_few = env.run(&["merge", "bbbb", "-m", "m", "--rev-id", "mmmm"]);
    assert_eq!(too_few.code, 2);
    let not_head = env.run(&["merge", "aaaa", "bbbb", "-m", "m", "--rev-id", "mmmm"]);
    assert_eq!(not_head.code, 2);
    let twice = env.run(&["merge", "bbbb", "bbbb", "-m", "m", "--rev-id", "mmmm"]);
    assert_eq!(twice.code, 2);
    // Given order is kept: dddd before bbbb.
    let two = env.run(&[
        "merge",
        "dddd",
        "bbbb",
        "-m",
        "merge d and b",
        "--rev-id",
        "mmmm",
    ]);
    assert_eq!(two.code, 0, "{}", two.stderr);
    let file = env.read("revisions/mmmm_merge_d_and_b.yaml");
    assert!(
        file.contains("parents: [dddd, bbbb]") || file.contains("- dddd\n- bbbb"),
        "{file}"
    );
    let all = env.run(&["merge", "heads", "-m", "merge all", "--rev-id", "nnnn"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let one_head = env.run(&["merge", "heads", "-m", "again", "--rev-id", "oooo"]);
    assert_eq!(one_head.code, 2);
    let after = env.run(&["history"]);
    let check = env.run(&["check"]);
    assert_eq!(check.code, 0);
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "write_merge",
            [too_few, not_head, twice, two, all, one_head, after, check]
                .iter()
                .map(|r| r.transcript())
                .collect::<Vec<_>>()
                .join("\n")
        );
        insta::assert_snapshot!("write_merge_file", file);
    });
}
