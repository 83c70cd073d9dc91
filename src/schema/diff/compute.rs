//! Which objects are created, dropped, recreated or altered: the typed
//! changes of `diff(from, to)`, unordered (emission order matters only
//! between changes of one object).

use std::collections::{BTreeMap, BTreeSet};

use super::change::{Change, Changes};
use super::order::{edges_from, edges_of, Edge};
use super::{alter, DiffError, DiffOptions};
use crate::schema::model::{Catalog, Object, ObjectId, TypeKind};

/// `from_edges` is `ordering_edges(from)`.
pub fn compute(
    from: &Catalog,
    from_edges: &[Edge<'_>],
    to: &Catalog,
    options: &DiffOptions,
) -> Result<Changes, DiffError> {
    let mut out = Changes::default();
    let recreate = recreated(from, from_edges, to)?;
    let enum_recreates = alter::enums_to_recreate(from, to);

    // Drops of objects gone from the target, and of those recreated.
    for (id, old) in &from.objects {
        let gone = !to.objects.contains_key(id);
        if gone || recreate.contains(id) {
            out.push(Change::Drop {
                object: old.clone(),
                recreate: !gone,
                concurrently: options.concurrently && index_on_live_table(to, old),
            });
        }
    }
    for (id, new) in &to.objects {
        let old = from.objects.get(id);
        match old {
            Some(old) if !recreate.contains(id) => {
                if enum_recreates.contains(id) {
                    alter::recreate_enum(from, to, old, new, &mut out);
                } else {
                    alter::alter_object(from, to, old, new, &mut out)?;
                }
                if !edges_from(from, id).eq(edges_from(to, id)) {
                    out.push(Change::Depends {
                        id: id.clone(),
                        edges: edges_of(to, id),
                    });
                }
            }
            _ => {
                if let Object::Sequence(seq) = new {
                    if seq.owned_by.is_some() && old.is_none() {
                        out.push(create(new, from, to, options));
                        out.push(Change::OwnedBy {
                            sequence: seq.name.clone(),
                            owner: seq.owned_by.clone(),
                        });
                        continue;
                    }
                }
                out.push(Change::Create {
                    object: new.clone(),
                    depends: edges_of(to, id),
                    existing_parent: parent_exists(from, new),
                    concurrently: options.concurrently
                        && parent_exists(from, new)
                        && index_on_live_table(to, new),
                });
            }
        }
    }
    Ok(out)
}

fn create(new: &Object, from: &Catalog, to: &Catalog, options: &DiffOptions) -> Change {
    Change::Create {
        object: new.clone(),
        depends: edges_of(to, &new.id()),
        existing_parent: parent_exists(from, new),
        concurrently: options.concurrently
            && parent_exists(from, new)
            && index_on_live_table(to, new),
    }
}

/// A constraint, index, trigger or policy whose table existed before.
fn parent_exists(from: &Catalog, object: &Object) -> bool {
    let table = match object {
        Object::Constraint(c) => &c.table,
        Object::Index(i) => &i.table,
        Object::Trigger(t) => &t.table,
        Object::Policy(p) => &p.table,
        _ => return false,
    };
    from.table(table).is_some()
        || from.objects.contains_key(&ObjectId::View {
            name: table.clone(),
        })
}

/// An index that may be built or dropped `CONCURRENTLY`: on a table that
/// is not partitioned, and not a partition's copy of a parent's index.
fn index_on_live_table(catalog: &Catalog, object: &Object) -> bool {
    match object {
        Object::Index(i) => {
            i.parent.is_none()
                && catalog
                    .table(&i.table)
                    .is_none_or(|t| t.partition_by.is_none())
        }
        _ => false,
    }
}

/// The objects on both sides that are dropped and created again: those
/// that cannot be altered in place, those that read a column that changes
/// or goes, and (transitively) whatever depends on a dropped one.
fn recreated(
    from: &Catalog,
    from_edges: &[Edge<'_>],
    to: &Catalog,
) -> Result<BTreeSet<ObjectId>, DiffError> {
    let mut out = BTreeSet::new();
    for (id, old) in &from.objects {
        if let Some(new) = to.objects.get(id) {
            if old != new && alter::needs_recreate(from, old, new)? {
                out.insert(id.clone());
            }
        }
    }
    let changed_columns = alter::changed_columns(from, to);
    for d in &from.depends {
        if let (ObjectId::Table { name }, Some(column)) = (&d.referenced, &d.column) {
            let changed = changed_columns
                .get(name)
                .is_some_and(|cols| cols.contains(column));
            // PostgreSQL refuses to change a column's type under these
            // (it rebuilds indexes and constraints by itself).
            let reads = matches!(
                d.dependent,
                ObjectId::View { .. }
                    | ObjectId::Function { .. }
                    | ObjectId::Policy { .. }
                    | ObjectId::Trigger { .. }
            );
            if changed && reads && to.objects.contains_key(&d.dependent) {
                out.insert(d.dependent.clone());
            }
        }
    }
    // Enums recreated under their name count as dropped for what uses them.
    let mut gone: BTreeSet<ObjectId> = alter::enums_to_recreate(from, to);
    gone.extend(
        from.objects
            .keys()
            .filter(|id| !to.objects.contains_key(id))
            .cloned(),
    );
    gone.extend(out.iter().cloned());
    propagate(from, from_edges, to, &mut out, gone)?;
    Ok(out)
}

/// Adds to `out` every survivor that depends (in `from`) on something in
/// `gone`, and so on, with a worklist (terminates on cycles).
fn propagate(
    from: &Catalog,
    edges: &[Edge<'_>],
    to: &Catalog,
    out: &mut BTreeSet<ObjectId>,
    gone: BTreeSet<ObjectId>,
) -> Result<(), DiffError> {
    let mut by_referenced: BTreeMap<&ObjectId, Vec<&ObjectId>> = BTreeMap::new();
    for (dependent, referenced) in edges {
        by_referenced
            .entry(referenced.as_ref())
            .or_default()
            .push(dependent);
    }
    let mut work: Vec<ObjectId> = gone.into_iter().collect();
    let mut seen: BTreeSet<ObjectId> = work.iter().cloned().collect();
    while let Some(id) = work.pop() {
        for dependent in by_referenced.get(&id).into_iter().flatten() {
            if !to.objects.contains_key(*dependent) || seen.contains(*dependent) {
                continue;
            }
            if !recreatable(dependent) {
                check_table_reference(from, to, dependent, &id)?;
                continue;
            }
            seen.insert((*dependent).clone());
            out.insert((*dependent).clone());
            work.push((*dependent).clone());
        }
    }
    Ok(())
}

/// Kinds that can be dropped and created again without losing data.
fn recreatable(id: &ObjectId) -> bool {
    matches!(
        id,
        ObjectId::View { .. }
            | ObjectId::Function { .. }
            | ObjectId::Trigger { .. }
            | ObjectId::Policy { .. }
            | ObjectId::Index { .. }
            | ObjectId::Constraint { .. }
    )
}

/// A table (or type) that uses an object being dropped or recreated: fine
/// when the in-place alters remove the use (a column's type or default
/// changes), else a change the diff cannot make.
fn check_table_reference(
    from: &Catalog,
    to: &Catalog,
    dependent: &ObjectId,
    referenced: &ObjectId,
) -> Result<(), DiffError> {
    let still_there = to.objects.contains_key(referenced)
        && !matches!(from.get(referenced), Some(Object::Type(t)) if matches!(t.kind, TypeKind::Enum { .. }));
    let is_function = matches!(referenced, ObjectId::Function { .. });
    if still_there && is_function && matches!(dependent, ObjectId::Table { .. }) {
        return Err(DiffError::Unsupported {
            object: dependent.clone(),
            message: format!(
                "uses {referenced}, which must be dropped and created again (its result type \
                 changes); drop the column default or generated expression that calls it in a \
                 revision of its own first"
            ),
        });
    }
    let is_collation = matches!(referenced, ObjectId::Collation { .. });
    if still_there && is_collation {
        return Err(DiffError::Unsupported {
            object: referenced.clone(),
            message: format!(
                "its definition changes, which PostgreSQL can only do by dropping it and \
                 creating it again, but {dependent} uses it; create a collation under a new \
                 name, move the columns to it (ALTER COLUMN ... TYPE ... COLLATE), then drop \
                 the old one"
            ),
        });
    }
    Ok(())
}
