//! Schemas and extensions.

use std::collections::BTreeSet;

use super::oids::{PG_COLLATION, PG_EXTENSION, PG_NAMESPACE};
use super::sql::not_extension_member;
use super::{ReadError, Reader};
use crate::schema::model::{Collation, Extension, Namespace, Object, ObjectId, QualName};

/// Every schema that is not a system schema (or only `only`), and not an
/// extension's.
pub fn read_schemas(r: &mut Reader<'_>, only: &[String]) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT n.oid, n.nspname::text FROM pg_namespace n \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
           AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%' \
           AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[])) AND {}",
        not_extension_member("pg_namespace", "n.oid")
    );
    for row in r.tx.query(&sql, &[&only])? {
        let (oid, name): (u32, String) = (row.get(0), row.get(1));
        r.namespaces.push(oid);
        r.oids
            .add(PG_NAMESPACE, oid, ObjectId::Schema { name: name.clone() });
        r.catalog.insert(Object::Schema(Namespace {
            name,
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    Ok(())
}

/// Extensions but `plpgsql` (every database has it); with `--schema`, only
/// those installed in a schema read.
pub fn read_extensions(r: &mut Reader<'_>, only_in_scope: bool) -> Result<(), ReadError> {
    let rows = r.tx.query(
        "SELECT e.oid, e.extname::text, n.nspname::text, e.extversion FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname <> 'plpgsql' AND (NOT $2 OR e.extnamespace = ANY($1::oid[]))",
        &[&r.namespaces, &only_in_scope],
    )?;
    for row in rows {
        let oid: u32 = row.get(0);
        let ext = Extension {
            name: row.get(1),
            schema: row.get(2),
            version: row.get(3),
            comment: None,
        };
        r.oids.add(
            PG_EXTENSION,
            oid,
            ObjectId::Extension {
                name: ext.name.clone(),
            },
        );
        r.catalog.insert(Object::Extension(ext));
    }
    Ok(())
}

/// Collations made with `CREATE COLLATION` in the schemas read (not an
/// extension's). The ICU locale's column is `colliculocale` in
/// PostgreSQL 15 and 16, `colllocale` from 17, `collcollate` before 15:
/// read through `to_jsonb` so that one query fits every version.
pub fn read_collations(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT x.oid, n.nspname::text, x.collname::text, x.collprovider::text, \
         x.collisdeterministic, \
         COALESCE(to_jsonb(x) ->> 'colllocale', to_jsonb(x) ->> 'colliculocale', x.collcollate), \
         x.collcollate, x.collctype \
         FROM pg_collation x JOIN pg_namespace n ON n.oid = x.collnamespace \
         WHERE x.collnamespace = ANY($1::oid[]) AND {}",
        not_extension_member("pg_collation", "x.oid")
    );
    let rows = r.tx.query(&sql, &[&r.namespaces])?;
    for row in rows {
        let oid: u32 = row.get(0);
        let provider: String = row.get(3);
        let icu = provider == "i";
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let collation = Collation {
            name: name.clone(),
            provider: if icu { "icu" } else { "libc" }.to_string(),
            locale: if icu { row.get(5) } else { None },
            lc_collate: if icu { None } else { row.get(6) },
            lc_ctype: if icu { None } else { row.get(7) },
            deterministic: row.get(4),
            comment: None,
        };
        r.oids.add(PG_COLLATION, oid, ObjectId::Collation { name });
        r.catalog.insert(Object::Collation(collation));
    }
    Ok(())
}
