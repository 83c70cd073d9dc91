//! Fuzz tests of the two header parsers, in the normal test suite: arbitrary
//! bytes and structure-aware mutations of valid files never panic, and every
//! error is typed and names the file. Bounded to a few seconds; the long
//! runs are the cargo-fuzz targets in `fuzz/` (`scripts/fuzz`), whose crash
//! inputs are kept in `fuzz/regressions/` and replayed here.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{parse_alembic, parse_native, render_native};

const NATIVE: &str = "id: 3f2a9c1d7e55
parents: [a1b2c3d4e5f6, \"b: 2\"]
depends_on: []
branch_labels: [shop]
message: add orders.status
created: 2026-11-22T10:15:00Z
transactional: false
upgrade: |
  ALTER TABLE orders ADD COLUMN status text;
  CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;
downgrade: |-
  ALTER TABLE orders DROP COLUMN status;
";

const ALEMBIC: &str = r#""""add orders.status

Revision ID: 3f2a9c1d7e55
Revises: a1b2c3d4e5f6
"""
from alembic import op

revision: str = '3f2a9c1d7e55'
down_revision = ('a1b2c3d4e5f6', "b" 'c')
branch_labels = None
depends_on = f"{x!r:>{w}}"


def upgrade() -> None:
    op.execute("""ALTER TABLE orders ADD COLUMN status text""")
"#;

/// Pieces that matter to one parser or the other, inserted at random.
const SNIPPETS: &[&str] = &[
    "\n",
    " ",
    "\t",
    "\r",
    "\u{feff}",
    "'",
    "\"",
    "\"\"\"",
    "'''",
    "\\",
    "#",
    ":",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ",",
    "|",
    "|-",
    "|+",
    "|2",
    ">",
    "&a ",
    "*a",
    "!!str ",
    "? ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "f'{",
    "}'",
    "b'",
    "r'",
    "u'",
    "\\\n",
    "revision = ",
    "down_revision = ",
    "None",
    "id: ",
    "parents: ",
    "upgrade: |\n  ",
    "\u{2028}",
    "\u{85}",
    "é",
    "\0",
];

/// One edit of a text: insert a snippet, delete or duplicate a range, or
/// repeat a snippet many times (deep nesting).
#[derive(Clone, Debug)]
enum Mutation {
    Insert(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Repeat(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(a, s)| Mutation::Insert(a, s)),
        2 => (any::<usize>(), 0..40usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        1 => (any::<usize>(), 0..80usize).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        1 => (any::<usize>(), 0..SNIPPETS.len(), 1..400usize)
            .prop_map(|(a, s, n)| Mutation::Repeat(a, s, n)),
    ]
}

/// The char boundary at or before `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut t = text.to_string();
    for m in mutations {
        match *m {
            Mutation::Insert(at, s) => {
                let i = boundary(&t, at);
                t.insert_str(i, SNIPPETS[s]);
            }
            Mutation::Delete(at, n) => {
                let i = boundary(&t, at);
                let j = boundary(&t, i + n);
                if j >= i {
                    t.replace_range(i..j, "");
                }
            }
            Mutation::Duplicate(at, n) => {
                let i = boundary(&t, at);
                let j = boundary(&t, i + n).max(i);
                let piece = t[i..j].to_string();
                t.insert_str(j, &piece);
            }
            Mutation::Repeat(at, s, n) => {
                let i = boundary(&t, at);
                t.insert_str(i, &SNIPPETS[s].repeat(n));
            }
        }
    }
    t
}

/// Both parsers on `text`: a result, or an error naming the file.
fn check_total(text: &str) {
    assert!(
        super::fast_path_agrees(text),
        "fast path disagrees: {text:?}"
    );
    let native = Path::new("revisions/x.yaml");
    match parse_native(native, text) {
        Ok((rev, body)) => {
            // Whatever parses renders back to exactly the same thing.
            let again = parse_native(native, &render_native(&rev, &body));
            assert_eq!(again, Ok((rev, body)), "{text:?}");
        }
        Err(e) => assert_eq!(e.path(), native, "{e}"),
    }
    let _ = crate::config::Config::parse(Path::new("mergepoint.yaml"), text);
    let py = Path::new("versions/x.py");
    if let Err(e) = parse_alembic(py, text) {
        assert_eq!(e.path(), py, "{e}");
        assert!(!e.to_string().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_total(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_native_files_never_panic(m in prop::collection::vec(mutation(), 1..6)) {
        check_total(&apply(NATIVE, &m));
    }

    #[test]
    fn mutated_alembic_files_never_panic(m in prop::collection::vec(mutation(), 1..6)) {
        check_total(&apply(ALEMBIC, &m));
    }
}

/// The inputs cargo-fuzz found (and anything else worth keeping) in
/// `fuzz/regressions/<target>/`, replayed on every test run.
#[test]
fn fuzz_regressions_stay_fixed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for target in ["native_header", "alembic_header"] {
        let dir = root.join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let bytes = std::fs::read(e.path()).unwrap();
            check_total(&String::from_utf8_lossy(&bytes));
            n += 1;
        }
    }
    assert!(n > 0, "no regression inputs under {}", root.display());
}
