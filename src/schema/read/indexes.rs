//! Indexes no constraint owns, on tables, partitions and materialized
//! views; on a partition, `parent` is the partitioned index it is attached
//! to.
//!
//! A plain index's definition (key columns only, each with its column's
//! collation, the default operator class of its type, no options or
//! ordering; no predicate, storage options or tablespace; not on a
//! partitioned table) is printed here as `pg_get_indexdef` prints it,
//! from the columns already read: `pg_get_indexdef` looks up each column's
//! default operator class with a catalog scan, which made it the largest
//! part of the read on a big schema. PostgreSQL prints the rest.

use std::collections::HashMap;

use postgres::Row;

use super::oids::PG_CLASS;
use super::{printed_by_postgres, ColumnRef, ReadError, Reader};
use crate::schema::model::{Expr, Index, Object, ObjectId, QualName};
use crate::schema::render::ident;

/// The condition, in SQL, for an index whose shape may be plain (its
/// columns are checked in Rust, [`plain_columns`]). Aliases: `i` pg_index,
/// `ic` the index's pg_class, `t` the table's. `OFFSET 0` keeps the
/// operator-class options check an index probe per index: as an anti-join
/// the planner hashed every column with options (the table columns too,
/// 10,000 on the benchmark's schema), which took longer.
#[doc(hidden)]
pub fn plain_shape(server_version: i32) -> String {
    let nulls_distinct = match server_version >= 150_000 {
        true => "NOT i.indnullsnotdistinct",
        false => "true",
    };
    format!(
        "i.indexprs IS NULL AND i.indpred IS NULL AND i.indnkeyatts = i.indnatts \
         AND ic.reloptions IS NULL AND ic.reltablespace = 0 AND t.relkind IN ('r', 'm') \
         AND {nulls_distinct} \
         AND NOT EXISTS (SELECT 1 FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid \
                         AND ia.attoptions IS NOT NULL OFFSET 0)"
    )
}

fn query(server_version: i32) -> String {
    let shape = plain_shape(server_version);
    format!(
        "SELECT ic.oid, n.nspname::text, ic.relname::text, i.indrelid, \
           CASE WHEN {shape} THEN NULL ELSE pg_get_indexdef(i.indexrelid) END, \
           i.indisunique, am.amname::text, pn.nspname::text, pc.relname::text, \
           tn.nspname::text, t.relname::text, i.indkey::int2[], i.indclass::oid[], \
           i.indcollation::oid[], i.indoption::int2[] \
         FROM pg_index i \
         JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = ic.relnamespace \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         JOIN pg_am am ON am.oid = ic.relam \
         LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid \
         LEFT JOIN pg_class pc ON pc.oid = inh.inhparent \
         LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
         WHERE i.indrelid = ANY($1::oid[]) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                           AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')) \
         ORDER BY 2, 3"
    )
}

/// An operator class: is it the default for its input type, and which.
type OpClasses = HashMap<u32, (bool, u32)>;

fn opclasses(r: &mut Reader<'_>) -> Result<OpClasses, ReadError> {
    let rows =
        r.tx.query("SELECT oid, opcdefault, opcintype FROM pg_opclass", &[])?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect())
}

/// An index's key columns as `pg_index` lists them.
struct Keys {
    table: u32,
    attnums: Vec<i16>,
    opclasses: Vec<u32>,
    collations: Vec<u32>,
    options: Vec<i16>,
}

impl Keys {
    fn of(row: &Row) -> Keys {
        Keys {
            table: row.get(3),
            attnums: row.get(11),
            opclasses: row.get(12),
            collations: row.get(13),
            options: row.get(14),
        }
    }
}

/// The key columns' names, quoted, when every one is plain: a column (not
/// an expression) with its own collation, the default operator class of
/// its own type (not one of a type it is coerced to, as text's is for
/// varchar), ascending with nulls last. `None` otherwise.
fn plain_columns(
    columns: &HashMap<(u32, i16), ColumnRef>,
    classes: &OpClasses,
    keys: &Keys,
) -> Option<Vec<String>> {
    let n = keys.attnums.len();
    if keys.opclasses.len() != n || keys.collations.len() != n || keys.options.len() != n {
        return None;
    }
    let mut names = Vec::with_capacity(n);
    for k in 0..n {
        let column = columns.get(&(keys.table, keys.attnums[k]))?;
        let (default, input) = classes.get(&keys.opclasses[k])?;
        let plain = keys.attnums[k] > 0
            && keys.options[k] == 0
            && keys.collations[k] == column.collation
            && *default
            && *input == column.type_oid;
        if !plain {
            return None;
        }
        names.push(ident(&column.name));
    }
    Some(names)
}

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let rels: Vec<u32> = r.oids.tables.iter().chain(&r.oids.views).copied().collect();
    let classes = opclasses(r)?;
    let mut unprinted = Vec::new();
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
        let unique: bool = row.get(5);
        let method: String = row.get(6);
        let definition = match row.get::<_, Option<String>>(4) {
            Some(printed) => printed,
            None => match plain_columns(&r.columns, &classes, &Keys::of(&row)) {
                Some(columns) => format!(
                    "CREATE {}INDEX {} ON {}.{} USING {} ({})",
                    if unique { "UNIQUE " } else { "" },
                    ident(&name.name),
                    ident(&row.get::<_, String>(9)),
                    ident(&row.get::<_, String>(10)),
                    ident(&method),
                    columns.join(", ")
                ),
                None => {
                    unprinted.push(row.get::<_, u32>(0));
                    String::new()
                }
            },
        };
        r.oids
            .add(PG_CLASS, row.get(0), ObjectId::Index { name: name.clone() });
        r.catalog.insert(Object::Index(Index {
            name,
            table,
            definition: Expr(definition),
            unique,
            method,
            parent,
            comment: None,
        }));
    }
    print_the_rest(r, &unprinted)
}

/// The definitions [`plain_columns`] refused, from `pg_get_indexdef`.
fn print_the_rest(r: &mut Reader<'_>, oids: &[u32]) -> Result<(), ReadError> {
    let printer = "SELECT indexrelid, pg_get_indexdef(indexrelid) FROM pg_index \
                   WHERE indexrelid = ANY($1::oid[])";
    for (id, text) in printed_by_postgres(r, PG_CLASS, printer, oids)? {
        if let Some(Object::Index(i)) = r.catalog.objects.get_mut(&id) {
            i.definition = Expr(text);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT4: u32 = 23;
    const TEXT: u32 = 25;
    const VARCHAR: u32 = 1043;
    const DEFAULT_COLLATION: u32 = 100;
    const INT4_OPS: u32 = 1978;
    const TEXT_OPS: u32 = 1994;
    const TEXT_PATTERN_OPS: u32 = 4217;

    fn setup() -> (HashMap<(u32, i16), ColumnRef>, OpClasses) {
        let column = |name: &str, type_oid, collation| ColumnRef {
            name: name.to_string(),
            type_oid,
            collation,
        };
        let columns = HashMap::from([
            ((1, 1), column("id", INT4, 0)),
            ((1, 2), column("Name", TEXT, DEFAULT_COLLATION)),
            ((1, 3), column("code", VARCHAR, DEFAULT_COLLATION)),
        ]);
        let classes = HashMap::from([
            (INT4_OPS, (true, INT4)),
            (TEXT_OPS, (true, TEXT)),
            (TEXT_PATTERN_OPS, (false, TEXT)),
        ]);
        (columns, classes)
    }

    fn keys(attnums: &[i16], opclasses: &[u32], collations: &[u32], options: &[i16]) -> Keys {
        Keys {
            table: 1,
            attnums: attnums.to_vec(),
            opclasses: opclasses.to_vec(),
            collations: collations.to_vec(),
            options: options.to_vec(),
        }
    }

    #[test]
    fn plain_key_columns_are_named_and_quoted() {
        let (columns, classes) = setup();
        let k = keys(
            &[2, 1],
            &[TEXT_OPS, INT4_OPS],
            &[DEFAULT_COLLATION, 0],
            &[0, 0],
        );
        assert_eq!(
            plain_columns(&columns, &classes, &k),
            Some(vec!["\"Name\"".to_string(), "id".to_string()])
        );
    }

    #[test]
    fn anything_unusual_is_left_to_postgresql() {
        let (columns, classes) = setup();
        let cases = [
            // an expression column
            keys(&[0], &[INT4_OPS], &[0], &[0]),
            // DESC
            keys(&[1], &[INT4_OPS], &[0], &[1]),
            // another collation than the column's
            keys(&[2], &[TEXT_OPS], &[950], &[0]),
            // a non-default operator class
            keys(&[2], &[TEXT_PATTERN_OPS], &[DEFAULT_COLLATION], &[0]),
            // the default class of another type (text's, for varchar)
            keys(&[3], &[TEXT_OPS], &[DEFAULT_COLLATION], &[0]),
            // a column the reader did not see
            keys(&[9], &[INT4_OPS], &[0], &[0]),
            // arrays of different lengths
            keys(&[1, 2], &[INT4_OPS], &[0, 100], &[0, 0]),
        ];
        for (i, k) in cases.iter().enumerate() {
            assert_eq!(plain_columns(&columns, &classes, k), None, "case {i}");
        }
    }
}
