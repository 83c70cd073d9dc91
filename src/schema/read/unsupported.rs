//! The objects the model cannot hold yet. Finding one is an error that
//! names it: a schema is never read with an object silently left out.

use super::sql::not_extension_member;
use super::{unsupported, ReadError, Reader};

/// `(catalog, what, condition on x)`: objects of the schemas read.
const IN_SCHEMAS: &[(&str, &str, &str)] = &[
    ("pg_class", "a foreign table", "x.relkind = 'f' AND x.relnamespace = ANY($1::oid[])"),
    ("pg_class", "a typed table (CREATE TABLE ... OF type)",
     "x.reloftype <> 0 AND x.relkind IN ('r', 'p') AND x.relnamespace = ANY($1::oid[])"),
    ("pg_operator", "an operator", "x.oprnamespace = ANY($1::oid[])"),
    ("pg_opclass", "an operator class", "x.opcnamespace = ANY($1::oid[])"),
    ("pg_opfamily", "an operator family", "x.opfnamespace = ANY($1::oid[])"),
    ("pg_conversion", "a conversion", "x.connamespace = ANY($1::oid[])"),
    ("pg_ts_config", "a text search configuration", "x.cfgnamespace = ANY($1::oid[])"),
    ("pg_ts_dict", "a text search dictionary", "x.dictnamespace = ANY($1::oid[])"),
    ("pg_ts_parser", "a text search parser", "x.prsnamespace = ANY($1::oid[])"),
    ("pg_ts_template", "a text search template", "x.tmplnamespace = ANY($1::oid[])"),
    ("pg_statistic_ext", "an extended statistics object (CREATE STATISTICS)",
     "x.stxnamespace = ANY($1::oid[])"),
    ("pg_rewrite", "a rule (CREATE RULE)",
     "NOT (x.rulename = '_RETURN' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = x.ev_class) IN ('v', 'm')) \
      AND (SELECT c.relnamespace FROM pg_class c WHERE c.oid = x.ev_class) = ANY($1::oid[])"),
    ("pg_default_acl", "default privileges (ALTER DEFAULT PRIVILEGES)",
     "(x.defaclnamespace = ANY($1::oid[]) OR (x.defaclnamespace = 0 AND $2))"),
];

/// Objects of the whole database, checked when every schema is read.
const IN_DATABASE: &[(&str, &str, &str)] = &[
    ("pg_event_trigger", "an event trigger", "$2"),
    // A multirange type's casts are internal to its range type.
    (
        "pg_cast",
        "a cast (CREATE CAST)",
        "$2 AND x.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend d \
      WHERE d.classid = 'pg_cast'::regclass AND d.objid = x.oid AND d.deptype = 'i')",
    ),
    (
        "pg_language",
        "a procedural language",
        "$2 AND x.oid >= 16384",
    ),
    ("pg_am", "an access method", "$2 AND x.oid >= 16384"),
    ("pg_transform", "a transform", "$2"),
    ("pg_foreign_data_wrapper", "a foreign-data wrapper", "$2"),
    ("pg_foreign_server", "a foreign server", "$2"),
];

fn query() -> String {
    IN_SCHEMAS
        .iter()
        .chain(IN_DATABASE)
        .map(|(catalog, what, condition)| {
            format!(
                "SELECT '{what}', pg_describe_object('{catalog}'::regclass, x.oid, 0) \
                 FROM {catalog} x WHERE {condition} AND {}",
                not_extension_member(catalog, "x.oid")
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " ORDER BY 2 LIMIT 1"
}

/// Fails on the first object the model cannot hold (in name order).
pub fn check(r: &mut Reader<'_>, whole_database: bool) -> Result<(), ReadError> {
    let rows = r.tx.query(&query(), &[&r.namespaces, &whole_database])?;
    match rows.first() {
        Some(row) => Err(unsupported(
            row.get::<_, Option<String>>(1)
                .unwrap_or_else(|| "an object".to_string()),
            row.get::<_, String>(0),
        )),
        None => Ok(()),
    }
}
