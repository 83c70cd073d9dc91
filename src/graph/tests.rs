//! Unit tests on small letter-named graphs. The ids are long enough to be
//! valid prefixes' targets; `a1`..`z9` style names keep the pictures simple.

use super::*;

/// Builds a graph from `(id, parents)` pairs in load order.
fn graph(spec: &[(&str, &[&str])]) -> RevisionGraph {
    RevisionGraph::build(spec.iter().map(|(id, ps)| Revision::new(id, ps)).collect())
        .expect("valid fixture")
}

fn problems(revs: Vec<Revision>) -> Vec<String> {
    RevisionGraph::build(revs)
        .expect_err("fixture is invalid")
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn rev(id: &str, parents: &[&str], deps: &[&str], labels: &[&str]) -> Revision {
    Revision {
        id: id.into(),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        depends_on: deps.iter().map(|s| s.to_string()).collect(),
        branch_labels: labels.iter().map(|s| s.to_string()).collect(),
        message: String::new(),
        origin: format!("versions/{id}.yaml"),
    }
}

/// base -> a1 -> {b1 -> b2, c1} ; m1 merges b2 and c1 ; d1 off a1 stays open.
fn team() -> RevisionGraph {
    graph(&[
        ("a1aa", &[]),
        ("b1bb", &["a1aa"]),
        ("b2bb", &["b1bb"]),
        ("c1cc", &["a1aa"]),
        ("d1dd", &["a1aa"]),
        ("m1mm", &["b2bb", "c1cc"]),
    ])
}

fn steps(plan: &Plan) -> Vec<&str> {
    plan.steps.iter().map(|s| s.revision.as_str()).collect()
}

#[test]
fn builds_empty() {
    assert!(RevisionGraph::build(vec![]).unwrap().is_empty());
}

#[test]
fn structure_queries() {
    let g = team();
    assert_eq!(g.ids(g.heads()), ["d1dd", "m1mm"]);
    assert_eq!(g.ids(g.bases()), ["a1aa"]);
    assert_eq!(g.ids(&g.branchpoints()), ["a1aa"]);
    assert_eq!(g.ids(&g.mergepoints()), ["m1mm"]);
    let m = g.find("m1mm").unwrap();
    assert_eq!(g.ids(&g.ancestor_list(m)), ["a1aa", "b1bb", "b2bb", "c1cc"]);
    let a = g.find("a1aa").unwrap();
    assert_eq!(g.ids(&g.descendant_list(a)).len(), 5);
}

#[test]
fn duplicate_id_names_both_files() {
    let p = problems(vec![rev("a1aa", &[], &[], &[]), rev("a1aa", &[], &[], &[])]);
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("duplicate revision id 'a1aa'"), "{}", p[0]);
    assert!(p[0].contains("versions/a1aa.yaml"), "{}", p[0]);
}

#[test]
fn missing_parent_and_dependency() {
    let p = problems(vec![
        rev("a1aa", &["zzzz"], &[], &[]),
        rev("b1bb", &[], &["nope"], &[]),
    ]);
    assert!(
        p[0].contains("names parent 'zzzz', which does not exist"),
        "{p:?}"
    );
    assert!(p[1].contains("depends on 'nope'"), "{p:?}");
}

#[test]
fn self_references() {
    let p = problems(vec![
        rev("a1aa", &["a1aa"], &[], &[]),
        rev("b1bb", &[], &["b1bb"], &[]),
    ]);
    assert!(p[0].contains("itself as its own parent"), "{p:?}");
    assert!(p[1].contains("itself as its own dependency"), "{p:?}");
}

#[test]
fn cycle_is_printed() {
    let p = problems(vec![
        rev("a1aa", &["c1cc"], &[], &[]),
        rev("b1bb", &["a1aa"], &[], &[]),
        rev("c1cc", &["b1bb"], &[], &[]),
        rev("d1dd", &[], &[], &[]),
    ]);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].contains("a1aa -> c1cc -> b1bb -> a1aa"),
        "cycle not shown: {}",
        p[0]
    );
}

#[test]
fn dependency_cycle_is_reported_separately() {
    // a <- b, and a depends on b: no parent cycle, but a loop through deps.
    let p = problems(vec![
        rev("a1aa", &[], &["b1bb"], &[]),
        rev("b1bb", &["a1aa"], &[], &[]),
    ]);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("dependency cycle: a1aa -> b1bb -> a1aa"),
        "{}",
        p[0]
    );
}

#[test]
fn labels_must_be_unique_and_not_ids() {
    let p = problems(vec![
        rev("a1aa", &[], &[], &["shop"]),
        rev("b1bb", &["a1aa"], &[], &["shop"]),
        rev("c1cc", &["a1aa"], &[], &["b1bb"]),
    ]);
    assert!(
        p.iter()
            .any(|m| m.contains("'shop'") && m.contains("already used by revision a1aa")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("'b1bb'") && m.contains("also a revision id")),
        "{p:?}"
    );
}

#[test]
fn reserved_and_illegal_ids() {
    let p = problems(vec![
        rev("head", &[], &[], &[]),
        rev("a-b", &[], &[], &[]),
        rev("ok12", &[], &[], &["x@y"]),
    ]);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].contains("reserved word"));
    assert!(p[1].contains("'-'"));
    assert!(p[2].contains("branch label 'x@y'"));
}

#[test]
fn labels_propagate_along_their_branch() {
    // a1 <- b1(label feat) <- b2 ; a1 <- c1 : a1 is a branch point, so the
    // label covers b1 and b2 only.
    let g = RevisionGraph::build(vec![
        rev("a1aa", &[], &[], &[]),
        rev("b1bb", &["a1aa"], &[], &["feat"]),
        rev("b2bb", &["b1bb"], &[], &[]),
        rev("c1cc", &["a1aa"], &[], &[]),
    ])
    .unwrap();
    let labelled: Vec<&str> = (0..g.len())
        .filter(|&i| g.branch_labels(i).contains(&"feat".to_string()))
        .map(|i| g.id(i))
        .collect();
    assert_eq!(labelled, ["b1bb", "b2bb"]);
    assert_eq!(g.ids(&g.resolve_many("feat@head").unwrap()), ["b2bb"]);
}

#[test]
fn identifiers_resolve_or_list_candidates() {
    let g = team();
    assert_eq!(g.resolve_one("b2").unwrap(), g.find("b2bb"));
    assert_eq!(g.resolve_one("base").unwrap(), None);
    assert_eq!(g.ids(&g.resolve_many("heads").unwrap()), ["d1dd", "m1mm"]);
    let err = g.resolve_one("head").unwrap_err().to_string();
    assert!(err.contains("there are 2: d1dd, m1mm"), "{err}");
    let err = g.resolve_one("b").unwrap_err().to_string();
    assert!(err.contains("b1bb, b2bb"), "{err}");
    let err = g.resolve_one("m1mm-1").unwrap_err().to_string();
    assert!(err.contains("b2bb or c1cc"), "{err}");
    let err = g.resolve_one("a1aa+1").unwrap_err().to_string();
    assert!(err.contains("b1bb or c1cc or d1dd"), "{err}");
    assert_eq!(
        g.resolve_one("b1bb+1").unwrap(),
        g.find("m1mm").map(|_| g.find("b2bb").unwrap())
    );
    assert_eq!(g.resolve_one("b2bb-2").unwrap(), g.find("a1aa"));
    let err = g.resolve_one("zzzz").unwrap_err().to_string();
    assert!(err.contains("no revision or branch label 'zzzz'"), "{err}");
    assert!(parse_ident("a@b@c").is_err());
    assert!(parse_ident("a:b").is_err());
    assert_eq!(
        parse_ident("feat@+2").unwrap(),
        Ident::Relative {
            branch: Some("feat".into()),
            anchor: None,
            steps: 2
        }
    );
}

#[test]
fn upgrade_from_base_to_all_heads_is_parents_first() {
    let g = team();
    let plan = g.plan_upgrade(&[], "heads").unwrap();
    // Alembic's order for this graph (checked against Alembic's RevisionMap).
    assert_eq!(
        steps(&plan),
        ["a1aa", "c1cc", "b1bb", "b2bb", "m1mm", "d1dd"]
    );
    assert_eq!(plan.end_heads, ["d1dd", "m1mm"]);
    assert_eq!(plan.steps[4].from, ["b2bb", "c1cc"]);
    assert_eq!(plan.steps[4].short_log(), "upgrade b2bb, c1cc -> m1mm");
}

#[test]
fn downgrade_one_branch_leaves_the_other_applied() {
    let g = team();
    let rows = vec!["d1dd".to_string(), "m1mm".to_string()];
    // Down to b1bb: removes m1mm and b2bb, keeps c1cc (applied through the
    // merge) and d1dd.
    let plan = g.plan_downgrade(&rows, "b1bb").unwrap();
    assert_eq!(steps(&plan), ["m1mm", "b2bb"]);
    assert_eq!(plan.end_heads, ["b1bb", "c1cc", "d1dd"]);
    // Removing the open branch only: `d1dd@-1` limits the walk and the
    // downgrade to d1dd's branch.
    let plan = g.plan_downgrade(&rows, "d1dd@-1").unwrap();
    assert_eq!(steps(&plan), ["d1dd"]);
    assert_eq!(plan.end_heads, ["m1mm"]);
    // Without the label, d1dd-1 is a1aa, and downgrading to a1aa removes
    // everything above it on every branch.
    let plan = g.plan_downgrade(&rows, "d1dd-1").unwrap();
    assert_eq!(steps(&plan), ["d1dd", "m1mm", "b2bb", "b1bb", "c1cc"]);
}

#[test]
fn downgrade_below_a_mergepoint() {
    let g = team();
    let rows = vec!["m1mm".to_string()];
    let plan = g.plan_downgrade(&rows, "a1aa").unwrap();
    assert_eq!(steps(&plan), ["m1mm", "b2bb", "b1bb", "c1cc"]);
    assert_eq!(plan.end_heads, ["a1aa"]);
    // The merge's removal puts both parents back in the version table.
    assert_eq!(
        plan.steps[0].version_ops,
        vec![
            plan::VersionOp::Insert {
                version: "b2bb".into()
            },
            plan::VersionOp::Update {
                from: "m1mm".into(),
                to: "c1cc".into()
            }
        ]
    );
}

#[test]
fn relative_downgrade_from_several_heads_is_refused() {
    let g = team();
    let rows = vec!["d1dd".to_string(), "m1mm".to_string()];
    let err = g.plan_downgrade(&rows, "-1").unwrap_err().to_string();
    assert!(err.contains("d1dd@-1") && err.contains("m1mm@-1"), "{err}");
}

#[test]
fn plan_between_picks_the_direction() {
    let g = team();
    assert_eq!(
        g.plan_between("base", "heads").unwrap().direction,
        Direction::Upgrade
    );
    let down = g.plan_between("heads", "base").unwrap();
    assert_eq!(down.direction, Direction::Downgrade);
    assert_eq!(down.steps.len(), 6);
    // From one branch to another's head: an upgrade that adds that branch.
    let across = g.plan_between("d1dd", "m1mm").unwrap();
    assert_eq!(steps(&across), ["c1cc", "b1bb", "b2bb", "m1mm"]);
    assert_eq!(across.end_heads, ["d1dd", "m1mm"]);
}

#[test]
fn dependencies_order_but_are_not_parents() {
    // x1 on its own base; b1bb depends on x1: upgrading b1bb applies x1
    // first, but b1bb is no merge and x1 stays a head.
    let g = RevisionGraph::build(vec![
        rev("a1aa", &[], &[], &[]),
        rev("b1bb", &["a1aa"], &["x1xx"], &[]),
        rev("x1xx", &[], &[], &[]),
    ])
    .unwrap();
    assert!(!g.is_mergepoint(g.find("b1bb").unwrap()));
    assert_eq!(g.ids(g.heads()), ["b1bb", "x1xx"]);
    assert_eq!(g.ids(g.real_heads()), ["b1bb"]);
    let plan = g.plan_upgrade(&[], "b1bb").unwrap();
    assert_eq!(steps(&plan), ["x1xx", "a1aa", "b1bb"]);
    assert_eq!(plan.end_heads, ["b1bb"]);
}

#[test]
fn history_ranges() {
    let g = team();
    assert_eq!(
        g.ids(&g.history(None).unwrap()),
        ["d1dd", "m1mm", "b2bb", "b1bb", "c1cc", "a1aa"]
    );
    assert_eq!(
        g.ids(&g.history(Some("b1bb:m1mm")).unwrap()),
        ["m1mm", "b2bb", "b1bb"]
    );
    assert!(g.history(Some("m1mm:b1bb")).is_err());
    assert!(g.history(Some("nocolon")).is_err());
}

#[test]
fn downgrade_branch_names_resolve_lazily_but_typos_are_refused() {
    let g = team();
    let rows = vec!["d1dd".to_string(), "m1mm".to_string()];
    // Alembic ignores the branch part unless it must choose between roots:
    // 'b' is an ambiguous prefix (b1bb, b2bb) but the target needs no choice.
    assert!(g.plan_downgrade(&rows, "b@m1mm").is_ok());
    // A name that matches nothing would silently downgrade every branch in
    // Alembic; we refuse it.
    let err = g
        .plan_downgrade(&rows, "typo@base")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no revision or branch label 'typo'"), "{err}");
}

#[test]
fn plan_one_moves_exactly_one_revision() {
    let g = team();
    let rows = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Up: c1 on top of a1 while b2 (another branch) is applied.
    let up = g
        .plan_one(Direction::Upgrade, &rows(&["b2bb"]), "c1cc")
        .unwrap();
    assert_eq!(steps(&up), ["c1cc"]);
    assert_eq!(up.end_heads, ["b2bb", "c1cc"]);
    // Down: only c1, although a plain `downgrade a1` would take b1 and b2 too.
    let down = g
        .plan_one(Direction::Downgrade, &rows(&["b2bb", "c1cc"]), "c1cc")
        .unwrap();
    assert_eq!(steps(&down), ["c1cc"]);
    assert_eq!(down.end_heads, ["b2bb"]);
    // The merge: down to both parents, up from them.
    let down = g
        .plan_one(Direction::Downgrade, &rows(&["m1mm"]), "m1mm")
        .unwrap();
    assert_eq!(down.end_heads, ["b2bb", "c1cc"]);
    let up = g
        .plan_one(Direction::Upgrade, &rows(&["b2bb", "c1cc"]), "m1mm")
        .unwrap();
    assert_eq!(up.end_heads, ["m1mm"]);
    // Refused: parents missing, already applied, not a head.
    let e = g.plan_one(Direction::Upgrade, &rows(&["b2bb"]), "m1mm");
    assert!(e.unwrap_err().to_string().contains("c1cc"));
    assert!(g
        .plan_one(Direction::Upgrade, &rows(&["b2bb"]), "b1bb")
        .is_err());
    let e = g.plan_one(Direction::Downgrade, &rows(&["b2bb"]), "b1bb");
    assert!(e.unwrap_err().to_string().contains("current heads (b2bb)"));
    let e = g.plan_one(Direction::Downgrade, &[], "a1aa");
    assert!(e.unwrap_err().to_string().contains("(base)"));
}

#[test]
fn plan_steps_chains_single_steps_up_and_down() {
    let g = team();
    let rows = vec!["b2bb".to_string()];
    let plan = g
        .plan_steps(
            &rows,
            &[
                (Direction::Upgrade, "c1cc"),
                (Direction::Downgrade, "c1cc"),
                (Direction::Upgrade, "c1cc"),
            ],
        )
        .unwrap();
    let dirs: Vec<Direction> = plan.steps.iter().map(|s| s.direction).collect();
    assert_eq!(
        dirs,
        [Direction::Upgrade, Direction::Downgrade, Direction::Upgrade]
    );
    assert_eq!(plan.start_heads, ["b2bb"]);
    assert_eq!(plan.end_heads, ["b2bb", "c1cc"]);
    // Each step is checked against the rows the ones before it leave.
    let e = g.plan_steps(&rows, &[(Direction::Downgrade, "c1cc")]);
    assert!(e.is_err());
}
