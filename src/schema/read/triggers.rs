//! Triggers (not internal ones, not a partition's clones of its parent's)
//! and row-level security policies.

use super::oids::{PG_CLASS, PG_POLICY, PG_TRIGGER};
use super::{ReadError, Reader};
use crate::schema::model::{Expr, Object, ObjectId, Policy, QualName, Trigger};

const TRIGGERS: &str = "\
SELECT t.oid, t.tgrelid, t.tgname::text, pg_get_triggerdef(t.oid), t.tgenabled::text \
FROM pg_trigger t \
WHERE t.tgrelid = ANY($1::oid[]) AND NOT t.tgisinternal AND t.tgparentid = 0 \
ORDER BY t.tgrelid, t.tgname";

const POLICIES: &str = "\
SELECT p.oid, p.polrelid, p.polname::text, p.polpermissive, p.polcmd::text, \
  array(SELECT CASE WHEN ro = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(ro)::text END \
        FROM unnest(p.polroles) ro ORDER BY 1), \
  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid) \
FROM pg_policy p WHERE p.polrelid = ANY($1::oid[]) ORDER BY p.polrelid, p.polname";

/// The table or view (by `pg_class` oid) as a name, if it was read.
fn relation(r: &Reader<'_>, oid: u32) -> Option<QualName> {
    match r.oids.get_read(PG_CLASS, oid) {
        Some(ObjectId::Table { name }) | Some(ObjectId::View { name }) => Some(name.clone()),
        _ => None,
    }
}

pub fn read_triggers(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let rels: Vec<u32> = r.oids.tables.iter().chain(&r.oids.views).copied().collect();
    for row in r.tx.query(TRIGGERS, &[&rels])? {
        let Some(table) = relation(r, row.get(1)) else {
            continue;
        };
        let trigger = Trigger {
            table,
            name: row.get(2),
            definition: Expr(row.get(3)),
            enabled: row.get::<_, String>(4).chars().next().unwrap_or('O'),
            comment: None,
        };
        let object = Object::Trigger(trigger);
        r.oids.add(PG_TRIGGER, row.get(0), object.id());
        r.catalog.insert(object);
    }
    Ok(())
}

pub fn read_policies(r: &mut Reader<'_>) -> Result<(), ReadError> {
    for row in r.tx.query(POLICIES, &[&r.oids.tables])? {
        let Some(table) = relation(r, row.get(1)) else {
            continue;
        };
        let command = match row.get::<_, String>(4).as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let policy = Policy {
            table,
            name: row.get(2),
            permissive: row.get(3),
            command: command.to_string(),
            roles: row.get(5),
            using: row.get::<_, Option<String>>(6).map(Expr),
            with_check: row.get::<_, Option<String>>(7).map(Expr),
            comment: None,
        };
        let object = Object::Policy(policy);
        r.oids.add(PG_POLICY, row.get(0), object.id());
        r.catalog.insert(object);
    }
    Ok(())
}
