//! A change performed on a model: what PostgreSQL does to its catalogs
//! when it runs the change's statements. The property tests apply the
//! changes of `diff(A, B)` to A and compare with B.

use super::change::{Change, CompositeOp, DomainOp, EnumPosition, TableOp};
use crate::schema::model::{Catalog, Column, Dependency, Object, ObjectId, Table, TypeKind};

/// Performs `change` on `catalog`; an error names what was missing.
pub fn apply(catalog: &mut Catalog, change: &Change) -> Result<(), String> {
    match change {
        Change::Create {
            object, depends, ..
        }
        | Change::Replace { object, depends } => {
            let id = object.id();
            catalog.depends.retain(|d| d.dependent != id);
            catalog.depends.extend(depends.iter().cloned());
            catalog.insert(object.clone());
        }
        Change::Drop { object, .. } => {
            let id = object.id();
            catalog
                .objects
                .remove(&id)
                .ok_or_else(|| format!("drop of missing {id}"))?;
            catalog.depends.retain(|d| d.dependent != id);
        }
        Change::Depends { id, edges } => {
            catalog.depends.retain(|d| &d.dependent != id);
            catalog.depends.extend(edges.iter().cloned());
        }
        Change::Table { table, op } => {
            let id = ObjectId::Table {
                name: table.clone(),
            };
            match catalog.objects.get_mut(&id) {
                Some(Object::Table(t)) => apply_table(t, op)?,
                _ => return Err(format!("alter of missing {id}")),
            }
        }
        Change::Validate { table, name } => {
            let id = ObjectId::Constraint {
                table: table.clone(),
                name: name.clone(),
            };
            match catalog.objects.get_mut(&id) {
                Some(Object::Constraint(c)) => c.validated = true,
                _ => return Err(format!("validate of missing {id}")),
            }
        }
        Change::RenameType { from, to } => rename_type(catalog, from, to)?,
        Change::AlterSequence { to, .. } => {
            let id = ObjectId::Sequence {
                name: to.name.clone(),
            };
            match catalog.objects.get_mut(&id) {
                Some(Object::Sequence(s)) => {
                    let owned_by = s.owned_by.clone();
                    *s = to.clone();
                    s.owned_by = owned_by;
                }
                _ => return Err(format!("alter of missing {id}")),
            }
        }
        Change::OwnedBy { sequence, owner } => {
            // OWNED BY is the sequence's edge to its column: moved with it.
            let id = ObjectId::Sequence {
                name: sequence.clone(),
            };
            let Some(Object::Sequence(s)) = catalog.objects.get_mut(&id) else {
                return Err(format!("owned by of missing {id}"));
            };
            let old = std::mem::replace(&mut s.owned_by, owner.clone());
            if let Some((table, _)) = old {
                let table = ObjectId::Table { name: table };
                catalog
                    .depends
                    .retain(|d| !(d.dependent == id && d.referenced == table));
            }
            if let Some((table, column)) = owner {
                catalog.depends.insert(Dependency {
                    dependent: id,
                    referenced: ObjectId::Table {
                        name: table.clone(),
                    },
                    column: Some(column.clone()),
                });
            }
        }
        Change::AlterPolicy { to, .. } => {
            catalog.insert(to.clone());
        }
        other => apply_in_object(catalog, other)?,
    }
    Ok(())
}

fn rename_type(
    catalog: &mut Catalog,
    from: &crate::schema::model::QualName,
    to: &crate::schema::model::QualName,
) -> Result<(), String> {
    let id = ObjectId::Type { name: from.clone() };
    let Some(Object::Type(mut t)) = catalog.objects.remove(&id) else {
        return Err(format!("rename of missing {id}"));
    };
    t.name = to.clone();
    catalog.depends.retain(|d| d.dependent != id);
    catalog.insert(Object::Type(t));
    Ok(())
}

/// The changes that edit one field of an existing object.
fn apply_in_object(catalog: &mut Catalog, change: &Change) -> Result<(), String> {
    let id = change.subject();
    let object = catalog
        .objects
        .get_mut(&id)
        .ok_or_else(|| format!("change of missing {id}"))?;
    let mismatch = || format!("{id}: change does not fit the object");
    match (change, object) {
        (
            Change::EnumAddValue {
                value, position, ..
            },
            Object::Type(t),
        ) => {
            let TypeKind::Enum { labels } = &mut t.kind else {
                return Err(mismatch());
            };
            let at = match position {
                EnumPosition::End => labels.len(),
                EnumPosition::Before(v) => {
                    labels.iter().position(|l| l == v).ok_or_else(mismatch)?
                }
                EnumPosition::After(v) => {
                    labels.iter().position(|l| l == v).ok_or_else(mismatch)? + 1
                }
            };
            labels.insert(at, value.clone());
        }
        (Change::Domain { op, .. }, Object::Type(t)) => {
            let TypeKind::Domain {
                default,
                not_null,
                checks,
                ..
            } = &mut t.kind
            else {
                return Err(mismatch());
            };
            match op {
                DomainOp::Default(d) => *default = d.clone(),
                DomainOp::NotNull(n) => *not_null = *n,
                DomainOp::AddCheck { name, check } => {
                    checks.insert(name.clone(), check.clone());
                }
                DomainOp::DropCheck(name) => {
                    checks.remove(name);
                }
            }
        }
        (Change::Composite { op, .. }, Object::Type(t)) => {
            let TypeKind::Composite { attributes } = &mut t.kind else {
                return Err(mismatch());
            };
            match op {
                CompositeOp::Add(a) => attributes.push(a.clone()),
                CompositeOp::Drop(name) => attributes.retain(|a| &a.name != name),
                CompositeOp::Type(a) => {
                    let slot = attributes
                        .iter_mut()
                        .find(|x| x.name == a.name)
                        .ok_or_else(mismatch)?;
                    *slot = a.clone();
                }
            }
        }
        (Change::ExtensionUpdate { version, .. }, Object::Extension(e)) => {
            e.version = version.clone()
        }
        (Change::ExtensionSchema { schema, .. }, Object::Extension(e)) => e.schema = schema.clone(),
        (Change::TriggerEnabled { enabled, .. }, Object::Trigger(t)) => t.enabled = *enabled,
        (Change::Comment { column, text, .. }, object) => {
            set_comment(object, column.as_deref(), text.clone()).ok_or_else(mismatch)?
        }
        (Change::Grant { grant, .. }, object) => {
            object
                .grants_mut()
                .ok_or_else(mismatch)?
                .insert(grant.clone());
        }
        (Change::Revoke { grant, .. }, object) => {
            object.grants_mut().ok_or_else(mismatch)?.remove(grant);
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn apply_table(t: &mut Table, op: &TableOp) -> Result<(), String> {
    fn column<'t>(t: &'t mut Table, c: &str) -> Result<&'t mut Column, String> {
        let name = t.name.clone();
        t.columns
            .iter_mut()
            .find(|x| x.name == c)
            .ok_or_else(|| format!("column {c} missing on table {name}"))
    }
    match op {
        TableOp::ColumnType {
            column: c,
            to,
            collation,
            ..
        } => {
            let col = column(t, c)?;
            col.data_type = to.clone();
            col.collation = collation.clone();
        }
        TableOp::ColumnDefault { column: c, default } => column(t, c)?.default = default.clone(),
        TableOp::ColumnNotNull {
            column: c,
            not_null,
        } => column(t, c)?.not_null = *not_null,
        TableOp::ColumnIdentity { column: c, to, .. } => {
            let col = column(t, c)?;
            col.identity = *to;
            if to.is_some() {
                col.not_null = true;
            }
        }
        TableOp::DropExpression(c) => column(t, c)?.generated = None,
        TableOp::AddColumn(c) => t.columns.push(c.clone()),
        TableOp::DropColumn(c) => t.columns.retain(|x| &x.name != c),
        TableOp::SetLogged(logged) => t.unlogged = !logged,
        TableOp::Options { result, .. } => t.options = result.clone(),
        TableOp::RowSecurity(on) => t.row_security = *on,
        TableOp::ForceRowSecurity(on) => t.force_row_security = *on,
        TableOp::Inherit(p) => t.inherits.push(p.clone()),
        TableOp::NoInherit(p) => t.inherits.retain(|x| x != p),
        TableOp::Attach { parent, bound } => t.partition_of = Some((parent.clone(), bound.clone())),
        TableOp::Detach { .. } => t.partition_of = None,
    }
    Ok(())
}

/// Sets the comment of an object, or of one of its columns.
fn set_comment(object: &mut Object, column: Option<&str>, text: Option<String>) -> Option<()> {
    match (object, column) {
        (Object::Table(t), Some(c)) => t.columns.iter_mut().find(|x| x.name == c)?.comment = text,
        (Object::View(v), Some(c)) => match text {
            Some(text) => {
                v.column_comments.insert(c.to_string(), text);
            }
            None => {
                v.column_comments.remove(c);
            }
        },
        (_, Some(_)) => return None,
        (object, None) => *object.comment_mut() = text,
    }
    Some(())
}
