//! Views and materialized views.

use std::collections::{BTreeMap, BTreeSet};

use super::oids::{PG_CLASS, PG_TYPE};
use super::sql::not_extension_member;
use super::{ReadError, Reader};
use crate::schema::model::{Expr, Object, ObjectId, QualName, View};

pub fn read(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'm', pg_get_viewdef(c.oid), \
           coalesce(c.reloptions, '{{}}'), c.reltype \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('v', 'm') AND {} \
         ORDER BY 2, 3",
        not_extension_member("pg_class", "c.oid")
    );
    for row in r.tx.query(&sql, &[&r.namespaces])? {
        let oid: u32 = row.get(0);
        let name = QualName::new(row.get::<_, String>(1), row.get::<_, String>(2));
        let id = ObjectId::View { name: name.clone() };
        r.oids.add(PG_CLASS, oid, id.clone());
        r.oids.add(PG_TYPE, row.get(6), id);
        r.oids.views.push(oid);
        r.catalog.insert(Object::View(View {
            name,
            materialized: row.get(3),
            definition: Expr(row.get(4)),
            options: row.get(5),
            columns: Vec::new(),
            column_comments: BTreeMap::new(),
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    Ok(())
}
