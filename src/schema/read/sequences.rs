//! Sequences, with `OWNED BY`. Identity columns' sequences are part of
//! their column (`deptype = 'i'`) and not read.

use std::collections::BTreeSet;

use super::oids::PG_CLASS;
use super::sql::not_extension_member;
use super::{ReadError, Reader};
use crate::schema::model::{Object, ObjectId, QualName, Sequence};

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, format_type(s.seqtypid, NULL), \
           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
           own.nspname, own.relname, own.attname \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_sequence s ON s.seqrelid = c.oid \
         LEFT JOIN LATERAL ( \
           SELECT tn.nspname::text, t.relname::text, a.attname::text FROM pg_depend d \
           JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace \
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
             AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refobjsubid > 0 \
           LIMIT 1) own ON true \
         WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind = 'S' AND {} \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
             AND d.objid = c.oid AND d.deptype = 'i') \
         ORDER BY 2, 3",
        not_extension_member("pg_class", "c.oid")
    );
    for row in r.tx.query(&sql, &[&r.namespaces])? {
        let oid: u32 = row.get(0);
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let owned_by = match (
            row.get::<_, Option<String>>(10),
            row.get::<_, Option<String>>(11),
            row.get::<_, Option<String>>(12),
        ) {
            (Some(s), Some(t), Some(c)) => Some((QualName::new(s, t), c)),
            _ => None,
        };
        r.oids
            .add(PG_CLASS, oid, ObjectId::Sequence { name: name.clone() });
        r.catalog.insert(Object::Sequence(Sequence {
            name,
            data_type: row.get(3),
            start: row.get(4),
            increment: row.get(5),
            min_value: row.get(6),
            max_value: row.get(7),
            cache: row.get(8),
            cycle: row.get(9),
            owned_by,
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    Ok(())
}
