//! Table constraints: primary key, unique, check, foreign key, exclusion.
//! (NOT NULL is a column property; constraint triggers are triggers.)

use super::oids::{PG_CLASS, PG_CONSTRAINT};
use super::{ReadError, Reader};
use crate::schema::model::{Constraint, ConstraintKind, Expr, Object, ObjectId, QualName};

const QUERY: &str = "\
SELECT c.oid, c.conrelid, c.conname::text, c.contype::text, pg_get_constraintdef(c.oid), \
  array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(num, i) \
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.i), \
  rn.nspname::text, rt.relname::text, c.condeferrable, c.condeferred, c.convalidated, \
  c.conislocal, c.conindid \
FROM pg_constraint c \
LEFT JOIN pg_class rt ON rt.oid = c.confrelid AND c.contype = 'f' \
LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace \
WHERE c.conrelid = ANY($1::oid[]) AND c.contype IN ('p', 'u', 'c', 'f', 'x') \
ORDER BY c.conrelid, c.conname";

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    for row in r.tx.query(QUERY, &[&r.oids.tables])? {
        let Some(ObjectId::Table { name: table }) = r.oids.get_read(PG_CLASS, row.get(1)).cloned()
        else {
            continue;
        };
        let kind = match row.get::<_, String>(3).as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "c" => ConstraintKind::Check,
            "f" => ConstraintKind::ForeignKey,
            _ => ConstraintKind::Exclusion,
        };
        let validated: bool = row.get(10);
        let mut definition: String = row.get(4);
        if !validated {
            if let Some(stripped) = definition.strip_suffix(" NOT VALID") {
                definition = stripped.to_string();
            }
        }
        let references = match (
            row.get::<_, Option<String>>(6),
            row.get::<_, Option<String>>(7),
        ) {
            (Some(s), Some(t)) => Some(QualName::new(s, t)),
            _ => None,
        };
        let name: String = row.get(2);
        let id = ObjectId::Constraint {
            table: table.clone(),
            name: name.clone(),
        };
        r.oids.add(PG_CONSTRAINT, row.get(0), id.clone());
        // The index of a primary key, unique or exclusion constraint is the
        // constraint's: what depends on the index depends on the constraint.
        let index: u32 = row.get(12);
        if index != 0 && kind != ConstraintKind::ForeignKey {
            r.oids.add(PG_CLASS, index, id);
        }
        r.catalog.insert(Object::Constraint(Constraint {
            table,
            name,
            kind,
            definition: Expr(definition),
            columns: row.get(5),
            references,
            deferrable: row.get(8),
            initially_deferred: row.get(9),
            validated,
            is_local: row.get(11),
            comment: None,
        }));
    }
    Ok(())
}
