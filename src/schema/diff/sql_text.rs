//! SQL fragments shared by the renderers: how each object is named in
//! `DROP`/`COMMENT ON`/`GRANT`, column definitions, comments and grants.

use std::collections::BTreeSet;

use crate::schema::model::{
    Catalog, Column, Expr, Grant, Identity, Object, ObjectId, QualName, Sequence, TypeKind,
};
use crate::schema::plan::{Hazard, HazardKind, Statement, StatementKind};
use crate::schema::render::{ident, literal, literal_or_null, qual};

pub fn statement(sql: String, object: &ObjectId, kind: StatementKind) -> Statement {
    Statement {
        sql,
        object: object.clone(),
        kind,
        hazards: Vec::new(),
        transactional: true,
    }
}

pub fn hazard(kind: HazardKind, message: impl Into<String>) -> Hazard {
    Hazard {
        kind,
        message: message.into(),
    }
}

/// A collation name as SQL (`"C"`, `pg_catalog."en_US"`); names already
/// quoted by the reader are kept.
pub fn collation(name: &str) -> String {
    if name.starts_with('"') {
        return name.to_string();
    }
    match name.split_once('.') {
        Some((schema, coll)) if !coll.is_empty() => format!("{}.{}", ident(schema), ident(coll)),
        _ => ident(name),
    }
}

/// An expression or definition without the trailing `;` and whitespace
/// that `pg_get_viewdef` and `pg_get_functiondef` leave.
pub fn trimmed(expr: &Expr) -> &str {
    expr.as_str().trim().trim_end_matches(';').trim_end()
}

/// `name type [COLLATE c] [GENERATED ...] [DEFAULT d] [NOT NULL]`.
pub fn column_definition(c: &Column) -> String {
    let mut sql = format!("{} {}", ident(&c.name), c.data_type);
    if let Some(coll) = &c.collation {
        sql.push_str(&format!(" COLLATE {}", collation(coll)));
    }
    if let Some(generated) = &c.generated {
        sql.push_str(&format!(" GENERATED ALWAYS AS ({generated}) STORED"));
    }
    if let Some(identity) = c.identity {
        sql.push_str(&format!(
            " GENERATED {} AS IDENTITY",
            identity_word(identity)
        ));
    }
    if let Some(default) = &c.default {
        sql.push_str(&format!(" DEFAULT {default}"));
    }
    if c.not_null {
        sql.push_str(" NOT NULL");
    }
    sql
}

pub fn identity_word(identity: Identity) -> &'static str {
    match identity {
        Identity::Always => "ALWAYS",
        Identity::ByDefault => "BY DEFAULT",
    }
}

/// How `COMMENT ON` / `DROP` name the object: `TABLE public.t`,
/// `CONSTRAINT c ON public.t`, `FUNCTION public.f(integer)`.
pub fn object_ref(id: &ObjectId, object: Option<&Object>) -> String {
    match (id, object) {
        (ObjectId::Schema { name }, _) => format!("SCHEMA {}", ident(name)),
        (ObjectId::Extension { name }, _) => format!("EXTENSION {}", ident(name)),
        (ObjectId::Collation { name }, _) => format!("COLLATION {}", qual(name)),
        (ObjectId::Type { name }, Some(Object::Type(t)))
            if matches!(t.kind, TypeKind::Domain { .. }) =>
        {
            format!("DOMAIN {}", qual(name))
        }
        (ObjectId::Type { name }, _) => format!("TYPE {}", qual(name)),
        (ObjectId::Sequence { name }, _) => format!("SEQUENCE {}", qual(name)),
        (ObjectId::Table { name }, _) => format!("TABLE {}", qual(name)),
        (ObjectId::View { name }, Some(Object::View(v))) if v.materialized => {
            format!("MATERIALIZED VIEW {}", qual(name))
        }
        (ObjectId::View { name }, _) => format!("VIEW {}", qual(name)),
        (ObjectId::Function { name, args }, Some(Object::Function(f))) if f.procedure => {
            format!("PROCEDURE {}({args})", qual(name))
        }
        (ObjectId::Function { name, args }, _) => format!("FUNCTION {}({args})", qual(name)),
        (ObjectId::Constraint { table, name }, _) => {
            format!("CONSTRAINT {} ON {}", ident(name), qual(table))
        }
        (ObjectId::Index { name }, _) => format!("INDEX {}", qual(name)),
        (ObjectId::Trigger { table, name }, _) => {
            format!("TRIGGER {} ON {}", ident(name), qual(table))
        }
        (ObjectId::Policy { table, name }, _) => {
            format!("POLICY {} ON {}", ident(name), qual(table))
        }
    }
}

/// `COMMENT ON ... IS '...'` of an object or (with `column`) its column.
pub fn comment(
    id: &ObjectId,
    object: Option<&Object>,
    column: Option<&str>,
    text: Option<&str>,
) -> Statement {
    let target = match (column, id) {
        (Some(c), ObjectId::Table { name } | ObjectId::View { name }) => {
            format!("COLUMN {}.{}", qual(name), ident(c))
        }
        _ => object_ref(id, object),
    };
    statement(
        format!("COMMENT ON {target} IS {}", literal_or_null(text)),
        id,
        StatementKind::Comment,
    )
}

/// The object as `GRANT ... ON` names it (views and sequences are tables
/// to GRANT only in the `TABLE` form; sequences have their own).
fn grant_target(id: &ObjectId, object: Option<&Object>) -> String {
    match id {
        ObjectId::View { name } => format!("TABLE {}", qual(name)),
        _ => object_ref(id, object),
    }
}

fn grantee(name: &str) -> String {
    if name.eq_ignore_ascii_case("public") {
        "PUBLIC".to_string()
    } else {
        ident(name)
    }
}

pub fn grant(id: &ObjectId, object: Option<&Object>, g: &Grant) -> Statement {
    let option = if g.grantable {
        " WITH GRANT OPTION"
    } else {
        ""
    };
    statement(
        format!(
            "GRANT {} ON {} TO {}{option}",
            g.privilege,
            grant_target(id, object),
            grantee(&g.grantee)
        ),
        id,
        StatementKind::Grant,
    )
}

pub fn revoke(id: &ObjectId, object: Option<&Object>, g: &Grant) -> Statement {
    statement(
        format!(
            "REVOKE {} ON {} FROM {}",
            g.privilege,
            grant_target(id, object),
            grantee(&g.grantee)
        ),
        id,
        StatementKind::Revoke,
    )
}

/// `ALTER TABLE ... ENABLE/DISABLE ... TRIGGER name`.
pub fn trigger_enabled(enabled: char) -> &'static str {
    match enabled {
        'D' => "DISABLE TRIGGER",
        'R' => "ENABLE REPLICA TRIGGER",
        'A' => "ENABLE ALWAYS TRIGGER",
        _ => "ENABLE TRIGGER",
    }
}

/// `'a', 'b'`: enum labels as literals.
pub fn labels(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| literal(l))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `TO roles [USING (...)] [WITH CHECK (...)]` of a policy.
pub fn policy_clauses(roles: &[String], using: Option<&Expr>, with_check: Option<&Expr>) -> String {
    let roles: Vec<String> = if roles.is_empty() {
        vec!["PUBLIC".to_string()]
    } else {
        roles.iter().map(|r| grantee(r)).collect()
    };
    let mut sql = format!(" TO {}", roles.join(", "));
    if let Some(u) = using {
        sql.push_str(&format!(" USING ({u})"));
    }
    if let Some(w) = with_check {
        sql.push_str(&format!(" WITH CHECK ({w})"));
    }
    sql
}

/// What the renderers need to know beyond the change itself.
pub struct Ctx<'a> {
    pub from: &'a Catalog,
    pub to: &'a Catalog,
    /// Tables that drop a column and add one (a possible rename).
    pub column_swaps: BTreeSet<QualName>,
    /// Schemas that drop a table and create one (a possible rename).
    pub table_swaps: BTreeSet<String>,
}

/// True when PostgreSQL changes the type without rewriting the table
/// (binary-coercible, no new length check): varchar(n) to varchar(m >= n),
/// to unbounded varchar or text; numeric(p, s) to numeric(q >= p, s).
pub fn binary_coercible(from: &Expr, to: &Expr) -> bool {
    let (a, b) = (from.as_str(), to.as_str());
    let varchar = |t: &str| -> Option<Option<u32>> {
        if t == "character varying" || t == "text" {
            return Some(None);
        }
        let n = t.strip_prefix("character varying(")?.strip_suffix(')')?;
        n.parse().ok().map(Some)
    };
    if let (Some(x), Some(y)) = (varchar(a), varchar(b)) {
        return match (x, y) {
            (_, None) => a != "text" || b == "text",
            (Some(n), Some(m)) => m >= n,
            (None, Some(_)) => false,
        };
    }
    let numeric = |t: &str| -> Option<(u32, u32)> {
        let inner = t.strip_prefix("numeric(")?.strip_suffix(')')?;
        let (p, s) = inner.split_once(',')?;
        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
    };
    if let (Some((p, s)), Some((q, t))) = (numeric(a), numeric(b)) {
        return q >= p && s == t;
    }
    a.starts_with("numeric(") && b == "numeric"
}

/// `AS … INCREMENT BY … MINVALUE … MAXVALUE … START WITH … CACHE … [NO]
/// CYCLE`: what `CREATE SEQUENCE` and `ALTER SEQUENCE` both spell out.
pub fn sequence_options(s: &Sequence) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{}",
        s.data_type,
        s.increment,
        s.min_value,
        s.max_value,
        s.start,
        s.cache,
        if s.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_coercible_type_changes() {
        let e = Expr::new;
        assert!(binary_coercible(
            &e("character varying(10)"),
            &e("character varying(20)")
        ));
        assert!(binary_coercible(&e("character varying(10)"), &e("text")));
        assert!(binary_coercible(&e("character varying"), &e("text")));
        assert!(!binary_coercible(
            &e("character varying(20)"),
            &e("character varying(10)")
        ));
        assert!(!binary_coercible(&e("text"), &e("character varying(10)")));
        assert!(binary_coercible(&e("numeric(10,2)"), &e("numeric(12,2)")));
        assert!(!binary_coercible(&e("integer"), &e("bigint")));
    }
}
