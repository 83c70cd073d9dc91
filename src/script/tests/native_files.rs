//! Native YAML revision files: parsing, rendering, losslessness, errors.

use super::*;

const DESIGN_EXAMPLE: &str = "id: 3f2a9c1d7e55
parents: [a1b2c3d4e5f6]          # [] for a base; 2+ for a merge
depends_on: []                   # cross-branch dependencies (optional)
branch_labels: []                # optional
message: add orders.status
created: 2026-11-22T10:15:00Z
transactional: true              # false for CREATE INDEX CONCURRENTLY etc.
upgrade: |
  ALTER TABLE orders ADD COLUMN status text;
downgrade: |
  ALTER TABLE orders DROP COLUMN status;
";

#[test]
fn native_parses_design_example() {
    let (r, b) = parse_native(&p("revisions/x.yaml"), DESIGN_EXAMPLE).unwrap();
    assert_eq!(r.id, "3f2a9c1d7e55");
    assert_eq!(r.parents, vec!["a1b2c3d4e5f6"]);
    assert!(r.depends_on.is_empty() && r.branch_labels.is_empty());
    assert_eq!(r.message, "add orders.status");
    assert_eq!(r.origin, "revisions/x.yaml");
    assert_eq!(b.created.as_deref(), Some("2026-11-22T10:15:00Z"));
    assert!(b.transactional);
    assert_eq!(b.upgrade, "ALTER TABLE orders ADD COLUMN status text;\n");
    assert_eq!(b.downgrade, "ALTER TABLE orders DROP COLUMN status;\n");
}

#[test]
fn native_optional_fields_default() {
    let text = "id: abc\nparents: []\nmessage: m\nupgrade: ''\ndowngrade: ''\n";
    let (r, b) = parse_native(&p("x.yaml"), text).unwrap();
    assert!(r.parents.is_empty() && r.depends_on.is_empty());
    assert!(b.transactional);
    assert_eq!(b.created, None);
}

#[test]
fn native_render_matches_design_layout() {
    let r = rev(
        "3f2a9c1d7e55",
        &["a1b2c3d4e5f6"],
        &[],
        &[],
        "add orders.status",
    );
    let b = NativeBody {
        created: Some("2026-11-22T10:15:00Z".into()),
        transactional: true,
        upgrade: "ALTER TABLE orders ADD COLUMN status text;\n".into(),
        downgrade: "ALTER TABLE orders DROP COLUMN status;\n".into(),
        lock_timeout: None,
        statement_timeout: None,
    };
    assert_eq!(
        render_native(&r, &b),
        "id: 3f2a9c1d7e55
parents: [a1b2c3d4e5f6]
depends_on: []
branch_labels: []
message: add orders.status
created: 2026-11-22T10:15:00Z
transactional: true
upgrade: |
  ALTER TABLE orders ADD COLUMN status text;
downgrade: |
  ALTER TABLE orders DROP COLUMN status;
"
    );
}

fn roundtrip(r: &Revision, b: &NativeBody) {
    let text = render_native(r, b);
    let (r2, b2) = parse_native(&p("t.yaml"), &text)
        .unwrap_or_else(|e| panic!("rendered text does not parse: {e}\n---\n{text}"));
    let mut r2 = r2;
    r2.origin.clear();
    assert_eq!(&r2, r, "revision changed; text:\n{text}");
    assert_eq!(&b2, b, "body changed; text:\n{text}");
}

#[test]
fn native_roundtrip_tricky_values() {
    let cases = [
        (
            "123456789012",
            "quotes ' and \" and: colons # hash",
            "SELECT 1;   \n  \nSELECT 2;",
        ),
        ("1e10", "ünïcödé → ✓ 🎉", "  leading spaces\n"),
        ("true", "- dash start", "\n\nleading blank lines\n\n\n"),
        ("null", "", ""),
        ("0x1f", "  padded  ", "   "),
        ("abc", "multi\nline\nmessage\n", "tab\there\r\nwindows\r\n"),
        ("abc", "yes", "\u{85}nel and \u{2028} and \u{feff} bom\u{7}"),
        ("abc", "~", "x\n  \n    y  \n"),
        ("abc", "[not, a, list]", "\t\ttabbed first\n"),
    ];
    for (id, msg, sql) in cases {
        let r = rev(
            id,
            &["p1", "0042", "a b"],
            &["dep,x"],
            &["lab:el", "-x"],
            msg,
        );
        let b = NativeBody {
            created: Some("2026-01-02T03:04:05.123+02:00".into()),
            transactional: false,
            upgrade: sql.into(),
            downgrade: format!("{sql}\n"),
            lock_timeout: None,
            statement_timeout: None,
        };
        roundtrip(&r, &b);
    }
}

#[test]
fn native_renders_sql_as_literal_blocks() {
    let r = rev("abc", &[], &[], &[], "m");
    let b = NativeBody {
        created: None,
        transactional: true,
        upgrade: "SELECT 1;  ".into(),
        downgrade: "SELECT 2;\n\n".into(),
        lock_timeout: None,
        statement_timeout: None,
    };
    let text = render_native(&r, &b);
    assert!(text.contains("upgrade: |-\n  SELECT 1;  \n"), "{text}");
    assert!(text.contains("downgrade: |+\n  SELECT 2;\n\n"), "{text}");
    assert!(!text.contains("created"));
    roundtrip(&r, &b);
}

pub(super) fn yaml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,12}",
        "[ -~]{0,30}",
        "[ -~\n\t]{0,60}",
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                Just("SELECT 1;".to_string()),
                Just(" ".to_string()),
                Just("\n".to_string()),
                Just("  -- c".to_string()),
                Just("\t".to_string()),
                "[ -~]{0,8}"
            ],
            0..12
        )
        .prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn native_render_parse_is_lossless(
        id in yaml_string(),
        parents in prop::collection::vec(yaml_string(), 0..3),
        deps in prop::collection::vec(yaml_string(), 0..2),
        labels in prop::collection::vec(yaml_string(), 0..2),
        message in yaml_string(),
        created in prop::option::of((0i64..4_000_000_000).prop_map(|s| chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339())),
        transactional in any::<bool>(),
        upgrade in yaml_string(),
        downgrade in yaml_string(),
        lock_timeout in prop::option::of("[0-9]{1,5}(ms|s|min|)"),
        statement_timeout in prop::option::of("[0-9]{1,3}(\\.[0-9])?(s|h|)"),
    ) {
        // Longer ids and transaction control in a transactional revision
        // are refused (tested on their own).
        let id: String = id.chars().take(crate::script::MAX_REVISION_ID_CHARS).collect();
        prop_assume!(!transactional || (crate::sql::transaction_control(&upgrade).is_none() && crate::sql::transaction_control(&downgrade).is_none()));
        let r = Revision { id, parents, depends_on: deps, branch_labels: labels, message, origin: String::new() };
        let b = NativeBody { created, transactional, upgrade, downgrade, lock_timeout, statement_timeout };
        let text = render_native(&r, &b);
        let parsed = parse_native(&p("t.yaml"), &text);
        prop_assert!(parsed.is_ok(), "does not parse: {:?}\n{}", parsed.err(), text);
        let (mut r2, b2) = parsed.unwrap();
        r2.origin.clear();
        prop_assert_eq!(r2, r, "{}", text);
        prop_assert_eq!(b2, b, "{}", text);
    }
}

#[test]
fn native_malformed_yaml_names_file_and_line() {
    let text = "id: abc\nparents: [a\nmessage: x\n";
    let e = parse_native(&p("revs/bad.yaml"), text).unwrap_err();
    assert!(matches!(e, LoadError::Yaml { .. }), "{e:?}");
    assert!(e.line().is_some());
    assert_names(&e, "revs/bad.yaml", None);
}

#[test]
fn native_unknown_field_is_an_error_with_line() {
    let text = "id: abc\nparents: []\nmesage: typo\nupgrade: x\ndowngrade: y\n";
    let e = parse_native(&p("revs/typo.yaml"), text).unwrap_err();
    assert!(matches!(e, LoadError::Yaml { .. }), "{e:?}");
    assert!(e.to_string().contains("mesage"), "{e}");
    assert_names(&e, "revs/typo.yaml", Some(3));
}

#[test]
fn native_wrong_type_is_an_error_with_line() {
    let text = "id: abc\nparents: []\nmessage: m\ntransactional: maybe\nupgrade: x\ndowngrade: y\n";
    let e = parse_native(&p("r.yaml"), text).unwrap_err();
    assert_names(&e, "r.yaml", Some(4));
    let text = "id: abc\nparents: a1b2\nmessage: m\nupgrade: x\ndowngrade: y\n";
    let e = parse_native(&p("r.yaml"), text).unwrap_err();
    assert_names(&e, "r.yaml", Some(2));
    assert!(e.to_string().contains("sequence"), "{e}");
}

#[test]
fn native_missing_fields() {
    for (field, text) in [
        ("id", "parents: []\nmessage: m\nupgrade: x\ndowngrade: y\n"),
        ("parents", "id: a\nmessage: m\nupgrade: x\ndowngrade: y\n"),
        ("message", "id: a\nparents: []\nupgrade: x\ndowngrade: y\n"),
        ("upgrade", "id: a\nparents: []\nmessage: m\ndowngrade: y\n"),
        ("downgrade", "id: a\nparents: []\nmessage: m\nupgrade: x\n"),
    ] {
        let e = parse_native(&p("m.yaml"), text).unwrap_err();
        match &e {
            LoadError::MissingField { field: f, .. } => assert_eq!(*f, field),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains(&format!("'{field}'")), "{e}");
        assert_names(&e, "m.yaml", None);
    }
}

#[test]
fn native_not_a_mapping_is_not_a_revision() {
    for text in ["- a\n- b\n", "just text\n", ""] {
        let e = parse_native(&p("n.yaml"), text).unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::NotARevision { .. } | LoadError::MissingField { .. }
            ),
            "{text:?}: {e:?}"
        );
        assert_names(&e, "n.yaml", None);
    }
}

#[test]
fn native_bad_created_is_an_error() {
    let text = "id: a\nparents: []\nmessage: m\ncreated: yesterday\nupgrade: x\ndowngrade: y\n";
    let e = parse_native(&p("c.yaml"), text).unwrap_err();
    assert_names(&e, "c.yaml", Some(4));
    assert!(e.to_string().contains("RFC 3339"), "{e}");
}
