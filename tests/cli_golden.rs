//! Golden tests: every read command's text and `--json` output on the
//! letter-named fixture graphs (see `cli_util::graphs`), snapshotted with
//! stdout, stderr and exit code together.

mod cli_util;

use cli_util::{graphs, TestEnv};

/// The read commands, text form.
const TEXT: &[&[&str]] = &[
    &["heads"],
    &["heads", "--verbose"],
    &["heads", "--check"],
    &["branches"],
    &["history"],
    &["history", "--verbose"],
    &["show", "heads"],
    &["plan", "base", "heads"],
    &["plan", "heads", "base"],
    &["check"],
    &["graph"],
    &["graph", "--format", "mermaid"],
];

/// The read commands, JSON form.
const JSON: &[&[&str]] = &[
    &["heads", "--json"],
    &["branches", "--json"],
    &["history", "--json"],
    &["show", "heads", "--json"],
    &["plan", "base", "heads", "--json"],
    &["check", "--json"],
    &["graph", "--json"],
];

fn golden(name: &str, env: &TestEnv) {
    env.settings().bind(|| {
        insta::assert_snapshot!(format!("{name}_text"), env.transcript(TEXT));
        insta::assert_snapshot!(format!("{name}_json"), env.transcript(JSON));
    });
}

#[test]
fn linear() {
    golden("linear", &TestEnv::native(&graphs::linear()));
}

#[test]
fn fork() {
    golden("fork", &TestEnv::native(&graphs::fork()));
}

#[test]
fn merge() {
    golden("merge", &TestEnv::native(&graphs::merge()));
}

#[test]
fn labels() {
    let env = TestEnv::native(&graphs::labels());
    golden("labels", &env);
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "labels_identifiers",
            env.transcript(&[
                &["show", "core@head"],
                &["show", "billing"],
                &["history", "-r", "billing@base:billing@head"],
                &["plan", "base", "core@head"],
                &["plan", "heads", "billing@base"],
            ])
        );
    });
}

#[test]
fn depends_on() {
    golden("depends_on", &TestEnv::native(&graphs::depends_on()));
}

#[test]
fn history_ranges_and_prefixes() {
    let env = TestEnv::native(&graphs::merge());
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "merge_ranges",
            env.transcript(&[
                &["history", "-r", "bbbb:"],
                &["history", "-r", ":dddd"],
                &["history", "-r", "cccc:eeee"],
                &["show", "dd"],
                &["show", "head"],
                &["plan", "bbbb", "eeee"],
                &["plan", "eeee", "bbbb"],
                &["plan", "eeee", "eeee"],
            ])
        );
    });
}

#[test]
fn empty_project() {
    let env = TestEnv::new();
    env.settings().bind(|| {
        insta::assert_snapshot!(
            "empty",
            env.transcript(&[
                &["heads"],
                &["heads", "--json"],
                &["history"],
                &["check"],
                &["graph"]
            ])
        );
    });
}

/// The JSON contract of docs/json.md, checked field by field so a renamed
/// or dropped field fails even if someone accepts a snapshot.
#[test]
fn heads_and_history_json_contract() {
    let env = TestEnv::native(&graphs::merge());
    let required = [
        "revision",
        "parents",
        "children",
        "branch_labels",
        "depends_on",
        "message",
        "is_head",
        "is_branchpoint",
        "is_mergepoint",
        "file",
    ];
    for cmd in [&["heads", "--json"][..], &["history", "--json"][..]] {
        let run = env.run(cmd);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let items = run.json();
        let items = items.as_array().expect("an array");
        assert!(!items.is_empty());
        for item in items {
            for key in required {
                assert!(
                    item.get(key).is_some(),
                    "{cmd:?}: missing '{key}' in {item}"
                );
            }
        }
    }
    let history = env.run(&["history", "--json"]).json();
    let order: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["revision"].as_str().unwrap())
        .collect();
    // Real `alembic history` on the same graph lists bbbb before cccc.
    assert_eq!(
        order,
        ["eeee", "dddd", "bbbb", "cccc", "aaaa"],
        "display order, newest first"
    );
    let d = &history[1];
    assert_eq!(d["parents"], serde_json::json!(["bbbb", "cccc"]));
    assert_eq!(d["is_mergepoint"], true);
    assert_eq!(history[4]["is_branchpoint"], true);
    assert_eq!(history[0]["is_head"], true);
    assert_eq!(history[4]["is_head"], false);
}

/// `graph` output is structurally sound: every revision is a node, every
/// parent link an edge, braces balance.
#[test]
fn graph_outputs_are_well_formed() {
    let env = TestEnv::native(&graphs::merge());
    let dot = env.run(&["graph", "--format", "dot"]);
    assert_eq!(dot.code, 0);
    assert!(dot.stdout.starts_with("digraph revisions {"));
    assert!(dot.stdout.trim_end().ends_with('}'));
    assert_eq!(
        dot.stdout.matches('{').count(),
        dot.stdout.matches('}').count()
    );
    assert_eq!(dot.stdout.matches(" -> ").count(), 5, "5 parent edges");
    let mermaid = env.run(&["graph", "--format", "mermaid"]);
    assert!(mermaid.stdout.starts_with("flowchart TD\n"));
    assert_eq!(mermaid.stdout.matches(" --> ").count(), 5);
    assert!(mermaid.stdout.contains("class r4 head"));
}

#[test]
fn help_has_examples() {
    let env = TestEnv::new();
    for cmd in [
        "init",
        "revision",
        "merge",
        "heads",
        "branches",
        "history",
        "show",
        "plan",
        "check",
        "graph",
        "current",
        "upgrade",
        "downgrade",
        "stamp",
        "diff",
        "schema",
    ] {
        let run = env.run(&[cmd, "--help"]);
        assert_eq!(run.code, 0, "{cmd} --help");
        assert!(
            run.stdout.contains("Examples:"),
            "{cmd} --help has no examples"
        );
        assert!(
            run.stdout.contains("--dir <PATH>"),
            "{cmd} --help lacks --dir"
        );
    }
    env.settings().bind(|| {
        insta::assert_snapshot!("help", env.transcript(&[&["--help"], &["heads", "--help"]]));
    });
}

/// Closing stdout early (`mergepoint history | head -1`) is not an error.
#[test]
fn broken_pipe_exits_quietly() {
    let revs: Vec<cli_util::Rev> = (0..3000)
        .map(|i| {
            let id: &'static str = Box::leak(format!("r{i:05}").into_boxed_str());
            let parents: Vec<&'static str> = if i == 0 {
                vec![]
            } else {
                vec![Box::leak(format!("r{:05}", i - 1).into_boxed_str())]
            };
            cli_util::Rev {
                id,
                parents,
                message: format!("revision number {i} with a long enough message"),
                ..Default::default()
            }
        })
        .collect();
    let env = TestEnv::native(&revs);
    let bin = assert_cmd::cargo::cargo_bin("mergepoint");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' history --verbose | head -n 1; exit ${{PIPESTATUS:-0}}",
            bin.display()
        ))
        .current_dir(env.root())
        .output()
        .unwrap();
    let mut child = std::process::Command::new(&bin)
        .args(["history", "--verbose"])
        .current_dir(env.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "", "no error message on a closed pipe");
    assert!(out.status.success());
}

/// Messages with quotes, angle brackets and backslashes stay inside their
/// node labels in dot and Mermaid.
#[test]
fn graph_escapes_labels() {
    let env = TestEnv::native(&[
        cli_util::rev("aaaa", &[]).msg(r#"'say "hi" <b> & back\slash'"#),
        cli_util::rev("bbbb", &["aaaa"]).msg("plain"),
    ]);
    let dot = env.run(&["graph"]);
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    assert!(
        dot.stdout
            .contains(r#"label="aaaa\nsay \"hi\" <b> & back\\slash""#),
        "{}",
        dot.stdout
    );
    let mermaid = env.run(&["graph", "--format", "mermaid"]);
    assert!(
        mermaid
            .stdout
            .contains(r#"r0["aaaa<br/>say #quot;hi#quot; #lt;b#gt; & back\slash"]"#),
        "{}",
        mermaid.stdout
    );
}

/// `--dir` accepts the project root or the revisions directory itself,
/// from anywhere.
#[test]
fn dir_points_at_root_or_revisions() {
    let env = TestEnv::native(&graphs::merge());
    let elsewhere = tempfile::tempdir().unwrap();
    for dir in [env.root().to_path_buf(), env.path("revisions")] {
        let out = assert_cmd::Command::cargo_bin("mergepoint")
            .unwrap()
            .args(["--dir", dir.to_str().unwrap(), "heads"])
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "eeee (head)\n",
            "{dir:?}"
        );
    }
    let alembic = TestEnv::fixture("alembic_shop");
    let run = env.run(&[
        "--dir",
        alembic.path("proj/versions").to_str().unwrap(),
        "heads",
    ]);
    assert_eq!(
        run.stdout, "ffff (head)\nhhhh (reports) (head)\n",
        "{}",
        run.stderr
    );
}

/// Writes A <- B where B's message has three lines.
fn multi_line_message() -> TestEnv {
    let env = TestEnv::native(&graphs::linear()[..1]);
    env.write(
        "revisions/bbbb_rev.yaml",
        "id: bbbb\nparents: [aaaa]\nmessage: |\n  add orders\n\n  Second paragraph: why.\ncreated: 2026-11-22T10:15:00Z\nupgrade: |\n  CREATE TABLE t_bbbb (id int);\ndowngrade: |\n  DROP TABLE t_bbbb;\n",
    );
    env
}

/// Issue 10: a multi-line message printed raw newlines into one-line
/// output. One-line forms show the first line (as Alembic does); `show`,
/// `--verbose` and JSON keep the whole text.
#[test]
fn multi_line_messages_print_their_first_line_on_one_line() {
    let env = multi_line_message();
    for args in [
        &["history"][..],
        &["branches", "--verbose"],
        &["plan", "base", "heads"],
        &["graph"],
        &["graph", "--format", "mermaid"],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert!(!run.stdout.contains("why."), "{}", run.transcript());
    }
    let history = env.run(&["history"]);
    assert_eq!(
        history.stdout,
        "aaaa -> bbbb (head), add orders\n<base> -> aaaa, create users\n"
    );
    let plan = env.run(&["plan", "base", "heads"]);
    assert!(
        plan.stdout.contains("upgrade aaaa -> bbbb, add orders\n"),
        "{}",
        plan.stdout
    );
    for args in [&["show", "bbbb"][..], &["history", "--verbose"]] {
        let run = env.run(args);
        assert!(
            run.stdout
                .contains("    add orders\n    \n    Second paragraph: why.\n"),
            "{}",
            run.transcript()
        );
    }
    let json = env.run(&["show", "bbbb", "--json"]).json();
    assert_eq!(json[0]["message"], "add orders\n\nSecond paragraph: why.\n");
    let json = env.run(&["plan", "base", "heads", "--json"]).json();
    assert_eq!(
        json["steps"][1]["message"],
        "add orders\n\nSecond paragraph: why.\n"
    );
}

/// MERGEPOINT_TIMINGS=1 prints one `timing: <phase> <ms> ms` line per
/// phase on stderr (scripts/bench reads them), the cache's report, and
/// nothing at all without the variable.
#[test]
fn timings_print_one_line_per_phase() {
    let env = TestEnv::native(&graphs::linear());
    let quiet = env.run(&["heads"]);
    assert_eq!(quiet.stderr, "", "{}", quiet.transcript());
    for (args, phases) in [
        (
            &["heads"][..],
            &["load", "graph", "command", "output", "teardown"][..],
        ),
        (
            &["upgrade", "head", "--sql"],
            &["load", "graph", "plan", "render", "command", "output"],
        ),
        (&["check"], &["load", "graph", "command"]),
    ] {
        let run = env.run_with_env(args, &[("MERGEPOINT_TIMINGS", "1")]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_eq!(run.stdout, env.run(args).stdout);
        let mut seen = Vec::new();
        for line in run.stderr.lines() {
            let rest = line.strip_prefix("timing: ").expect(line);
            let (phase, value) = rest.split_once(' ').unwrap();
            if phase == "cache" {
                continue;
            }
            let ms = value.trim().strip_suffix(" ms").expect(line);
            assert!(ms.parse::<f64>().is_ok_and(|v| v >= 0.0), "{line}");
            seen.push(phase.to_string());
        }
        for p in phases {
            assert!(seen.iter().any(|s| s == p), "no {p} in {}", run.stderr);
        }
        assert_eq!(
            run.stderr.matches("timing: cache").count(),
            1,
            "{}",
            run.stderr
        );
    }
}
