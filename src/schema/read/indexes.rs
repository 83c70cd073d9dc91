//! Indexes no constraint owns, on tables, partitions and materialized
//! views; on a partition, `parent` is the partitioned index it is attached
//! to.

use super::oids::PG_CLASS;
use super::{ReadError, Reader};
use crate::schema::model::{Expr, Index, Object, ObjectId, QualName};

/// An index's definition, as `pg_get_indexdef` prints it. Built from the
/// catalog columns when the index is plain (key columns only, each with its
/// column's collation, default operator class and no options or ordering;
/// no predicate, storage options or tablespace; on a table or materialized
/// view, not a partitioned table): `pg_get_indexdef` looks up each
/// column's default operator class with a catalog scan, which made it most
/// of the read on a large schema. Anything else is left to
/// `pg_get_indexdef`. Aliases: `i` pg_index, `ic` the index's pg_class,
/// `t` / `tn` the table's pg_class and pg_namespace, `am` pg_am, `cols`
/// the index's row of [`COLUMNS`].
#[doc(hidden)]
pub fn definition(server_version: i32) -> String {
    let nulls_distinct = match server_version >= 150_000 {
        true => "NOT i.indnullsnotdistinct",
        false => "true",
    };
    format!(
        "CASE WHEN cols.plain AND i.indexprs IS NULL AND i.indpred IS NULL \
           AND i.indnkeyatts = i.indnatts AND ic.reloptions IS NULL AND ic.reltablespace = 0 \
           AND t.relkind IN ('r', 'm') AND {nulls_distinct} \
         THEN 'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' \
           || quote_ident(ic.relname) || ' ON ' || quote_ident(tn.nspname) || '.' \
           || quote_ident(t.relname) || ' USING ' || quote_ident(am.amname) \
           || ' (' || cols.names || ')' \
         ELSE pg_get_indexdef(i.indexrelid) END"
    )
}

/// Per index of the tables `$1`: its key columns' names, quoted and comma-separated, and
/// whether every one is plain (a column, not an expression, with its own
/// collation, the default operator class of its type, no options, no
/// DESC or NULLS FIRST). `OFFSET 0` keeps the two `pg_attribute` look-ups
/// index probes: as joins the planner hashed all of `pg_attribute` twice
/// (40,000 rows on the benchmark's schema), twice as slow.
#[doc(hidden)]
pub const COLUMNS: &str = "\
SELECT k.idx, string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) AS names, \
  bool_and((k.num > 0 AND k.opt = 0 AND k.coll = a.attcollation AND o.opcdefault \
            AND o.opcintype = a.atttypid AND ia.attoptions IS NULL) IS TRUE) AS plain \
FROM (SELECT i.indexrelid AS idx, i.indrelid AS rel, u.* FROM pg_index i, \
        unnest(i.indkey::int2[], i.indclass::oid[], i.indcollation::oid[], i.indoption::int2[]) \
        WITH ORDINALITY u(num, cls, coll, opt, ord) \
      WHERE i.indrelid = ANY($1::oid[])) k \
LEFT JOIN LATERAL (SELECT a.attname, a.attcollation, a.atttypid FROM pg_attribute a \
                   WHERE a.attrelid = k.rel AND a.attnum = k.num OFFSET 0) a ON true \
LEFT JOIN pg_opclass o ON o.oid = k.cls \
LEFT JOIN LATERAL (SELECT ia.attoptions FROM pg_attribute ia \
                   WHERE ia.attrelid = k.idx AND ia.attnum = k.ord::int2 OFFSET 0) ia ON true \
GROUP BY k.idx";

fn query(server_version: i32) -> String {
    let definition = definition(server_version);
    format!(
        "WITH cols AS ({COLUMNS}) \
         SELECT ic.oid, n.nspname::text, ic.relname::text, i.indrelid, {definition}, \
           i.indisunique, am.amname::text, pn.nspname::text, pc.relname::text \
         FROM pg_index i \
         JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = ic.relnamespace \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         JOIN pg_am am ON am.oid = ic.relam \
         LEFT JOIN cols ON cols.idx = i.indexrelid \
         LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid \
         LEFT JOIN pg_class pc ON pc.oid = inh.inhparent \
         LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
         WHERE i.indrelid = ANY($1::oid[]) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                           AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')) \
         ORDER BY 2, 3"
    )
}

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let rels: Vec<u32> = r.oids.tables.iter().chain(&r.oids.views).copied().collect();
    for row in r.tx.query(&query(r.server_version), &[&rels])? {
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
