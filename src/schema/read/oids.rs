//! Which catalog row became which object: `(catalog, oid)` to [`ObjectId`],
//! so that `pg_depend`, `pg_description` and the ACLs can be mapped onto
//! the model.

use std::collections::HashMap;

use super::{ReadError, Reader};
use crate::schema::model::ObjectId;

/// The fixed oids of the system catalogs (`'pg_class'::regclass`), the
/// same in every PostgreSQL since 7.x.
pub const PG_CLASS: u32 = 1259;
pub const PG_TYPE: u32 = 1247;
pub const PG_PROC: u32 = 1255;
pub const PG_NAMESPACE: u32 = 2615;
pub const PG_CONSTRAINT: u32 = 2606;
pub const PG_TRIGGER: u32 = 2620;
pub const PG_POLICY: u32 = 3256;
pub const PG_EXTENSION: u32 = 3079;
pub const PG_COLLATION: u32 = 3456;

#[derive(Default)]
pub struct Oids {
    objects: HashMap<(u32, u32), ObjectId>,
    /// Objects that belong to an extension (`deptype = 'e'`): a reference
    /// to one is a reference to its extension.
    members: HashMap<(u32, u32), ObjectId>,
    /// `pg_class` oids of the tables read (for the per-table queries).
    pub tables: Vec<u32>,
    /// `pg_class` oids of the views and materialized views read.
    pub views: Vec<u32>,
}

impl Oids {
    pub fn add(&mut self, class: u32, oid: u32, id: ObjectId) {
        self.objects.insert((class, oid), id);
    }

    /// The object read from this row, or the extension it belongs to.
    pub fn get(&self, class: u32, oid: u32) -> Option<&ObjectId> {
        self.objects
            .get(&(class, oid))
            .or_else(|| self.members.get(&(class, oid)))
    }

    /// Only objects read themselves (not extension members).
    pub fn get_read(&self, class: u32, oid: u32) -> Option<&ObjectId> {
        self.objects.get(&(class, oid))
    }
}

/// Records every extension member under its extension's id.
pub fn read_extension_members(r: &mut Reader<'_>) -> Result<(), ReadError> {
    let rows = r.tx.query(
        "SELECT d.classid, d.objid, e.extname::text FROM pg_depend d \
         JOIN pg_extension e ON e.oid = d.refobjid \
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'",
        &[],
    )?;
    for row in rows {
        let (class, oid, ext): (u32, u32, String) = (row.get(0), row.get(1), row.get(2));
        r.oids
            .members
            .insert((class, oid), ObjectId::Extension { name: ext });
    }
    Ok(())
}
