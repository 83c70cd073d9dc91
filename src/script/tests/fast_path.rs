//! The native fast path against serde_yaml, and the one key list both use.

use super::native_files::yaml_string;
use super::*;

fn serde_native(text: &str) -> Option<native::NativeFile> {
    serde_yaml::from_str(text).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Everything the renderer writes takes the fast path, with serde_yaml's answer.
    #[test]
    fn fast_path_reads_every_rendered_file(
        id in yaml_string(),
        parents in prop::collection::vec(yaml_string(), 0..3),
        message in yaml_string(),
        created in prop::option::of(Just("2026-11-22T10:15:00Z".to_string())),
        transactional in any::<bool>(),
        upgrade in yaml_string(),
        downgrade in yaml_string(),
    ) {
        let r = Revision { id, parents, depends_on: vec![], branch_labels: vec!["x".into()], message, origin: String::new() };
        let b = NativeBody { created, transactional, upgrade, downgrade, lock_timeout: None, statement_timeout: None };
        let text = render_native(&r, &b);
        let fast = native::fast::parse(&text);
        prop_assert!(fast.is_some(), "rendered file not on the fast path:\n{}", text);
        prop_assert_eq!(fast, serde_native(&text), "{}", text);
    }

    /// On arbitrary documents the fast path either declines or agrees with serde_yaml.
    #[test]
    fn fast_path_never_disagrees_with_serde(lines in prop::collection::vec(prop_oneof![
        (prop::sample::select(vec!["id", "parents", "depends_on", "branch_labels", "message", "created", "transactional", "upgrade", "downgrade", "bogus", " id", "id "]),
         prop::sample::select(vec![
            "", " ", "abc", "null", "~", "Null", "true", "false", "yes", "123", "0x1f", "1e3", "a b", "a: b", "a #b", "a#b", "\"q\\\"x\"", "\"\\x41\\u00e9\"",
            "\"bad \\q\"", "'single'", "[]", "[a, b]", "[a,b]", "[\"a, b\", c]", "[a, ]", "[~, null]", "[ a]", "|", "|-", "|+", "|2", "|2-", "|2+", "|1", ">",
            "- x", "...", "---", "a:", "x\ty", "é ✓", "&a x", "*a", "!!str x", "%x", "@x", "`x", "{a: b}", "[a: b]", "\"unterminated",
         ])).prop_map(|(k, v)| format!("{k}: {v}")),
        prop::sample::select(vec!["", " ", "  ", "   ", "  x", "   x", "  \tx", "\tx", " x", "  # c", "# comment", "---", "...", "  a: b", "    deeper", "  trailing  "]).prop_map(str::to_string),
    ], 0..14)) {
        let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        if let Some(fast) = native::fast::parse(&text) {
            let slow = serde_native(&text);
            prop_assert_eq!(Some(fast), slow, "{}", text);
        }
    }
}

fn doc_strategy() -> impl Strategy<Value = String> {
    let value = prop::sample::select(vec![
        "abc",
        "null",
        "~",
        "a b",
        "é ✓",
        "\"q\\\"x\"",
        "\"\\x41\\u00e9\\U0001f600\"",
        "[]",
        "[a, b]",
        "[\"a, b\", c]",
        "true",
        "false",
        "2026-11-22T10:15:00Z",
        "...",
        "a]b",
        "a,b",
    ]);
    let block_header = prop::sample::select(vec!["|", "|-", "|+", "|2", "|2-", "|2+"]);
    let body_line = prop::sample::select(vec![
        "",
        "  ",
        "   ",
        "  x",
        "   x",
        "  \tx",
        "  trailing  ",
        "    deeper",
        "  - item",
        "  # not a comment",
        "  key: v",
    ]);
    let entry = prop_oneof![
        value.prop_map(|v| (v.to_string(), Vec::new())),
        (block_header, prop::collection::vec(body_line, 0..5))
            .prop_map(|(h, b)| (h.to_string(), b.into_iter().map(str::to_string).collect())),
    ];
    (
        Just(vec![
            "id",
            "parents",
            "depends_on",
            "branch_labels",
            "message",
            "created",
            "transactional",
            "upgrade",
            "downgrade",
        ])
        .prop_shuffle(),
        prop::collection::vec(entry, 9),
        1usize..10,
    )
        .prop_map(|(keys, entries, n)| {
            let mut s = String::new();
            for (k, (v, body)) in keys.into_iter().zip(entries).take(n) {
                s.push_str(&format!("{k}: {v}\n"));
                for l in body {
                    s.push_str(&l);
                    s.push('\n');
                }
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Documents mostly inside the subset: whenever the fast path answers, serde_yaml agrees.
    #[test]
    fn fast_path_agrees_on_near_valid_documents(text in doc_strategy()) {
        if let Some(fast) = native::fast::parse(&text) {
            prop_assert_eq!(Some(fast), serde_native(&text), "{}", text);
        }
    }
}

#[test]
fn fast_path_takes_most_near_valid_documents() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strat = doc_strategy();
    let mut hits = 0;
    for _ in 0..500 {
        let text = strat.new_tree(&mut runner).unwrap().current();
        if native::fast::parse(&text).is_some() {
            hits += 1;
        }
    }
    assert!(hits > 20, "only {hits} of 500 documents took the fast path");
}

/// The one key list: serde reads each key by its name, and only those.
#[test]
fn native_keys_are_one_list_for_both_readers() {
    for k in native::Key::ALL {
        assert_eq!(serde_yaml::from_str::<native::Key>(k.name()).unwrap(), k);
        assert_eq!(native::Key::from_name(k.name()), Some(k));
    }
    let e = parse_native(&p("x.yaml"), "id: a\nparent: []\n").unwrap_err();
    let expected: Vec<String> = native::Key::ALL
        .iter()
        .map(|k| format!("`{}`", k.name()))
        .collect();
    assert!(
        e.to_string().contains(&expected.join(", ")),
        "unknown keys list every key: {e}"
    );
    let e = parse_native(&p("x.yaml"), "id: a\nid: b\nparents: []\n").unwrap_err();
    assert!(e.to_string().contains("id"), "{e}");
}
