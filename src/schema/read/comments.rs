//! Comments (`pg_description`), also on columns of tables and views.

use super::oids::PG_CLASS;
use super::{ReadError, Reader};
use crate::schema::model::{Object, ObjectId};

const QUERY: &str = "\
SELECT d.classoid, d.objoid, a.attname::text, d.description \
FROM pg_description d \
LEFT JOIN pg_attribute a ON d.classoid = 'pg_class'::regclass AND d.objsubid > 0 \
  AND a.attrelid = d.objoid AND a.attnum = d.objsubid \
WHERE d.classoid IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass, \
    'pg_namespace'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass, \
    'pg_policy'::regclass, 'pg_extension'::regclass) \
  AND (d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass) \
  AND (d.objsubid = 0 OR a.attname IS NOT NULL)";

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    for row in r.tx.query(QUERY, &[])? {
        let (class, oid): (u32, u32) = (row.get(0), row.get(1));
        let Some(id) = r.oids.get_read(class, oid).cloned() else {
            continue;
        };
        // A constraint's index maps to the constraint; its own comment is
        // the one on the pg_constraint row.
        if class == PG_CLASS && matches!(id, ObjectId::Constraint { .. }) {
            continue;
        }
        let column: Option<String> = row.get(2);
        let text: String = row.get(3);
        if let Some(object) = r.catalog.objects.get_mut(&id) {
            set_comment(object, column, text);
        }
    }
    Ok(())
}

fn set_comment(object: &mut Object, column: Option<String>, text: String) {
    let slot = match (object, column) {
        (Object::Table(t), Some(c)) => match t.columns.iter_mut().find(|col| col.name == c) {
            Some(col) => &mut col.comment,
            None => return,
        },
        (Object::View(v), Some(c)) => {
            v.column_comments.insert(c, text);
            return;
        }
        (_, Some(_)) => return,
        (Object::Schema(x), None) => &mut x.comment,
        (Object::Extension(x), None) => &mut x.comment,
        (Object::Collation(x), None) => &mut x.comment,
        (Object::Type(x), None) => &mut x.comment,
        (Object::Sequence(x), None) => &mut x.comment,
        (Object::Table(x), None) => &mut x.comment,
        (Object::View(x), None) => &mut x.comment,
        (Object::Function(x), None) => &mut x.comment,
        (Object::Constraint(x), None) => &mut x.comment,
        (Object::Index(x), None) => &mut x.comment,
        (Object::Trigger(x), None) => &mut x.comment,
        (Object::Policy(x), None) => &mut x.comment,
    };
    *slot = Some(text);
}
