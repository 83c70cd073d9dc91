use super::*;
#[test]
fn builds_empty() {
    assert!(RevisionGraph::build(vec![]).unwrap().is_empty());
}
