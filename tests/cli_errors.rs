//! Error tests: every bad input gives a message naming the file, revision
//! or identifier at fault, a hint, and its exit code (2 input, 1 failed
//! check). Exit codes are asserted directly as well as snapshotted, so an
//! accepted snapshot cannot hide a wrong code.

mod cli_util;

use cli_util::{graphs, rev, TestEnv};

/// Runs `commands`, asserts each exit code, returns the transcript.
fn expect(env: &TestEnv, commands: &[(&[&str], i32)]) -> String {
    let mut out = Vec::new();
    for (args, code) in commands {
        let run = env.run(args);
        assert_eq!(run.code, *code, "{}", run.transcript());
        if *code != 0 {
            assert!(run.stderr.starts_with("error: "), "{}", run.transcript());
        }
        assert!(!run.stderr.contains("panicked"), "{}", run.transcript());
        out.push(run.transcript());
    }
    out.join("\n")
}

#[test]
fn malformed_yaml() {
    let env = TestEnv::native(&graphs::linear());
    env.write(
        "revisions/dddd_broken.yaml",
        "id: dddd\nparents: [cccc\nmessage: oops\n",
    );
    let t = expect(
        &env,
        &[
            (&["heads"], 2),
            (&["history", "--json"], 2),
            (&["check"], 2),
        ],
    );
    assert!(t.contains("dddd_broken.yaml:"), "names the file and line");
    env.settings()
        .bind(|| insta::assert_snapshot!("error_malformed_yaml", t));
}

#[test]
fn not_a_revision_file() {
    let env = TestEnv::native(&graphs::linear());
    env.write("revisions/notes.yaml", "title: release notes\n");
    let t = expect(&env, &[(&["heads"], 2), (&["check"], 2)]);
    assert!(t.contains("notes.yaml"));
    env.settings()
        .bind(|| insta::assert_snapshot!("error_not_a_revision", t));
}

#[test]
fn missing_parent() {
    let env = TestEnv::native(&[rev("aaaa", &[]), rev("bbbb", &["zzzz"])]);
    let t = expect(
        &env,
        &[(&["heads"], 2), (&["check"], 2), (&["check", "--json"], 2)],
    );
    assert!(t.contains("zzzz") && t.contains("bbbb_rev.yaml"));
    env.settings()
        .bind(|| insta::assert_snapshot!("error_missing_parent", t));
}

#[test]
fn duplicate_id() {
    let env = TestEnv::native(&[rev("aaaa", &[]), rev("bbbb", &["aaaa"])]);
    env.write(
        "revisions/zz_copy_of_bbbb.yaml",
        "id: bbbb\nparents: [aaaa]\nmessage: copy\nupgrade: \"\"\ndowngrade: \"\"\n",
    );
    let t = expect(&env, &[(&["history"], 2), (&["check"], 2)]);
    assert!(t.contains("zz_copy_of_bbbb.yaml") && t.contains("bbbb_rev.yaml"));
    env.settings()
        .bind(|| insta::assert_snapshot!("error_duplicate_id", t));
}

#[test]
fn cycle() {
    let env = TestEnv::native(&[
        rev("aaaa", &["cccc"]),
        rev("bbbb", &["aaaa"]),
        rev("cccc", &["bbbb"]),
    ]);
    let t = expect(&env, &[(&["heads"], 2), (&["check"], 2)]);
    assert!(t.contains("aaaa") && t.contains("cycle"));
    env.settings()
        .bind(|| insta::assert_snapshot!("error_cycle", t));
}

#[test]
fn duplicate_label() {
    let env = TestEnv::native(&[
        rev("aaaa", &[]).labels(&["core"]),
        rev("bbbb", &[]).labels(&["core"]),
    ]);
    let t = expect(&env, &[(&["heads"], 2), (&["check"], 2)]);
    assert!(t.contains("'core'"));
    env.settings()
        .bind(|| insta::assert_snapshot!("error_duplicate_label", t));
}

#[test]
fn check_reports_every_problem_at_once() {
    let env = TestEnv::native(&[
        rev("aaaa", &[]).labels(&["core"]),
        rev("bbbb", &["zzzz"]).labels(&["core"]),
        rev("cccc", &["aaaa"]).depends(&["nope"]),
    ]);
    env.write("revisions/dddd_broken.yaml", "id: [dddd\n");
    let run = env.run(&["check", "--json"]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let kinds: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    for k in [
        "parse_error",
        "duplicate_label",
        "missing_parent",
        "missing_dependency",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(report["ok"], false);
    let t = expect(&env, &[(&["check"], 2)]);
    env.settings()
        .bind(|| insta::assert_snapshot!("error_check_all", t));
}

#[test]
fn unknown_and_ambiguous_identifiers() {
    let env = TestEnv::native(&[
        rev("abcd1111", &[]),
        rev("abcd2222", &["abcd1111"]),
        rev("ffff", &["abcd1111"]),
    ]);
    let t = expect(
        &env,
        &[
            (&["show", "zzzz"], 2),
            (&["show", "abcd"], 2),
            (&["show", "head"], 2),
            (&["plan", "base", "nope"], 2),
            (&["history", "-r", "zzzz:"], 2),
            (&["history", "-r", "nocolon"], 2),
            (&["show", "abcd2"], 0),
        ],
    );
    assert!(
        t.contains("abcd1111") && t.contains("abcd2222"),
        "lists the candidates"
    );
    env.settings()
        .bind(|| insta::assert_snapshot!("error_identifiers", t));
}

#[test]
fn heads_check_with_two_heads() {
    let env = TestEnv::native(&graphs::fork());
    let run = env.run(&["heads", "--check"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("bbbb") && run.stderr.contains("cccc"));
    assert!(run.stderr.contains("merge heads"), "says how to fix it");
    let json = env.run(&["heads", "--check", "--json"]);
    assert_eq!(json.code, 1);
    assert_eq!(
        json.json().as_array().unwrap().len(),
        2,
        "JSON still printed"
    );
    let one = TestEnv::native(&graphs::merge()).run(&["heads", "--check"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "error_heads_check",
            format!("{}\n{}", run.transcript(), one.transcript())
        )
    });
}

#[test]
fn no_project_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let env = TestEnv::new();
    std::fs::remove_file(env.path("mergepoint.yaml")).unwrap();
    std::fs::remove_dir(env.path("revisions")).unwrap();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let t = expect(
        &env,
        &[
            (&["heads"], 2),
            (&["--dir", missing, "heads"], 2),
            (&["heads", "--bogus"], 2),
            (&["graph", "--format", "png"], 2),
            (&["merge", "-m", "x"], 2),
            (&["nosuchcommand"], 2),
        ],
    )
    .replace(missing, "[MISSING]");
    env.settings()
        .bind(|| insta::assert_snapshot!("error_usage", t));
}

#[test]
fn init_twice() {
    let env = TestEnv::new();
    let t = expect(&env, &[(&["init"], 2)]);
    env.settings()
        .bind(|| insta::assert_snapshot!("error_init_twice", t));
}

/// Issue 10: `upgrade -0` sent the user to `downgrade -0` and back, and
/// `+0`/`-0` elsewhere meant base; a walk of zero steps names nothing.
#[test]
fn zero_steps_are_refused_for_what_they_are() {
    let env = TestEnv::native(&graphs::linear());
    for args in [
        &["upgrade", "-0", "--sql"][..],
        &["upgrade", "+0", "--sql"],
        &["downgrade", "cccc:-0", "--sql"],
        &["downgrade", "cccc:+0", "--sql"],
        &["show", "-0"],
        &["plan", "cccc", "-0"],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(
            run.stderr.contains("is a walk of zero steps"),
            "{}",
            run.transcript()
        );
        assert!(
            !run.stderr.contains("use `upgrade") && !run.stderr.contains("use `downgrade"),
            "sends the user to the other command: {}",
            run.transcript()
        );
    }
    // A walk the wrong way still says which command walks that way.
    let run = env.run(&["upgrade", "-1", "--sql"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("use `downgrade -1`"), "{}", run.stderr);
}

/// Issue 10: `show base-1` walked down from the heads (and showed the head
/// when there was one); nothing lies below base.
#[test]
fn nothing_lies_below_base() {
    for graph in [graphs::linear(), graphs::fork()] {
        let env = TestEnv::native(&graph);
        for args in [
            &["show", "base-1"][..],
            &["downgrade", "cccc:base-1", "--sql"],
        ] {
            let run = env.run(args);
            assert_eq!(run.code, 2, "{}", run.transcript());
            assert!(
                run.stderr
                    .starts_with("error: 'base-1' walks past the base of the graph"),
                "{}",
                run.transcript()
            );
        }
        // Up from base is still the first revision.
        let run = env.run(&["show", "base+1"]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(run.stdout.starts_with("Rev: aaaa"), "{}", run.stdout);
    }
}

#[test]
fn check_refuses_dev_server_options_without_a_check_that_uses_them() {
    // --dev-url and --schema-name only mean something with --schema or
    // --merges; alone they would be ignored without a word.
    let env = TestEnv::native(&graphs::linear());
    let t = expect(
        &env,
        &[
            (&["check", "--dev-url", "postgresql://localhost/dev"], 2),
            (&["check", "--schema-name", "public"], 2),
        ],
    );
    assert!(t.contains("<--schema|--merges>"), "{t}");
    assert!(
        t.contains("check --schema-name <NAME> <--schema|--merges>"),
        "{t}"
    );
}
