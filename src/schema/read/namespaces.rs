//! Schemas and extensions.

use std::collections::BTreeSet;

use super::oids::{PG_EXTENSION, PG_NAMESPACE};
use super::sql::not_extension_member;
use super::{ReadError, Reader};
use crate::schema::model::{Extension, Namespace, Object, ObjectId};

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
