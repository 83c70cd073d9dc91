//! Tables (ordinary, partitioned, partitions, inheritance children,
//! unlogged) and the columns of tables and views.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::oids::{PG_CLASS, PG_TYPE};
use super::sql::{collation_unless, not_extension_member};
use super::{table_id, unsupported, ColumnRef, ReadError, Reader};
use crate::schema::model::{Column, Expr, Identity, Object, ObjectId, QualName, Table};

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let parents = "FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                   JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                   WHERE i.inhrelid = c.oid ORDER BY i.inhseqno";
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relpersistence = 'u', \
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, c.relispartition, \
           pg_get_expr(c.relpartbound, c.oid), \
           array(SELECT pn.nspname::text {parents}), array(SELECT p.relname::text {parents}), \
           coalesce(c.reloptions, '{{}}'), c.relrowsecurity, c.relforcerowsecurity, c.reltype \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('r', 'p') AND {} \
         ORDER BY 2, 3",
        not_extension_member("pg_class", "c.oid")
    );
    for row in r.tx.query(&sql, &[&r.namespaces])? {
        let oid: u32 = row.get(0);
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let parent_schemas: Vec<String> = row.get(7);
        let parent_names: Vec<String> = row.get(8);
        let mut parents: Vec<QualName> = parent_schemas
            .into_iter()
            .zip(parent_names)
            .map(|(s, n)| QualName::new(s, n))
            .collect();
        let partition_of = match (row.get::<_, bool>(5), row.get::<_, Option<String>>(6)) {
            (true, Some(bound)) if !parents.is_empty() => {
                Some((std::mem::take(&mut parents).remove(0), Expr(bound)))
            }
            _ => None,
        };
        let id = table_id(&name.schema, &name.name);
        r.oids.add(PG_CLASS, oid, id.clone());
        r.oids.add(PG_TYPE, row.get(12), id);
        r.oids.tables.push(oid);
        r.catalog.insert(Object::Table(Table {
            name,
            columns: Vec::new(),
            unlogged: row.get(3),
            partition_by: row.get::<_, Option<String>>(4).map(Expr),
            partition_of,
            inherits: parents,
            options: row.get(9),
            row_security: row.get(10),
            force_row_security: row.get(11),
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    Ok(())
}

/// The columns of every table and view read, in `attnum` order.
pub fn read_columns(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT a.attrelid, a.attname::text, a.atttypmod, {coll}, \
           CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, \
           a.attnotnull, a.attidentity::text, \
           CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END, \
           a.attislocal, coalesce(cardinality(a.attacl), 0) > 0, a.attnum, \
           a.atttypid, a.attcollation \
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         LEFT JOIN pg_type ty ON ty.oid = a.atttypid \
         WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attrelid, a.attnum",
        // The type's collation by a join, not a sub-select per column.
        coll = collation_unless("a.attcollation", "ty.typcollation")
    );
    let rels: Vec<u32> = r.oids.tables.iter().chain(&r.oids.views).copied().collect();
    let rows = r.tx.query(&sql, &[&rels])?;
    let type_names = type_names(r, rows.iter().map(|row| (row.get(11), row.get(2))))?;
    // The rows come table by table: the owner is looked up once per table.
    let mut owner: Option<(u32, ObjectId)> = None;
    for row in rows {
        let relid: u32 = row.get(0);
        if owner.as_ref().is_none_or(|(oid, _)| *oid != relid) {
            owner = r
                .oids
                .get_read(PG_CLASS, relid)
                .cloned()
                .map(|id| (relid, id));
        }
        let Some((_, id)) = &owner else {
            continue;
        };
        let name: String = row.get(1);
        if row.get::<_, bool>(9) {
            return Err(unsupported(
                format!("column {name} of {id}"),
                "a column-level privilege (GRANT ... (column) ON ...)",
            ));
        }
        let column = ColumnRef {
            name: name.clone(),
            type_oid: row.get(11),
            collation: row.get(12),
        };
        r.columns.insert((relid, row.get(10)), column);
        let data_type = Expr(type_names[&(row.get(11), row.get(2))].clone());
        match r.catalog.objects.get_mut(id) {
            Some(Object::Table(t)) => t.columns.push(Column {
                name,
                data_type,
                collation: row.get(3),
                default: row.get::<_, Option<String>>(4).map(Expr),
                not_null: row.get(5),
                identity: match row.get::<_, String>(6).as_str() {
                    "a" => Some(Identity::Always),
                    "d" => Some(Identity::ByDefault),
                    _ => None,
                },
                generated: row.get::<_, Option<String>>(7).map(Expr),
                is_local: row.get(8),
                comment: None,
            }),
            Some(Object::View(v)) => v.columns.push((name, data_type)),
            _ => {}
        }
    }
    Ok(())
}

/// `format_type` of each distinct `(type, typmod)` pair: a large schema
/// has a few hundred of them for thousands of columns.
fn type_names(
    r: &mut Reader<'_>,
    pairs: impl Iterator<Item = (u32, i32)>,
) -> Result<HashMap<(u32, i32), String>, ReadError> {
    let distinct: HashSet<(u32, i32)> = pairs.collect();
    let (types, mods): (Vec<u32>, Vec<i32>) = distinct.into_iter().unzip();
    let rows = r.tx.query(
        "SELECT x.t, x.m, format_type(x.t, x.m) FROM unnest($1::oid[], $2::int4[]) x(t, m)",
        &[&types, &mods],
    )?;
    Ok(rows
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}
