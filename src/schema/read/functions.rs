//! Functions and procedures (`pg_get_functiondef`). Aggregates and window
//! functions have no model yet: they are refused, named. The constructors
//! PostgreSQL makes for a range or multirange type are part of the type
//! (`deptype = 'i'`) and not read.

use std::collections::BTreeSet;

use super::oids::PG_PROC;
use super::sql::not_extension_member;
use super::{unsupported, ReadError, Reader};
use crate::schema::model::{Expr, Function, Object, ObjectId, QualName};

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT p.oid, n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid), \
           p.prokind::text, CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_function_result(p.oid) END, \
           l.lanname::text, CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_language l ON l.oid = p.prolang \
         WHERE p.pronamespace = ANY($1::oid[]) AND {} \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
             AND d.objid = p.oid AND d.deptype = 'i') \
         ORDER BY 2, 3, 4",
        not_extension_member("pg_proc", "p.oid")
    );
    for row in r.tx.query(&sql, &[&r.namespaces])? {
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let args: String = row.get(3);
        let kind: String = row.get(4);
        let what = match kind.as_str() {
            "a" => Some("an aggregate function"),
            "w" => Some("a window function"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(unsupported(format!("function {name}({args})"), what));
        }
        let procedure = kind == "p";
        let definition: Option<String> = row.get(7);
        let id = ObjectId::Function {
            name: name.clone(),
            args: args.clone(),
        };
        r.oids.add(PG_PROC, row.get(0), id);
        r.catalog.insert(Object::Function(Function {
            name,
            identity_args: args,
            procedure,
            returns: if procedure {
                None
            } else {
                row.get::<_, Option<String>>(5).map(Expr)
            },
            language: row.get(6),
            definition: Expr(definition.unwrap_or_default()),
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    Ok(())
}
