//! Property tests of the pure diff on random catalogs (`gen`): applying
//! the changes of `diff(A, B)` to A gives B, every step in a valid order
//! (a create finds what it needs, a drop leaves nothing that needs it),
//! and `diff(A, A)` is empty.

use proptest::prelude::*;

use super::apply::apply;
use super::gen::catalogs;
use super::order::ordering_edges;
use super::{changes, diff, DiffOptions};
use crate::schema::model::{Catalog, Object, TypeKind};

/// Column order is not reproduced (PostgreSQL adds a column at the end),
/// so the comparison sorts columns and attributes.
fn normalized(catalog: &Catalog) -> Catalog {
    let mut out = catalog.clone();
    for object in out.objects.values_mut() {
        match object {
            Object::Table(t) => t.columns.sort_by(|a, b| a.name.cmp(&b.name)),
            Object::Type(t) => {
                if let TypeKind::Composite { attributes } = &mut t.kind {
                    attributes.sort_by(|a, b| a.name.cmp(&b.name));
                }
            }
            _ => {}
        }
    }
    out
}

/// Applies the changes of `diff(a, b)` one by one, checking each step's
/// order against the model; returns the result.
fn apply_checked(a: &Catalog, b: &Catalog, options: &DiffOptions) -> Result<Catalog, String> {
    let list = changes(a, b, options).map_err(|e| e.to_string())?;
    let target_edges = ordering_edges(b);
    let mut current = a.clone();
    for change in &list {
        if let super::change::Change::Create { object, .. } = change {
            let id = object.id();
            for (dependent, referenced) in &target_edges {
                if **dependent == id && !current.objects.contains_key(referenced.as_ref()) {
                    return Err(format!(
                        "{id} created before {referenced} it needs; plan: {list:#?}"
                    ));
                }
            }
        }
        apply(&mut current, change)?;
        if let super::change::Change::Drop { object, .. } = change {
            let id = object.id();
            for (dependent, referenced) in ordering_edges(&current) {
                if *referenced == id {
                    return Err(format!(
                        "{id} dropped while {dependent} still needs it; plan: {list:#?}"
                    ));
                }
            }
        }
    }
    Ok(current)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn diff_of_a_catalog_with_itself_is_empty(a in catalogs()) {
        let plan = diff(&a, &a, &DiffOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(plan.is_empty(), "{plan:#?}");
    }

    #[test]
    fn applying_the_diff_turns_a_into_b(a in catalogs(), b in catalogs(), concurrently in any::<bool>()) {
        let options = DiffOptions { concurrently };
        let result = apply_checked(&a, &b, &options).map_err(TestCaseError::fail)?;
        prop_assert_eq!(normalized(&result), normalized(&b));
        // And the result diffs as equal to B (column order aside).
        let again = diff(&normalized(&result), &normalized(&b), &options)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(again.is_empty(), "{again:#?}");
        let plan = diff(&a, &b, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(plan.statements.iter().all(|s| !s.sql.trim().is_empty()));
    }

    #[test]
    fn dump_builds_the_catalog_from_an_empty_database(b in catalogs()) {
        let empty = Catalog::empty_database();
        let result = apply_checked(&empty, &b, &DiffOptions::default()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(normalized(&result), normalized(&b));
    }
}
