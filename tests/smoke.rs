use assert_cmd::Command;
#[test]
fn binary_runs() {
    let _ = Command::cargo_bin("mergepoint").unwrap();
    let _ = (
        insta::Settings::new(),
        proptest::bool::ANY,
        predicates::str::contains("x"),
        tempfile::tempdir(),
    );
}
