//! In-place changes of an object that exists on both sides (tables are in
//! `table`), and the decision when an object must be recreated instead.

use std::collections::{BTreeMap, BTreeSet};

use super::change::Changes;
use super::change::{Change, CompositeOp, DomainOp, EnumPosition};
use super::order::edges_of;
use super::{table, DiffError};
use crate::schema::model::{
    Catalog, Extension, Grant, Object, ObjectId, QualName, Sequence, Table, TypeDef, TypeKind,
};

/// A table whose partitioning changes (PostgreSQL has no in-place form):
/// recreated, its rows lost (the drop carries the data-loss hazard), but
/// only when nothing else goes with it — partitions, inheritance children
/// or sequences it owns would be dropped too, so those are refused.
fn table_needs_recreate(from: &Catalog, a: &Table, b: &Table) -> Result<bool, DiffError> {
    if a.partition_by == b.partition_by {
        return Ok(false);
    }
    let attached = from.objects.values().find_map(|o| match o {
        Object::Table(t)
            if t.partition_of.as_ref().is_some_and(|(p, _)| *p == a.name)
                || t.inherits.contains(&a.name) =>
        {
            Some(format!("table {}", t.name))
        }
        Object::Sequence(s) if s.owned_by.as_ref().is_some_and(|(t, _)| *t == a.name) => {
            Some(format!("sequence {}", s.name))
        }
        _ => None,
    });
    match attached {
        None => Ok(true),
        Some(what) => Err(DiffError::Unsupported {
            object: ObjectId::Table {
                name: b.name.clone(),
            },
            message: format!(
                "its partitioning changes ({} -> {}), which PostgreSQL cannot do in place, and \
                 recreating it would also drop {what}; create a new table with the new \
                 partitioning, copy the rows, and swap the names in a revision of your own",
                a.partition_by.as_ref().map_or("none", |e| e.as_str()),
                b.partition_by.as_ref().map_or("none", |e| e.as_str())
            ),
        }),
    }
}

/// True when `old` must be dropped and `new` created (no in-place form).
pub fn needs_recreate(from: &Catalog, old: &Object, new: &Object) -> Result<bool, DiffError> {
    Ok(match (old, new) {
        (Object::View(a), Object::View(b)) => {
            let same_body = a.definition == b.definition
                && a.options == b.options
                && a.columns == b.columns
                && a.materialized == b.materialized;
            !same_body && (a.materialized || b.materialized || !b.columns.starts_with(&a.columns))
        }
        (Object::Function(a), Object::Function(b)) => {
            a.returns != b.returns || a.procedure != b.procedure
        }
        (Object::Constraint(a), Object::Constraint(b)) => {
            a.kind != b.kind
                || a.definition != b.definition
                || a.columns != b.columns
                || a.references != b.references
                || a.deferrable != b.deferrable
                || a.initially_deferred != b.initially_deferred
                || (a.validated && !b.validated)
        }
        (Object::Index(a), Object::Index(b)) => {
            a.definition != b.definition
                || a.table != b.table
                || a.unique != b.unique
                || a.method != b.method
        }
        (Object::Trigger(a), Object::Trigger(b)) => a.definition != b.definition,
        (Object::Table(a), Object::Table(b)) => table_needs_recreate(from, a, b)?,
        (Object::Policy(a), Object::Policy(b)) => {
            a.permissive != b.permissive
                || a.command != b.command
                || (a.using.is_some() && b.using.is_none())
                || (a.with_check.is_some() && b.with_check.is_none())
        }
        (Object::Type(a), Object::Type(b)) => type_needs_recreate(from, a, b)?,
        (Object::Extension(a), Object::Extension(b)) => extension_needs_recreate(from, a, b)?,
        // PostgreSQL has no ALTER COLLATION for its definition.
        (Object::Collation(a), Object::Collation(b)) => {
            (
                &a.provider,
                &a.locale,
                &a.lc_collate,
                &a.lc_ctype,
                a.deterministic,
            ) != (
                &b.provider,
                &b.locale,
                &b.lc_collate,
                &b.lc_ctype,
                b.deterministic,
            )
        }
        _ => false,
    })
}

/// Types change in place except for a kind change, a domain's base type
/// and a range's definition; those are recreated only when no table uses
/// the type (a table's data would be lost).
fn type_needs_recreate(from: &Catalog, a: &TypeDef, b: &TypeDef) -> Result<bool, DiffError> {
    let structural = match (&a.kind, &b.kind) {
        (TypeKind::Enum { .. }, TypeKind::Enum { .. }) => false,
        (TypeKind::Composite { .. }, TypeKind::Composite { .. }) => false,
        (
            TypeKind::Domain {
                base: x,
                collation: cx,
                ..
            },
            TypeKind::Domain {
                base: y,
                collation: cy,
                ..
            },
        ) => x != y || cx != cy,
        (x, y) => x != y,
    };
    if !structural {
        return Ok(false);
    }
    let id = ObjectId::Type {
        name: a.name.clone(),
    };
    if let Some(user) = from
        .dependents_of(&id)
        .find(|d| matches!(d.dependent, ObjectId::Table { .. } | ObjectId::Type { .. }))
    {
        return Err(DiffError::Unsupported {
            object: id.clone(),
            message: format!(
                "its definition changes (kind, base type or range) but {} uses it, and \
                 PostgreSQL cannot alter it in place; create a new type, move the columns to it \
                 with ALTER COLUMN ... TYPE ... USING, then drop the old one",
                user.dependent
            ),
        });
    }
    Ok(true)
}

/// An extension whose version goes down: extensions ship update scripts
/// upwards only, so `ALTER EXTENSION ... UPDATE TO` has no path. It is
/// dropped and created at the old version, which is allowed only when
/// nothing that stays in the schema uses it (DROP EXTENSION would take
/// those objects, and their data, along).
fn extension_needs_recreate(
    from: &Catalog,
    a: &Extension,
    b: &Extension,
) -> Result<bool, DiffError> {
    if !is_downgrade(&a.version, &b.version) {
        return Ok(false);
    }
    let id = ObjectId::Extension {
        name: a.name.clone(),
    };
    if let Some(user) = from.dependents_of(&id).next() {
        return Err(DiffError::Unsupported {
            object: id.clone(),
            message: format!(
                "its version goes down ({} -> {}), which ALTER EXTENSION ... UPDATE cannot do \
                 (extensions ship no downgrade scripts), and {} uses it, so it cannot be dropped \
                 and created again; keep version {}, or drop what uses it, DROP EXTENSION, \
                 CREATE EXTENSION ... VERSION '{}' and restore it in a revision of your own",
                a.version, b.version, user.dependent, a.version, b.version
            ),
        });
    }
    Ok(true)
}

/// True when version `to` is lower than `from`, comparing dotted numbers
/// (`1.10` > `1.9`); versions that are not dotted numbers are never a
/// downgrade (the update is tried, and PostgreSQL says if it has no path).
fn is_downgrade(from: &str, to: &str) -> bool {
    let parts =
        |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse::<u64>().ok()).collect() };
    match (parts(from), parts(to)) {
        (Some(x), Some(y)) => y < x,
        _ => false,
    }
}

/// Enums whose labels cannot be reached with `ADD VALUE` alone (a label
/// removed or reordered): renamed, created anew and swapped in.
pub fn enums_to_recreate(from: &Catalog, to: &Catalog) -> BTreeSet<ObjectId> {
    let mut out = BTreeSet::new();
    for (id, old) in &from.objects {
        if let (
            Object::Type(TypeDef {
                kind: TypeKind::Enum { labels: a },
                ..
            }),
            Some(Object::Type(TypeDef {
                kind: TypeKind::Enum { labels: b },
                ..
            })),
        ) = (old, to.objects.get(id))
        {
            let kept: Vec<&String> = b.iter().filter(|l| a.contains(l)).collect();
            if kept.len() != a.len() || !kept.iter().zip(a).all(|(x, y)| *x == y) {
                out.insert(id.clone());
            }
        }
    }
    out
}

/// The columns per table that change type or go (views reading them are
/// recreated around the change), including columns of a recreated enum.
pub fn changed_columns(from: &Catalog, to: &Catalog) -> BTreeMap<QualName, BTreeSet<String>> {
    let enums = enums_to_recreate(from, to);
    let mut out: BTreeMap<QualName, BTreeSet<String>> = BTreeMap::new();
    for object in from.objects.values() {
        let Object::Table(old) = object else { continue };
        let Some(new) = to.table(&old.name) else {
            continue;
        };
        for c in &old.columns {
            let changed = match new.column(&c.name) {
                None => true,
                Some(n) => {
                    n.data_type != c.data_type
                        || n.collation != c.collation
                        || (n.generated != c.generated && n.generated.is_some())
                        || enums.iter().any(|e| uses_type(&c.data_type, e))
                }
            };
            if changed {
                out.entry(old.name.clone())
                    .or_default()
                    .insert(c.name.clone());
            }
        }
    }
    out
}

/// True when a `format_type` text names the type `id` (bare, qualified,
/// quoted or not, or an array of it).
pub fn uses_type(data_type: &crate::schema::model::Expr, id: &ObjectId) -> bool {
    let ObjectId::Type { name } = id else {
        return false;
    };
    let text = data_type.as_str().trim_end_matches("[]");
    let q = crate::schema::render::ident;
    [
        name.name.clone(),
        q(&name.name),
        format!("{}.{}", name.schema, name.name),
        crate::schema::render::qual(name),
    ]
    .iter()
    .any(|candidate| candidate == text)
}

/// Rename the old enum, create the new one, move every column to it
/// through text, drop the old one.
pub fn recreate_enum(from: &Catalog, to: &Catalog, old: &Object, new: &Object, out: &mut Changes) {
    let Object::Type(old_type) = old else { return };
    let id = old.id();
    let old_name = QualName::new(
        old_type.name.schema.clone(),
        format!("{}__old_version_to_be_dropped", old_type.name.name),
    );
    let rename = out.push(Change::RenameType {
        from: old_type.name.clone(),
        to: old_name.clone(),
    });
    out.push(Change::Create {
        object: new.clone(),
        depends: edges_of(to, &id),
        existing_parent: false,
        concurrently: false,
    });
    let mut moves = Vec::new();
    for object in from.objects.values() {
        let Object::Table(t) = object else { continue };
        let Some(target) = to.table(&t.name) else {
            continue;
        };
        for c in t
            .columns
            .iter()
            .filter(|c| c.is_local && uses_type(&c.data_type, &id))
        {
            if let Some(n) = target.column(&c.name) {
                if n.data_type == c.data_type {
                    moves.extend(table::move_column_to_recreated_type(&t.name, c, n, out));
                }
            }
        }
    }
    let mut renamed = old_type.clone();
    renamed.name = old_name;
    let drop = out.push(Change::Drop {
        object: Object::Type(renamed),
        recreate: true,
        concurrently: false,
    });
    out.before.push((rename, drop));
    out.before.extend(moves.into_iter().map(|m| (m, drop)));
}

/// The in-place changes of an object on both sides (after
/// `needs_recreate` said no).
pub fn alter_object(
    from: &Catalog,
    to: &Catalog,
    old: &Object,
    new: &Object,
    out: &mut Changes,
) -> Result<(), DiffError> {
    if old == new {
        return Ok(());
    }
    match (old, new) {
        (Object::Table(a), Object::Table(b)) => table::alter_table(from, to, a, b, out)?,
        (Object::View(a), Object::View(b)) => {
            if a.definition != b.definition || a.options != b.options || a.columns != b.columns {
                out.push(Change::Replace {
                    object: new.clone(),
                    depends: edges_of(to, &new.id()),
                });
            }
            let names: BTreeSet<&String> = a
                .column_comments
                .keys()
                .chain(b.column_comments.keys())
                .collect();
            for name in names {
                let (x, y) = (a.column_comments.get(name), b.column_comments.get(name));
                if x != y {
                    out.push(Change::Comment {
                        id: new.id(),
                        column: Some(name.clone()),
                        text: y.cloned(),
                    });
                }
            }
        }
        (Object::Function(a), Object::Function(b)) if a.definition != b.definition => {
            out.push(Change::Replace {
                object: new.clone(),
                depends: edges_of(to, &new.id()),
            });
        }
        (Object::Type(a), Object::Type(b)) => alter_type(a, b, out),
        (Object::Sequence(a), Object::Sequence(b)) => alter_sequence(a, b, out),
        (Object::Extension(a), Object::Extension(b)) => {
            if a.version != b.version {
                out.push(Change::ExtensionUpdate {
                    name: b.name.clone(),
                    version: b.version.clone(),
                });
            }
            if a.schema != b.schema {
                out.push(Change::ExtensionSchema {
                    name: b.name.clone(),
                    schema: b.schema.clone(),
                });
            }
        }
        (Object::Constraint(a), Object::Constraint(b)) if !a.validated && b.validated => {
            out.push(Change::Validate {
                table: b.table.clone(),
                name: b.name.clone(),
            });
        }
        (Object::Trigger(a), Object::Trigger(b)) if a.enabled != b.enabled => {
            out.push(Change::TriggerEnabled {
                table: b.table.clone(),
                name: b.name.clone(),
                enabled: b.enabled,
            });
        }
        (Object::Policy(a), Object::Policy(b))
            if a.roles != b.roles || a.using != b.using || a.with_check != b.with_check =>
        {
            out.push(Change::AlterPolicy {
                from: old.clone(),
                to: new.clone(),
            });
        }
        _ => {}
    }
    comment_and_grants(old, new, out);
    Ok(())
}

/// `COMMENT ON` and `GRANT`/`REVOKE` between two versions of one object.
pub fn comment_and_grants(old: &Object, new: &Object, out: &mut Changes) {
    let id = new.id();
    if old.comment() != new.comment() {
        out.push(Change::Comment {
            id: id.clone(),
            column: None,
            text: new.comment().map(str::to_string),
        });
    }
    let none = BTreeSet::new();
    let ga: &BTreeSet<Grant> = old.grants().unwrap_or(&none);
    let gb: &BTreeSet<Grant> = new.grants().unwrap_or(&none);
    for grant in ga.difference(gb) {
        out.push(Change::Revoke {
            id: id.clone(),
            grant: grant.clone(),
        });
    }
    for grant in gb.difference(ga) {
        out.push(Change::Grant {
            id: id.clone(),
            grant: grant.clone(),
        });
    }
}

fn alter_type(a: &TypeDef, b: &TypeDef, out: &mut Changes) {
    let name = b.name.clone();
    match (&a.kind, &b.kind) {
        (TypeKind::Enum { labels: x }, TypeKind::Enum { labels: y }) => {
            let mut current: Vec<String> = x.clone();
            for (i, label) in y.iter().enumerate() {
                if current.contains(label) {
                    continue;
                }
                let position = if i > 0 {
                    EnumPosition::After(y[i - 1].clone())
                } else if let Some(next) = y.iter().find(|l| current.contains(l)) {
                    EnumPosition::Before(next.clone())
                } else {
                    EnumPosition::End
                };
                current.push(label.clone());
                out.push(Change::EnumAddValue {
                    name: name.clone(),
                    value: label.clone(),
                    position,
                    used_later: false,
                });
            }
        }
        (
            TypeKind::Domain {
                default: da,
                not_null: na,
                checks: ka,
                ..
            },
            TypeKind::Domain {
                default: db,
                not_null: nb,
                checks: kb,
                ..
            },
        ) => {
            let mut op = |op| {
                out.push(Change::Domain {
                    name: name.clone(),
                    op,
                });
            };
            for (check, def) in ka {
                if kb.get(check) != Some(def) {
                    op(DomainOp::DropCheck(check.clone()));
                }
            }
            if da != db {
                op(DomainOp::Default(db.clone()));
            }
            if na != nb {
                op(DomainOp::NotNull(*nb));
            }
            for (check, def) in kb {
                if ka.get(check) != Some(def) {
                    op(DomainOp::AddCheck {
                        name: check.clone(),
                        check: def.clone(),
                    });
                }
            }
        }
        (TypeKind::Composite { attributes: x }, TypeKind::Composite { attributes: y }) => {
            for attr in x.iter().filter(|a| !y.iter().any(|b| b.name == a.name)) {
                out.push(Change::Composite {
                    name: name.clone(),
                    op: CompositeOp::Drop(attr.name.clone()),
                });
            }
            for attr in y {
                let op = match x.iter().find(|a| a.name == attr.name) {
                    None => CompositeOp::Add(attr.clone()),
                    Some(old) if old != attr => CompositeOp::Type(attr.clone()),
                    Some(_) => continue,
                };
                out.push(Change::Composite {
                    name: name.clone(),
                    op,
                });
            }
        }
        _ => {}
    }
}

fn alter_sequence(a: &Sequence, b: &Sequence, out: &mut Changes) {
    let strip = |s: &Sequence| Sequence {
        owned_by: None,
        comment: None,
        grants: Default::default(),
        ..s.clone()
    };
    if strip(a) != strip(b) {
        out.push(Change::AlterSequence {
            from: a.clone(),
            to: b.clone(),
        });
    }
    if a.owned_by.is_some() && a.owned_by != b.owned_by {
        // Released first, before its old column can go (and take it along).
        out.push(Change::OwnedBy {
            sequence: b.name.clone(),
            owner: None,
        });
    }
    if b.owned_by.is_some() && a.owned_by != b.owned_by {
        out.push(Change::OwnedBy {
            sequence: b.name.clone(),
            owner: b.owned_by.clone(),
        });
    }
}
