//! Dependency edges: `pg_depend` (normal and automatic) and the view rules
//! of `pg_rewrite` mapped onto the objects read, plus the edges the model
//! implies (a constraint on its table, a partition on its parent, ...).

use std::collections::BTreeSet;

use super::oids::PG_CLASS;
use super::{ReadError, Reader};
use crate::schema::model::{Catalog, Dependency, Object, ObjectId};

/// A view's `_RETURN` rule and a column default are their relation's;
/// a reference to an array type is a reference to its element type. The
/// rule and default look-ups are index probes guarded by `CASE`, made only
/// for the rows that need them (left joins probed every row); a referenced
/// column is named from the columns already read.
const QUERY: &str = "\
SELECT \
  CASE WHEN d.classid IN ('pg_rewrite'::regclass, 'pg_attrdef'::regclass) \
       THEN 'pg_class'::regclass::oid ELSE d.classid END, \
  CASE d.classid \
    WHEN 'pg_rewrite'::regclass \
      THEN coalesce((SELECT rw.ev_class FROM pg_rewrite rw WHERE rw.oid = d.objid), d.objid) \
    WHEN 'pg_attrdef'::regclass \
      THEN coalesce((SELECT ad.adrelid FROM pg_attrdef ad WHERE ad.oid = d.objid), d.objid) \
    ELSE d.objid END, \
  d.refclassid, coalesce(el.oid, d.refobjid), d.refobjsubid, d.deptype::text \
FROM pg_depend d \
LEFT JOIN pg_type el ON d.refclassid = 'pg_type'::regclass AND el.typarray = d.refobjid \
WHERE d.deptype IN ('n', 'a') AND d.objid >= 16384";

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    // Collected, then made a set in one go (a sort and a bulk build):
    // cheaper than inserting tens of thousands of edges one by one.
    let mut edges = Vec::new();
    for row in r.tx.query(QUERY, &[])? {
        let (class, oid, ref_class, ref_oid): (u32, u32, u32, u32) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let (Some(dependent), Some(referenced)) =
            (r.oids.get_read(class, oid), r.oids.get(ref_class, ref_oid))
        else {
            continue;
        };
        let deptype: String = row.get(5);
        // OWNED BY is about dropping together, not about creating after.
        if is_owned_by(dependent, referenced, &deptype) {
            continue;
        }
        let subid: i32 = row.get(4);
        let column = match (ref_class == PG_CLASS, i16::try_from(subid)) {
            (true, Ok(attnum)) if attnum > 0 => {
                r.columns.get(&(ref_oid, attnum)).map(|c| c.name.clone())
            }
            _ => None,
        };
        let edge = Dependency {
            dependent: dependent.clone(),
            referenced: referenced.clone(),
            column,
        };
        edges.push(edge);
    }
    edges.extend(r.catalog.objects.values().flat_map(implied_edges));
    let mut set: BTreeSet<Dependency> = edges.into_iter().collect();
    r.catalog.depends.append(&mut set);
    Ok(())
}

/// A sequence's automatic dependency on a table column: `OWNED BY`.
fn is_owned_by(dependent: &ObjectId, referenced: &ObjectId, deptype: &str) -> bool {
    deptype == "a"
        && matches!(dependent, ObjectId::Sequence { .. })
        && matches!(referenced, ObjectId::Table { .. })
}

/// The edges the model implies for one object.
fn implied_edges(object: &Object) -> Vec<Dependency> {
    let id = object.id();
    let mut on = Vec::new();
    if let Some(schema) = id.schema() {
        on.push(ObjectId::Schema {
            name: schema.to_string(),
        });
    }
    let table = |name: &crate::schema::QualName| ObjectId::Table { name: name.clone() };
    match object {
        Object::Extension(e) => on.push(ObjectId::Schema {
            name: e.schema.clone(),
        }),
        Object::Table(t) => {
            on.extend(t.partition_of.iter().map(|(p, _)| table(p)));
            on.extend(t.inherits.iter().map(table));
        }
        Object::Constraint(c) => {
            on.push(table(&c.table));
            on.extend(c.references.iter().map(table));
        }
        Object::Index(i) => {
            on.push(table(&i.table));
            on.push(ObjectId::View {
                name: i.table.clone(),
            });
            on.extend(i.parent.iter().map(|p| ObjectId::Index { name: p.clone() }));
        }
        Object::Trigger(t) => {
            on.push(table(&t.table));
            on.push(ObjectId::View {
                name: t.table.clone(),
            });
        }
        Object::Policy(p) => on.push(table(&p.table)),
        _ => {}
    }
    on.into_iter()
        .map(|referenced| Dependency {
            dependent: id.clone(),
            referenced,
            column: None,
        })
        .collect()
}

/// Keeps only edges whose two ends were both read (and are different).
pub fn keep_edges_between_read_objects(catalog: &mut Catalog) {
    let objects = &catalog.objects;
    catalog.depends.retain(|d| {
        d.dependent != d.referenced
            && objects.contains_key(&d.dependent)
            && objects.contains_key(&d.referenced)
    });
}
