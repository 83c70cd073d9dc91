//! Table constraints: primary key, unique, check, foreign key, exclusion.
//! (NOT NULL is a column property; constraint triggers are triggers.)

use super::oids::{PG_CLASS, PG_CONSTRAINT};
use super::{printed_by_postgres, ReadError, Reader};
use crate::schema::model::{Constraint, ConstraintKind, Expr, Object, ObjectId, QualName};
use crate::schema::render::{ident, qual};
use postgres::Row;

/// The condition for a primary key, unique or foreign key constraint that `plain_definition`
/// prints as `pg_get_constraintdef` would: a key with no INCLUDE, storage
/// options, tablespace or NULLS NOT DISTINCT; a foreign key to a table
/// read (its column names are known) without `ON DELETE SET NULL (cols)`.
/// The rest, checks and exclusions among them, are left to
/// `pg_get_constraintdef`, whose catalog look-ups per row made it a large
/// part of the read on a big schema. Aliases: `c` pg_constraint, `ci` /
/// `cic` the pg_index / pg_class of a key's index.
#[doc(hidden)]
pub fn plain(server_version: i32) -> String {
    // Named columns (PostgreSQL 15's), not `to_jsonb(row) ->> 'name'`:
    // serialising whole catalog rows cost more than the printer it avoids.
    let (no_set_columns, nulls_distinct) = match server_version >= 150_000 {
        true => ("c.confdelsetcols IS NULL", "NOT ci.indnullsnotdistinct"),
        false => ("true", "true"),
    };
    format!(
        "(c.contype = 'f' AND c.confrelid = ANY($1::oid[]) AND {no_set_columns}) \
         OR (c.contype IN ('p', 'u') AND ci.indnatts = ci.indnkeyatts AND cic.reloptions IS NULL \
             AND cic.reltablespace = 0 AND {nulls_distinct})"
    )
}

fn query(server_version: i32) -> String {
    let plain = plain(server_version);
    format!(
        "SELECT c.oid, c.conrelid, c.conname::text, c.contype::text, \
           CASE WHEN {plain} THEN NULL ELSE pg_get_constraintdef(c.oid) END, c.conkey, \
           rn.nspname::text, rt.relname::text, c.condeferrable, c.condeferred, c.convalidated, \
           c.conislocal, c.conindid, c.confrelid, c.confkey, c.confmatchtype::text, \
           c.confupdtype::text, c.confdeltype::text \
         FROM pg_constraint c \
         LEFT JOIN pg_class rt ON rt.oid = c.confrelid AND c.contype = 'f' \
         LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace \
         LEFT JOIN pg_index ci ON ci.indexrelid = c.conindid AND c.contype IN ('p', 'u') \
         LEFT JOIN pg_class cic ON cic.oid = c.conindid AND c.contype IN ('p', 'u') \
         WHERE c.conrelid = ANY($1::oid[]) AND c.contype IN ('p', 'u', 'c', 'f', 'x') \
         ORDER BY c.conrelid, c.conname"
    )
}

/// The columns `keys` of table `rel`, by name; `None` if one is unknown.
fn column_list(r: &Reader<'_>, rel: u32, keys: &[i16]) -> Option<Vec<String>> {
    keys.iter()
        .map(|k| r.columns.get(&(rel, *k)).map(|c| c.name.clone()))
        .collect()
}

/// `pg_get_constraintdef`'s text for a constraint the query found plain
/// (see [`plain`]), without `NOT VALID` (the model keeps that apart).
fn plain_definition(
    row: &Row,
    columns: &[String],
    references: Option<(&QualName, &[String])>,
) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| ident(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = match (row.get::<_, String>(3).as_str(), references) {
        ("p", _) => format!("PRIMARY KEY ({})", list(columns)),
        ("u", _) => format!("UNIQUE ({})", list(columns)),
        (_, Some((table, to))) => {
            let mut fk = format!(
                "FOREIGN KEY ({}) REFERENCES {}({})",
                list(columns),
                qual(table),
                list(to)
            );
            fk.push_str(match row.get::<_, String>(15).as_str() {
                "f" => " MATCH FULL",
                "p" => " MATCH PARTIAL",
                _ => "",
            });
            for (clause, action) in [
                (" ON UPDATE ", row.get::<_, String>(16)),
                (" ON DELETE ", row.get::<_, String>(17)),
            ] {
                let action = match action.as_str() {
                    "r" => "RESTRICT",
                    "c" => "CASCADE",
                    "n" => "SET NULL",
                    "d" => "SET DEFAULT",
                    _ => continue,
                };
                fk.push_str(clause);
                fk.push_str(action);
            }
            fk
        }
        _ => String::new(),
    };
    if row.get::<_, bool>(8) {
        out.push_str(" DEFERRABLE");
    }
    if row.get::<_, bool>(9) {
        out.push_str(" INITIALLY DEFERRED");
    }
    out
}

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let mut unprinted = Vec::new();
    for row in r.tx.query(&query(r.server_version), &[&r.oids.tables])? {
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
        let references = match (
            row.get::<_, Option<String>>(6),
            row.get::<_, Option<String>>(7),
        ) {
            (Some(s), Some(t)) => Some(QualName::new(s, t)),
            _ => None,
        };
        let keys: Vec<i16> = row.get::<_, Option<Vec<i16>>>(5).unwrap_or_default();
        let columns = column_list(r, row.get(1), &keys);
        let definition = match row.get::<_, Option<String>>(4) {
            Some(printed) => without_not_valid(printed, validated),
            None => {
                let to_keys: Vec<i16> = row.get::<_, Option<Vec<i16>>>(14).unwrap_or_default();
                let to = column_list(r, row.get(13), &to_keys);
                match (&columns, &references, &to) {
                    (Some(cols), Some(table), Some(to)) => {
                        plain_definition(&row, cols, Some((table, to)))
                    }
                    (Some(cols), None, _) => plain_definition(&row, cols, None),
                    // A column the reader did not see: PostgreSQL prints it.
                    _ => {
                        unprinted.push(row.get::<_, u32>(0));
                        String::new()
                    }
                }
            }
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
            columns: columns.unwrap_or_default(),
            references,
            deferrable: row.get(8),
            initially_deferred: row.get(9),
            validated,
            is_local: row.get(11),
            comment: None,
        }));
    }
    print_the_rest(r, &unprinted)
}

/// Definitions `plain_definition` could not print (a column name it did
/// not have), from `pg_get_constraintdef`.
fn print_the_rest(r: &mut Reader<'_>, oids: &[u32]) -> Result<(), ReadError> {
    let printer =
        "SELECT oid, pg_get_constraintdef(oid) FROM pg_constraint WHERE oid = ANY($1::oid[])";
    for (id, text) in printed_by_postgres(r, PG_CONSTRAINT, printer, oids)? {
        if let Some(Object::Constraint(c)) = r.catalog.objects.get_mut(&id) {
            c.definition = Expr(without_not_valid(text, c.validated));
        }
    }
    Ok(())
}

/// `pg_get_constraintdef`'s text without the ` NOT VALID` it ends with on
/// a constraint not validated (the model keeps that apart, `validated`).
fn without_not_valid(printed: String, validated: bool) -> String {
    match printed.strip_suffix(" NOT VALID") {
        Some(stripped) if !validated => stripped.to_string(),
        _ => printed,
    }
}
