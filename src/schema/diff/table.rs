//! A table on both sides, altered in place (recreated only when its
//! partitioning changes, see `alter::needs_recreate`): columns,
//! logging, storage parameters, row security, inheritance, partitions.

use super::change::Changes;
use super::change::{Change, TableOp};
use super::DiffError;
use crate::schema::model::{Catalog, Column, ObjectId, QualName, Table};

pub fn alter_table(
    _from: &Catalog,
    _to: &Catalog,
    a: &Table,
    b: &Table,
    out: &mut Changes,
) -> Result<(), DiffError> {
    let id = ObjectId::Table {
        name: b.name.clone(),
    };
    // A change of partitioning never reaches here: alter::needs_recreate.
    let mut op = |op: TableOp| {
        out.push(Change::Table {
            table: b.name.clone(),
            op,
        });
    };
    if let Some((parent, _)) = &a.partition_of {
        if a.partition_of != b.partition_of {
            op(TableOp::Detach {
                parent: parent.clone(),
            });
        }
    }
    inheritance(a, b, &mut op);
    for c in a.columns.iter().filter(|c| b.column(&c.name).is_none()) {
        op(TableOp::DropColumn(c.name.clone()));
    }
    for new in &b.columns {
        match a.column(&new.name) {
            None => op(TableOp::AddColumn(new.clone())),
            Some(old) if old.generated != new.generated && new.generated.is_some() => {
                // PostgreSQL 15 cannot change a generation expression in place.
                op(TableOp::DropColumn(new.name.clone()));
                op(TableOp::AddColumn(new.clone()));
            }
            Some(old) => {
                // Only asked when the type changes: it looks at every type.
                let via_text =
                    old.data_type != new.data_type && (is_enum(_from, old) || is_enum(_to, new));
                alter_column(old, new, via_text, &mut op)
            }
        }
    }
    if a.unlogged != b.unlogged {
        op(TableOp::SetLogged(!b.unlogged));
    }
    if a.options != b.options {
        let key = |o: &String| o.split('=').next().unwrap_or("").to_string();
        let reset = a
            .options
            .iter()
            .filter(|o| !b.options.iter().any(|n| key(n) == key(o)))
            .map(key)
            .collect();
        let set = b
            .options
            .iter()
            .filter(|o| !a.options.contains(o))
            .cloned()
            .collect();
        op(TableOp::Options {
            reset,
            set,
            result: b.options.clone(),
        });
    }
    if a.row_security != b.row_security {
        op(TableOp::RowSecurity(b.row_security));
    }
    if a.force_row_security != b.force_row_security {
        op(TableOp::ForceRowSecurity(b.force_row_security));
    }
    if let Some((parent, bound)) = &b.partition_of {
        if a.partition_of != b.partition_of {
            op(TableOp::Attach {
                parent: parent.clone(),
                bound: bound.clone(),
            });
        }
    }
    column_comments(a, b, &id, out);
    Ok(())
}

/// `COMMENT ON COLUMN` for the columns on both sides (a new or re-added
/// column brings its comment along).
fn column_comments(a: &Table, b: &Table, id: &ObjectId, out: &mut Changes) {
    for new in &b.columns {
        let old_comment = a.column(&new.name).and_then(|c| c.comment.clone());
        let replaced = a
            .column(&new.name)
            .is_some_and(|old| old.generated != new.generated && new.generated.is_some());
        if old_comment != new.comment && (a.column(&new.name).is_some() && !replaced) {
            out.push(Change::Comment {
                id: id.clone(),
                column: Some(new.name.clone()),
                text: new.comment.clone(),
            });
        }
    }
}

/// `NO INHERIT` the parents that go, `INHERIT` the new ones; when the
/// parents' order changes, all are detached and attached again in order.
fn inheritance(a: &Table, b: &Table, op: &mut impl FnMut(TableOp)) {
    if a.inherits == b.inherits {
        return;
    }
    let kept: Vec<&QualName> = a
        .inherits
        .iter()
        .filter(|p| b.inherits.contains(p))
        .collect();
    let in_order = b.inherits.iter().take(kept.len()).eq(kept.iter().copied());
    for p in &a.inherits {
        if !in_order || !b.inherits.contains(p) {
            op(TableOp::NoInherit(p.clone()));
        }
    }
    for p in &b.inherits {
        if !in_order || !a.inherits.contains(p) {
            op(TableOp::Inherit(p.clone()));
        }
    }
}

/// The steps of one column, in the order PostgreSQL accepts them: the old
/// default goes before a type change (it may not cast), NOT NULL before an
/// identity is added, the new default last.
fn alter_column(old: &Column, new: &Column, via_text: bool, op: &mut impl FnMut(TableOp)) {
    let name = || new.name.clone();
    // An identity goes first: the new type may not allow one.
    if old.identity.is_some() && new.identity.is_none() {
        op(TableOp::ColumnIdentity {
            column: name(),
            from: old.identity,
            to: None,
        });
    }
    if old.generated.is_some() && new.generated.is_none() {
        op(TableOp::DropExpression(name()));
    }
    let default_changes = old.default != new.default;
    let type_changes = old.data_type != new.data_type || old.collation != new.collation;
    if default_changes && (old.default.is_some() && (type_changes || new.default.is_none())) {
        op(TableOp::ColumnDefault {
            column: name(),
            default: None,
        });
    }
    if type_changes {
        op(TableOp::ColumnType {
            column: name(),
            from: old.data_type.clone(),
            to: new.data_type.clone(),
            collation: new.collation.clone(),
            via_text,
        });
    }
    if old.not_null != new.not_null {
        op(TableOp::ColumnNotNull {
            column: name(),
            not_null: new.not_null,
        });
    }
    if new.identity.is_some() && old.identity != new.identity {
        op(TableOp::ColumnIdentity {
            column: name(),
            from: old.identity,
            to: new.identity,
        });
    }
    if default_changes && new.default.is_some() {
        op(TableOp::ColumnDefault {
            column: name(),
            default: new.default.clone(),
        });
    }
}

/// A column whose type is an enum: PostgreSQL casts enums only from and
/// to text, so a type change to or from one goes through text.
fn is_enum(catalog: &Catalog, column: &Column) -> bool {
    catalog.objects.iter().any(|(id, o)| {
        matches!(o, crate::schema::model::Object::Type(t) if matches!(t.kind, crate::schema::model::TypeKind::Enum { .. }))
            && super::alter::uses_type(&column.data_type, id)
    })
}

/// A column moved to an enum recreated under its old name: its default
/// (typed with the old enum) is dropped first and set again after.
/// Returns the indexes of the steps (the old type is dropped after them).
pub fn move_column_to_recreated_type(
    table: &QualName,
    old: &Column,
    new: &Column,
    out: &mut Changes,
) -> Vec<usize> {
    let mut steps = Vec::new();
    let mut op = |op| {
        steps.push(out.push(Change::Table {
            table: table.clone(),
            op,
        }));
    };
    if old.default.is_some() {
        op(TableOp::ColumnDefault {
            column: old.name.clone(),
            default: None,
        });
    }
    op(TableOp::ColumnType {
        column: old.name.clone(),
        from: old.data_type.clone(),
        to: new.data_type.clone(),
        collation: new.collation.clone(),
        via_text: true,
    });
    if new.default.is_some() {
        op(TableOp::ColumnDefault {
            column: old.name.clone(),
            default: new.default.clone(),
        });
    }
    steps
}
