//! Indexes no constraint owns, on tables, partitions and materialized
//! views; on a partition, `parent` is the partitioned index it is attached
//! to.

use super::oids::PG_CLASS;
use super::{ReadError, Reader};
use crate::schema::model::{Expr, Index, Object, ObjectId, QualName};

const QUERY: &str = "\
SELECT ic.oid, n.nspname::text, ic.relname::text, i.indrelid, pg_get_indexdef(i.indexrelid), \
  i.indisunique, am.amname::text, pn.nspname::text, pc.relname::text \
FROM pg_index i \
JOIN pg_class ic ON ic.oid = i.indexrelid \
JOIN pg_namespace n ON n.oid = ic.relnamespace \
JOIN pg_am am ON am.oid = ic.relam \
LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid \
LEFT JOIN pg_class pc ON pc.oid = inh.inhparent \
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
WHERE i.indrelid = ANY($1::oid[]) \
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')) \
ORDER BY 2, 3";

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let rels: Vec<u32> = r.oids.tables.iter().chain(&r.oids.views).copied().collect();
    for row in r.tx.query(QUERY, &[&rels])? {
        let table = match r.oids.get_read(PG_CLASS, row.get(3)) {
            Some(ObjectId::Table { name }) | Some(ObjectId::View { name }) => name.clone(),
            _ => continue,
        };
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let parent = match (
            row.get::<_, Option<String>>(7),
            row.get::<_, Option<String>>(8),
        ) {
            (Some(s), Some(n)) => Some(QualName::new(s, n)),
            _ => None,
        };
        r.oids
            .add(PG_CLASS, row.get(0), ObjectId::Index { name: name.clone() });
        r.catalog.insert(Object::Index(Index {
            name,
            table,
            definition: Expr(row.get(4)),
            unique: row.get(5),
            method: row.get(6),
            parent,
            comment: None,
        }));
    }
    Ok(())
}
