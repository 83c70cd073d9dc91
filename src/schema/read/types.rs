//! Enum, domain, composite and range types. The implicit types are not
//! objects of their own: a table's or view's row type, array types and
//! multirange types (they come with their element or range type).

use std::collections::{BTreeMap, BTreeSet};

use super::oids::PG_TYPE;
use super::sql::{collation_if_not_default, not_extension_member};
use super::{unsupported, ReadError, Reader};
use crate::schema::model::{Attribute, Expr, Object, ObjectId, QualName, TypeDef, TypeKind};

fn query() -> String {
    let attrs = "FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 \
                 AND NOT a.attisdropped ORDER BY a.attnum";
    let checks =
        "FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname";
    format!(
        "SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text, t.typisdefined, \
           array(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), \
           format_type(t.typbasetype, t.typtypmod), {dcoll}, t.typdefault, t.typnotnull, \
           array(SELECT c.conname::text {checks}), array(SELECT pg_get_constraintdef(c.oid) {checks}), \
           array(SELECT a.attname::text {attrs}), array(SELECT format_type(a.atttypid, a.atttypmod) {attrs}), \
           array(SELECT {acoll} {attrs}), \
           format_type(rg.rngsubtype, NULL), \
           (SELECT quote_ident(on_.nspname) || '.' || quote_ident(opc.opcname) FROM pg_opclass opc \
              JOIN pg_namespace on_ ON on_.oid = opc.opcnamespace \
              WHERE opc.oid = rg.rngsubopc AND NOT opc.opcdefault), \
           {rcoll}, nullif(rg.rngcanonical, 0)::regproc::text, nullif(rg.rngsubdiff, 0)::regproc::text, \
           t.typarray, rg.rngmultitypid, t.typrelid \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_range rg ON rg.rngtypid = t.oid \
         WHERE t.typnamespace = ANY($1::oid[]) AND t.typtype IN ('b', 'c', 'd', 'e', 'p', 'r') \
           AND NOT (t.typtype = 'c' AND (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) <> 'c') \
           AND NOT (t.typelem <> 0 AND EXISTS (SELECT 1 FROM pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)) \
           AND {member} \
         ORDER BY 2, 3",
        dcoll = collation_if_not_default("t.typcollation", "t.typbasetype"),
        acoll = collation_if_not_default("a.attcollation", "a.atttypid"),
        rcoll = collation_if_not_default("rg.rngcollation", "rg.rngsubtype"),
        member = not_extension_member("pg_type", "t.oid"),
    )
}

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    for row in r.tx.query(&query(), &[&r.namespaces])? {
        let oid: u32 = row.get(0);
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let typtype: String = row.get(3);
        let kind = match typtype.as_str() {
            "e" => TypeKind::Enum { labels: row.get(5) },
            "d" => {
                let names: Vec<String> = row.get(10);
                let defs: Vec<String> = row.get(11);
                TypeKind::Domain {
                    base: Expr(row.get(6)),
                    collation: row.get(7),
                    default: row.get::<_, Option<String>>(8).map(Expr),
                    not_null: row.get(9),
                    checks: names.into_iter().zip(defs.into_iter().map(Expr)).collect(),
                }
            }
            "c" => {
                let names: Vec<String> = row.get(12);
                let types: Vec<String> = row.get(13);
                let colls: Vec<Option<String>> = row.get(14);
                let attributes = names
                    .into_iter()
                    .zip(types)
                    .zip(colls)
                    .map(|((name, t), collation)| Attribute {
                        name,
                        data_type: Expr(t),
                        collation,
                    })
                    .collect();
                TypeKind::Composite { attributes }
            }
            "r" => TypeKind::Range {
                subtype: Expr(row.get(15)),
                options: range_options(&row),
            },
            "p" if !row.get::<_, bool>(4) => {
                return Err(unsupported(format!("type {name}"), "a shell type"))
            }
            _ => return Err(unsupported(format!("type {name}"), "a base type")),
        };
        let id = ObjectId::Type { name: name.clone() };
        r.oids.add(PG_TYPE, oid, id.clone());
        // A composite type's attributes hang off its pg_class row.
        let relation: u32 = row.get(22);
        if relation != 0 {
            r.oids.add(super::oids::PG_CLASS, relation, id.clone());
        }
        for implicit in [row.get::<_, Option<u32>>(20), row.get::<_, Option<u32>>(21)]
            .into_iter()
            .flatten()
            .filter(|o| *o != 0)
        {
            r.oids.add(PG_TYPE, implicit, id.clone());
        }
        r.catalog.insert(Object::Type(TypeDef {
            name,
            kind,
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    Ok(())
}

/// The `CREATE TYPE ... AS RANGE` options besides the subtype, in a fixed
/// order, only those not left to their defaults.
fn range_options(row: &postgres::Row) -> Vec<(String, String)> {
    let named: BTreeMap<usize, &str> = BTreeMap::from([
        (16, "subtype_opclass"),
        (17, "collation"),
        (18, "canonical"),
        (19, "subtype_diff"),
    ]);
    named
        .into_iter()
        .filter_map(|(i, key)| {
            row.get::<_, Option<String>>(i)
                .map(|v| (key.to_string(), v))
        })
        .collect()
}
