//! Hostile input: deep nesting, over-long ids, transaction control in a
//! transactional revision.

use super::*;

#[test]
fn alembic_deep_nesting_is_a_named_error_not_a_stack_overflow() {
    let deep = format!(
        "\"\"\"m\"\"\"\nrevision = 'a1'\ndown_revision = {}'a0'{}\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let e = parse_alembic(&p("versions/a1_x.py"), &deep).unwrap_err();
    assert_names(&e, "versions/a1_x.py", Some(3));
    assert!(e.to_string().contains("more than 200 deep"), "{e}");
    // Python's own limit: 200 open brackets read, 201 do not.
    let ok = format!(
        "revision = 'a1'\ndown_revision = {}'a0'{}\n",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert_eq!(parse_alembic(&p("x.py"), &ok).unwrap().parents, vec!["a0"]);
    let over = ok.replacen('(', "((", 1).replacen(')', "))", 1);
    assert!(parse_alembic(&p("x.py"), &over).is_err());
    // Nested f-strings and nested format specs recurse in the lexer.
    for text in [
        format!("x = {}1{}\n", "f'{".repeat(50_000), "}'".repeat(50_000)),
        format!(
            "x = f'{{a:{}{}'\n",
            "{a:".repeat(50_000),
            "}".repeat(50_000)
        ),
    ] {
        let e = parse_alembic(&p("x.py"), &text).unwrap_err();
        assert!(e.to_string().contains("deep"), "{e}");
    }
}

#[test]
fn native_deep_nesting_is_a_yaml_error_not_a_stack_overflow() {
    // serde_yaml stops at 128 levels, but libyaml scans the whole text
    // first, in time quadratic in the nesting: 50,000 levels took 18 s of
    // the suite in a debug build, 20,000 (150 times the limit) about 4 s,
    // so only the first case is that deep.
    for deep in [
        format!("id: a\nparents: {}\n", "[".repeat(20_000)),
        format!(
            "id: a\nparents: {}{}\n",
            "[".repeat(5_000),
            "]".repeat(5_000)
        ),
        format!("id: a\nparents: {}\n", "{a: ".repeat(5_000)),
        format!("{}\n", "- ".repeat(5_000)),
    ] {
        let e = parse_native(&p("revisions/x.yaml"), &deep).unwrap_err();
        assert_eq!(e.path(), Path::new("revisions/x.yaml"), "{e}");
        if deep.len() < 50_000 {
            let c = crate::config::Config::parse(Path::new("mergepoint.yaml"), &deep);
            assert!(c.is_err());
        }
    }
}

#[test]
fn ids_longer_than_the_version_column_are_refused_on_read_and_write() {
    let long = "a".repeat(33);
    let ok = "b".repeat(32);
    let native =
        |id: &str| format!("message: m\nid: {id}\nparents: []\nupgrade: ''\ndowngrade: ''\n");
    assert_eq!(parse_native(&p("x.yaml"), &native(&ok)).unwrap().0.id, ok);
    let e = parse_native(&p("revisions/x.yaml"), &native(&long)).unwrap_err();
    assert_names(&e, "revisions/x.yaml", Some(2));
    assert!(
        e.to_string()
            .contains("33 characters long, but ids are at most 32"),
        "{e}"
    );
    // Characters, as varchar counts them, not bytes.
    let wide = "é".repeat(32);
    assert!(parse_native(&p("x.yaml"), &native(&wide)).is_ok());

    let py = |id: &str| format!("\"\"\"m\"\"\"\n\nrevision = '{id}'\ndown_revision = None\n");
    assert_eq!(parse_alembic(&p("x.py"), &py(&ok)).unwrap().id, ok);
    let e = parse_alembic(&p("versions/x.py"), &py(&long)).unwrap_err();
    assert_names(&e, "versions/x.py", Some(3));
    assert!(e.to_string().contains("at most 32"), "{e}");
    // The legacy id taken from a `<hex>.py` file name is held to it too.
    let name = format!("versions/{}.py", "a".repeat(40));
    assert!(parse_alembic(&p(&name), "down_revision = None\n").is_err());

    let tmp = tempfile::tempdir().unwrap();
    let project = init_project(tmp.path()).unwrap();
    let new = NewRevision {
        id: long,
        parents: vec![],
        depends_on: vec![],
        branch_labels: vec![],
        message: "m".into(),
        created: chrono::Utc::now(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    let e = write_revision(&project, &new).unwrap_err();
    assert!(e.to_string().contains("at most 32"), "{e}");
    assert!(fs::read_dir(&project.revisions_dirs[0])
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn transaction_control_in_a_transactional_revision_is_refused_on_load() {
    let file = |tx: &str, up: &str| {
        format!(
            "id: a\nparents: []\nmessage: m\ntransactional: {tx}\nupgrade: |\n{up}downgrade: ''\n"
        )
    };
    let up = "  create table c1(x int);\n  commit;\n  create table c2();\n";
    let e = parse_native(&p("revisions/a.yaml"), &file("true", up)).unwrap_err();
    assert_names(&e, "revisions/a.yaml", Some(7));
    let msg = e.to_string();
    assert!(
        msg.contains("COMMIT at the top level of the upgrade SQL"),
        "{msg}"
    );
    assert!(
        msg.contains("`transactional: false` or remove the statement"),
        "{msg}"
    );
    // Fine when not transactional, and in function bodies.
    assert!(parse_native(&p("a.yaml"), &file("false", up)).is_ok());
    let body = "  DO $$ BEGIN PERFORM 1; END $$;\n  select begin from t;\n";
    assert!(parse_native(&p("a.yaml"), &file("true", body)).is_ok());
    // The downgrade too; a quoted scalar points at its key's line.
    let down = "id: a\nparents: []\nmessage: m\nupgrade: ''\ndowngrade: \"select 1; rollback\"\n";
    let e = parse_native(&p("a.yaml"), down).unwrap_err();
    assert_names(&e, "a.yaml", Some(5));
    assert!(
        e.to_string()
            .contains("ROLLBACK at the top level of the downgrade SQL"),
        "{e}"
    );
}
