//! Privileges: `aclexplode` of the ACLs of relations, functions, schemas
//! and types. A NULL ACL is PostgreSQL's default (`acldefault`), and the
//! owner's own privileges are left out (they are not grants).

use super::{ReadError, Reader};
use crate::schema::model::{Grant, Object};

/// `(catalog, oid, acl, acldefault kind, owner)` per catalog, exploded.
fn query() -> String {
    let part = |catalog: &str, from: &str, acl: &str, kind: &str, owner: &str, filter: &str| {
        format!(
            "SELECT '{catalog}'::regclass::oid, x.oid, \
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, \
               a.privilege_type, a.is_grantable \
             FROM {from}, aclexplode(coalesce({acl}, acldefault({kind}, {owner}))) a \
             WHERE {filter} AND a.grantee <> {owner}"
        )
    };
    [
        part(
            "pg_class",
            "pg_class x",
            "x.relacl",
            "CASE WHEN x.relkind = 'S' THEN 's' ELSE 'r' END::\"char\"",
            "x.relowner",
            "x.relnamespace = ANY($1::oid[]) AND x.relkind IN ('r', 'p', 'v', 'm', 'S')",
        ),
        part(
            "pg_proc",
            "pg_proc x",
            "x.proacl",
            "'f'::\"char\"",
            "x.proowner",
            "x.pronamespace = ANY($1::oid[])",
        ),
        part(
            "pg_namespace",
            "pg_namespace x",
            "x.nspacl",
            "'n'::\"char\"",
            "x.nspowner",
            "x.oid = ANY($1::oid[])",
        ),
        part(
            "pg_type",
            "pg_type x",
            "x.typacl",
            "'T'::\"char\"",
            "x.typowner",
            "x.typnamespace = ANY($1::oid[]) AND (x.typtype IN ('e', 'd', 'r') OR (x.typtype = 'c' \
             AND (SELECT r.relkind FROM pg_class r WHERE r.oid = x.typrelid) = 'c'))",
        ),
    ]
    .join(" UNION ALL ")
}

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    for row in r.tx.query(&query(), &[&r.namespaces])? {
        let (class, oid): (u32, u32) = (row.get(0), row.get(1));
        let Some(id) = r.oids.get_read(class, oid).cloned() else {
            continue;
        };
        let grant = Grant {
            grantee: row.get(2),
            privilege: row.get(3),
            grantable: row.get(4),
        };
        if let Some(grants) = r.catalog.objects.get_mut(&id).and_then(Object::grants_mut) {
            grants.insert(grant);
        }
    }
    Ok(())
}
