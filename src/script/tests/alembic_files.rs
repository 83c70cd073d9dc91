//! Alembic `.py` revision files: the static reader, the writer, slugs and
//! file names, against what real Alembic does.

use super::*;

/// What Alembic 1.20's default template writes (`alembic merge heads`).
const ALEMBIC_MERGE: &str = r#""""Merge heads

Revision ID: ffffffffffff
Revises: dddddddddddd, eeeeeeeeeeee
Create Date: 2026-11-22 20:52:35.592406

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'ffffffffffff'
down_revision: Union[str, Sequence[str], None] = ('dddddddddddd', 'eeeeeeeeeeee')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
"#;

#[test]
fn alembic_default_template() {
    let r = parse_alembic(&p("v/ffffffffffff_merge_heads.py"), ALEMBIC_MERGE).unwrap();
    assert_eq!(r.id, "ffffffffffff");
    assert_eq!(r.parents, vec!["dddddddddddd", "eeeeeeeeeeee"]);
    assert!(r.branch_labels.is_empty() && r.depends_on.is_empty());
    // The message is the whole docstring (`Script.longdoc`); its first
    // paragraph is Alembic's `Script.doc`.
    assert_eq!(alembic_doc(&r.message), "Merge heads");
    assert!(
        r.message
            .starts_with("Merge heads\n\nRevision ID: ffffffffffff"),
        "{}",
        r.message
    );
    assert_eq!(r.origin, "v/ffffffffffff_merge_heads.py");
}

#[test]
fn alembic_render_matches_alembic_byte_for_byte() {
    let new = NewRevision {
        id: "ffffffffffff".into(),
        parents: vec!["dddddddddddd".into(), "eeeeeeeeeeee".into()],
        depends_on: vec![],
        branch_labels: vec![],
        message: "Merge heads".into(),
        created: chrono::DateTime::parse_from_rfc3339("2026-11-22T20:52:35.592406Z")
            .unwrap()
            .to_utc(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    let ours = render_alembic(&new);
    // Alembic writes local time without a zone; we write UTC with "+00:00"
    // (what Alembic writes with `timezone = UTC`).
    let expected = ALEMBIC_MERGE.replace("20:52:35.592406", "20:52:35.592406+00:00");
    assert_eq!(ours, expected);
}

#[test]
fn alembic_render_labels_deps_and_base() {
    let new = NewRevision {
        id: "bbbbbbbbbbbb".into(),
        parents: vec![],
        depends_on: vec!["cccc".into()],
        branch_labels: vec!["shop".into()],
        message: "branch b".into(),
        created: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    };
    let text = render_alembic(&new);
    assert!(
        text.contains("Revises: \nCreate Date: 2023-11-14 22:13:20+00:00\n"),
        "{text}"
    );
    assert!(text.contains("down_revision: Union[str, Sequence[str], None] = None\n"));
    assert!(text.contains("branch_labels: Union[str, Sequence[str], None] = ('shop',)\n"));
    assert!(text.contains("depends_on: Union[str, Sequence[str], None] = 'cccc'\n"));
}

/// Files checked against real Alembic; the expected tuples are what
/// `ScriptDirectory._load_revisions` printed for them.
const A_MULTI: &str = r#"# -*- coding: utf-8 -*-
r"""Merge heads: "a" and 'b'

with a \n second paragraph
"""
from typing import Union, Sequence
revision = "1a1a1a1a1a1a"
down_revision = (
    '2b2b2b2b2b2b',  # the left one
    "3c3c3c3c3c3c",
)
branch_labels = None
depends_on: Union[str, Sequence[str], None] = ['4d4d'
                                               , "5e5e",]
def upgrade():
    revision = "nope"
    s = """
revision = 'also nope'
"""
"#;

const A_SINGLE: &str = "'''  Add \"orders\" table\\twith tab  \nline two of para one\n\nRevision ID: 2b2b2b2b2b2b\n'''\nfrom typing import Union, Sequence\nrevision: str = '2b2b' '2b2b' \\\n    \"2b2b\"\ndown_revision: Union[str, Sequence[str], None] = (\"4d4d\")\nbranch_labels = 'shop',\ndepends_on = None; x = 1\n";

#[test]
fn alembic_matches_real_alembic_on_tricky_files() {
    let cases: Vec<(&str, String, Revision)> = vec![
        (
            "1a_multi.py",
            A_MULTI.to_string(),
            rev("1a1a1a1a1a1a", &["2b2b2b2b2b2b", "3c3c3c3c3c3c"], &["4d4d", "5e5e"], &[], "Merge heads: \"a\" and 'b'"),
        ),
        (
            "2b_single.py",
            A_SINGLE.to_string(),
            rev("2b2b2b2b2b2b", &["4d4d"], &[], &["shop"], "Add \"orders\" table\twith tab  \nline two of para one"),
        ),
        (
            "3c.py",
            "revision = '3c3c3c3c3c3c'\ndown_revision = '4d4d'\nbranch_labels = ('a', 'b')\nrevision = '3c3c3c3c3c3c'\n".to_string(),
            rev("3c3c3c3c3c3c", &["4d4d"], &[], &["a", "b"], ""),
        ),
        ("4d4d.py", "\"\"\"legacy\"\"\"\ndown_revision = None\n".to_string(), rev("4d4d", &[], &[], &[], "legacy")),
        (
            "5e_doc.py",
            "from __future__ import annotations\n\"\"\"not a docstring\"\"\"\nrevision = '5e5e'\ndown_revision = []\n".to_string(),
            rev("5e5e", &[], &[], &[], ""),
        ),
        (
            "6f_crlf.py",
            "\"\"\"crlf msg\r\n\r\nmore\"\"\"\r\nrevision = \"6f6f\"\r\ndown_revision = u\"5e5e\"\r\n".to_string(),
            rev("6f6f", &["5e5e"], &[], &[], "crlf msg"),
        ),
        (
            "7a_esc.py",
            "\"\"\"caf\\xe9 \\u00e9 \\\njoined done\"\"\"\nrevision = \"7a7a\"\ndown_revision = None\n".to_string(),
            rev("7a7a", &[], &[], &[], "café é joined done"),
        ),
    ];
    for (name, text, mut expected) in cases {
        let path = p(&format!("versions/{name}"));
        let mut got = parse_alembic(&path, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The expected messages are Alembic's `Script.doc`.
        got.message = alembic_doc(&got.message).to_string();
        expected.origin = path.display().to_string();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn alembic_last_assignment_wins_and_chained_assignment() {
    let text =
        "revision = 'a'\ndown_revision = None\nrevision = down = 'b'\nif x:\n    revision = 'c'\n";
    let r = parse_alembic(&p("x.py"), text).unwrap();
    assert_eq!(r.id, "b");
}

#[test]
fn alembic_ignores_lookalikes() {
    let text = "revision = 'a'\ndown_revision = None\nrevision_x = 'no'\nrevision == 'c'\nf(revision='d')\nrevision += 'e'\n# revision = 'f'\n";
    let r = parse_alembic(&p("x.py"), text).unwrap();
    assert_eq!(r.id, "a");
    assert!(r.parents.is_empty());
}

#[test]
fn alembic_unterminated_string_names_line() {
    let text = "\"\"\"doc\"\"\"\nrevision = 'abc\ndown_revision = None\n";
    let e = parse_alembic(&p("v/bad.py"), text).unwrap_err();
    assert!(matches!(e, LoadError::Python { .. }), "{e:?}");
    assert_names(&e, "v/bad.py", Some(2));
    assert!(e.to_string().contains("unterminated"), "{e}");

    let text = "revision = 'abc'\ndown_revision = None\ns = \"\"\"never closed\n\n";
    let e = parse_alembic(&p("v/bad.py"), text).unwrap_err();
    assert_names(&e, "v/bad.py", Some(3));
}

#[test]
fn alembic_computed_values_are_errors_with_line() {
    for (text, line) in [
        ("revision = 'a'\n\ndown_revision = foo()\n", 3),
        (
            "revision = 'a'\ndown_revision = None\nbranch_labels = ['x', y]\n",
            3,
        ),
        ("revision = f'a{x}'\ndown_revision = None\n", 1),
        ("revision = b'a'\ndown_revision = None\n", 1),
        ("revision = 'a'\ndown_revision = ('x',\n  ('y', 'z'))\n", 2),
        ("revision = 'a'\ndown_revision = (None, 'x')\n", 2),
        ("revision = 'a'\ndown_revision =\n", 2),
        ("revision = None\ndown_revision = None\n", 1),
        ("revision = ('a', 'b')\ndown_revision = None\n", 1),
        ("revision = '\\N{BULLET}'\ndown_revision = None\n", 1),
        ("revision = 'a'\ndown_revision = 'x' + 'y'\n", 2),
    ] {
        let e = parse_alembic(&p("v/c.py"), text).unwrap_err();
        assert!(matches!(e, LoadError::Python { .. }), "{text}: {e:?}");
        assert_names(&e, "v/c.py", Some(line));
    }
}

#[test]
fn alembic_no_revision_is_not_a_revision() {
    let e = parse_alembic(&p("v/helpers.py"), "def f():\n    pass\n").unwrap_err();
    assert!(matches!(e, LoadError::NotARevision { .. }), "{e:?}");
    assert_names(&e, "v/helpers.py", None);
    assert!(e.to_string().contains("revision"), "{e}");
}

#[test]
fn alembic_missing_down_revision() {
    let e = parse_alembic(&p("v/x.py"), "revision = 'a'\n").unwrap_err();
    assert!(
        matches!(
            e,
            LoadError::MissingField {
                field: "down_revision",
                ..
            }
        ),
        "{e:?}"
    );
    assert_names(&e, "v/x.py", None);
}

#[test]
fn alembic_never_panics_on_garbage() {
    for text in [
        "",
        "'",
        "\"\"\"",
        "\\",
        "revision = (",
        "revision = )",
        "revision =",
        "revision: = 'x'",
        "((((",
        "]]]]",
        "revision = 'a' \\",
        "r'",
        "rb'\\",
        "x = '\\x4'",
        "revision = '\\u12'",
        "é = 'x'\nrevision = 'é'\ndown_revision=None",
        "\u{feff}revision='a'\ndown_revision=None",
        "revision = 'a'\ndown_revision = [,]",
    ] {
        let _ = parse_alembic(&p("g.py"), text);
    }
}

proptest! {
    #[test]
    fn alembic_parser_total_on_arbitrary_text(s in "[ -~\n\t]{0,200}") {
        let _ = parse_alembic(&p("g.py"), &s);
    }

    #[test]
    fn alembic_parser_total_on_header_fragments(parts in prop::collection::vec(prop_oneof![
        Just("revision"), Just("down_revision"), Just(" = "), Just(": str"), Just("'a'"), Just("\"b\""),
        Just("("), Just(")"), Just("["), Just("]"), Just(","), Just("\n"), Just("\"\"\""), Just("#"),
        Just("\\\n"), Just("None"), Just("    "), Just("r"), Just("b"), Just("f"),
    ], 0..40)) {
        let _ = parse_alembic(&p("g.py"), &parts.concat());
    }
}

#[test]
fn alembic_written_file_reads_back() {
    for msg in [
        "plain",
        "quote \"\"\" inside",
        "ends with quote\"",
        "back\\slash \\n",
        "two\n\nparagraphs",
        "ünï ✓",
    ] {
        let new = NewRevision {
            id: "abcdef012345".into(),
            parents: vec!["p1".into()],
            depends_on: vec!["d1".into(), "d'2".into()],
            branch_labels: vec!["l1".into(), "l2".into()],
            message: msg.into(),
            created: chrono::Utc::now(),
            transactional: true,
            upgrade: "CREATE TABLE t (x int);\n".into(),
            downgrade: String::new(),
        };
        let text = render_alembic(&new);
        let r = parse_alembic(&p("x.py"), &text).unwrap();
        assert_eq!(r.id, new.id);
        assert_eq!(r.parents, new.parents);
        assert_eq!(r.depends_on, new.depends_on);
        assert_eq!(r.branch_labels, new.branch_labels);
        let expected = msg.trim().split("\n\n").next().unwrap();
        assert_eq!(alembic_doc(&r.message), expected, "{text}");
    }
}

#[test]
fn slug_matches_alembic() {
    for (msg, slug_) in [
        (
            "Add orders: status 'x' \"y\" ünï",
            "add_orders_status_x_y_ünï",
        ),
        ("", ""),
        ("   ", ""),
        (
            "a very long message that goes well beyond forty characters total",
            "a_very_long_message_that_goes_well_",
        ),
        (
            "Supercalifragilisticexpialidocious_and_more_words_here",
            "supercalifragilisticexpialidocious_and_",
        ),
        ("ÄÖÜ straße ΣΑΣ", "äöü_straße_σας"),
        ("x-y.z/w", "x_y_z_w"),
        (
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmn_",
        ),
    ] {
        assert_eq!(slug(msg), slug_, "{msg:?}");
    }
}

#[test]
fn revision_ids_look_like_alembics() {
    let a = new_revision_id();
    assert_eq!(a.len(), 12);
    assert!(a
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_ne!(a, new_revision_id());
}

#[test]
fn alembic_fstrings_with_nested_quotes_do_not_confuse_the_reader() {
    let text = r#""""msg"""
revision = 'a1'
down_revision = None

def upgrade():
    op.execute(f"UPDATE t SET x = '{d["k"]}' WHERE y = {f'{z}'} {{literal}}")
    op.execute(f"""multi
{ call("a",
       'b') }
""")
    op.execute(f'{x!r:>{width}}')
    op.execute(f"{x:'>10} {y:\"^5}")
revision = 'b2'
"#;
    let r = parse_alembic(&p("f.py"), text).unwrap();
    assert_eq!(r.id, "b2");
    assert_eq!(r.message, "msg");
    let e = parse_alembic(
        &p("f.py"),
        "revision = 'a'\ndown_revision = None\nx = f'{a'\n",
    )
    .unwrap_err();
    assert_names(&e, "f.py", Some(3));
}

#[test]
fn file_template_formats_like_python() {
    let d = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
        .unwrap()
        .to_utc();
    for (t, expected) in [
        ("%(rev)s_%(slug)s", "ab12_add_x"),
        (
            "%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s",
            "2026_03_04_0506-ab12_add_x",
        ),
        ("%(epoch)s_%(rev)s", "1772600767_ab12"),
        (
            "%(second)03d|%(minute)-4d|%(rev)10s|%(slug)-8s|%(day)+d|%(rev).3s%%x",
            "007|6   |      ab12|add_x   |+4|ab1%x",
        ),
    ] {
        assert_eq!(
            alembic::file_name(t, "ab12", "add_x", &d).unwrap(),
            expected,
            "{t}"
        );
    }
    assert!(alembic::file_name("%(nope)s", "a", "b", &d).is_err());
    assert!(alembic::file_name("%(slug)d", "a", "b", &d).is_err());
    assert!(alembic::file_name("50% off", "a", "b", &d).is_err());
}

#[test]
fn alembic_latin1_coding_declaration_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let v = tmp.path().join("versions");
    fs::create_dir_all(&v).unwrap();
    let mut bytes = b"# -*- coding: latin-1 -*-\n\"\"\"caf".to_vec();
    bytes.push(0xe9);
    bytes.extend_from_slice(b"\"\"\"\nrevision = 'a1'\ndown_revision = None\n");
    fs::write(v.join("a1.py"), &bytes).unwrap();
    let mut bad = b"\"\"\"caf".to_vec();
    bad.push(0xe9);
    bad.extend_from_slice(b"\"\"\"\nrevision = 'b1'\ndown_revision = None\n");
    fs::write(v.join("b1.py"), &bad).unwrap();
    let loaded = load(&Project::locate(Some(&v)).unwrap());
    assert_eq!(ids(&loaded), vec!["a1"]);
    assert_eq!(loaded.revisions[0].message, "café");
    assert_eq!(loaded.problems.len(), 1);
    assert!(
        loaded.problems[0].to_string().contains("UTF-8"),
        "{}",
        loaded.problems[0]
    );
}
