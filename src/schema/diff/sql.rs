//! Changes as statements: `CREATE` and `DROP` of every kind of object,
//! with their comments, grants and hazards (alters are in `sql_alter`).

use super::change::Change;
use super::sql_text::{
    collation, column_definition, comment, grant, hazard, labels, object_ref, policy_clauses,
    sequence_options, statement, trigger_enabled, trimmed, Ctx,
};
use crate::schema::model::{ConstraintKind, Object, ObjectId, Table, TypeDef, TypeKind};
use crate::schema::plan::{HazardKind, Statement, StatementKind};
use crate::schema::render::{ident, literal, qual};

pub fn render(change: &Change, ctx: &Ctx) -> Vec<Statement> {
    match change {
        Change::Create {
            object,
            existing_parent,
            concurrently,
            ..
        } => create(object, *existing_parent, *concurrently, ctx),
        Change::Drop {
            object,
            recreate,
            concurrently,
        } => drop(object, *recreate, *concurrently, ctx)
            .into_iter()
            .collect(),
        Change::Replace { object, .. } => replace(object),
        other => super::sql_alter::render(other, ctx),
    }
}

fn create(object: &Object, existing: bool, concurrently: bool, ctx: &Ctx) -> Vec<Statement> {
    let id = object.id();
    let kind = if ctx.from.objects.contains_key(&id) {
        StatementKind::Replace
    } else {
        StatementKind::Create
    };
    let mut out = Vec::new();
    let mut push = |sql: String| out.push(statement(sql, &id, kind));
    match object {
        Object::Schema(s) => push(format!("CREATE SCHEMA {}", ident(&s.name))),
        Object::Extension(e) => push(format!(
            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION {}",
            ident(&e.name),
            ident(&e.schema),
            literal(&e.version)
        )),
        Object::Collation(c) => push(create_collation(c)),
        Object::Type(t) => push(create_type(t)),
        Object::Sequence(s) => push(format!(
            "CREATE SEQUENCE {} {}",
            qual(&s.name),
            sequence_options(s)
        )),
        Object::Table(t) => return create_table(t, kind, ctx),
        Object::View(v) => {
            let options = if v.options.is_empty() {
                String::new()
            } else {
                format!(" WITH ({})", v.options.join(", "))
            };
            push(format!(
                "CREATE {}VIEW {}{options} AS\n{}",
                if v.materialized { "MATERIALIZED " } else { "" },
                qual(&v.name),
                trimmed(&v.definition)
            ));
        }
        Object::Function(f) => push(trimmed(&f.definition).to_string()),
        Object::Constraint(c) => {
            if !c.is_local {
                return Vec::new();
            }
            return add_constraint(c, existing, kind);
        }
        Object::Index(i) => return create_index(i, existing, concurrently, kind),
        Object::Trigger(t) => {
            push(trimmed(&t.definition).to_string());
            if t.enabled != 'O' {
                push(format!(
                    "ALTER TABLE {} {} {}",
                    qual(&t.table),
                    trigger_enabled(t.enabled),
                    ident(&t.name)
                ));
            }
        }
        Object::Policy(p) => push(format!(
            "CREATE POLICY {} ON {} AS {} FOR {}{}",
            ident(&p.name),
            qual(&p.table),
            if p.permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            p.command,
            policy_clauses(&p.roles, p.using.as_ref(), p.with_check.as_ref())
        )),
    }
    out.extend(comments_and_grants(object));
    out
}

fn create_index(
    i: &crate::schema::model::Index,
    existing: bool,
    concurrently: bool,
    kind: StatementKind,
) -> Vec<Statement> {
    let id = ObjectId::Index {
        name: i.name.clone(),
    };
    if i.parent.is_some() {
        return Vec::new();
    }
    // `pg_get_indexdef` prints a partitioned table's index `ON ONLY`;
    // without ONLY, PostgreSQL builds the partitions' copies too.
    let sql = trimmed(&i.definition).replacen(" ON ONLY ", " ON ", 1);
    let mut s = if concurrently {
        let mut s = statement(insert_concurrently(&sql), &id, kind);
        s.transactional = false;
        s.hazards.push(hazard(
                    HazardKind::NonTransactional,
                    format!("builds index {} CONCURRENTLY, outside a transaction; if it fails, drop the invalid index it leaves", i.name),
                ));
        s
    } else {
        statement(sql, &id, kind)
    };
    if existing && !concurrently {
        s.hazards.push(hazard(
                    HazardKind::IndexBuild,
                    format!("builds index {} on {}, blocking writes to it while it runs (use --concurrently to avoid)", i.name, i.table),
                ));
    }
    let mut out = vec![s];
    out.extend(comments_and_grants(&Object::Index(i.clone())));
    out
}

/// The comments and grants of a newly created object.
pub fn comments_and_grants(object: &Object) -> Vec<Statement> {
    let id = object.id();
    let mut out = Vec::new();
    if let Some(text) = object.comment() {
        out.push(comment(&id, Some(object), None, Some(text)));
    }
    if let Object::View(v) = object {
        for (column, text) in &v.column_comments {
            out.push(comment(&id, Some(object), Some(column), Some(text)));
        }
    }
    if let Some(grants) = object.grants() {
        let defaults = default_grants(object);
        out.extend(
            defaults
                .difference(grants)
                .map(|g| super::sql_text::revoke(&id, Some(object), g)),
        );
        out.extend(
            grants
                .difference(&defaults)
                .map(|g| grant(&id, Some(object), g)),
        );
    }
    out
}

/// What PostgreSQL grants on a new object by itself (`acldefault`, the
/// owner's own privileges aside): `EXECUTE` on functions and `USAGE` on
/// types for `PUBLIC`.
fn default_grants(object: &Object) -> std::collections::BTreeSet<crate::schema::model::Grant> {
    let privilege = match object {
        Object::Function(_) => "EXECUTE",
        Object::Type(_) => "USAGE",
        _ => return Default::default(),
    };
    std::collections::BTreeSet::from([crate::schema::model::Grant {
        grantee: "PUBLIC".to_string(),
        privilege: privilege.to_string(),
        grantable: false,
    }])
}

fn insert_concurrently(definition: &str) -> String {
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(prefix) {
            return format!("{prefix}CONCURRENTLY {rest}");
        }
    }
    definition.to_string()
}

fn create_type(t: &TypeDef) -> String {
    let name = qual(&t.name);
    match &t.kind {
        TypeKind::Enum { labels: l } => format!("CREATE TYPE {name} AS ENUM ({})", labels(l)),
        TypeKind::Domain {
            base,
            collation: coll,
            default,
            not_null,
            checks,
        } => {
            let mut sql = format!("CREATE DOMAIN {name} AS {base}");
            if let Some(c) = coll {
                sql.push_str(&format!(" COLLATE {}", collation(c)));
            }
            if let Some(d) = default {
                sql.push_str(&format!(" DEFAULT {d}"));
            }
            if *not_null {
                sql.push_str(" NOT NULL");
            }
            for (check, def) in checks {
                sql.push_str(&format!(" CONSTRAINT {} {def}", ident(check)));
            }
            sql
        }
        TypeKind::Composite { attributes } => {
            let attrs: Vec<String> = attributes
                .iter()
                .map(|a| {
                    let coll = a
                        .collation
                        .as_ref()
                        .map(|c| format!(" COLLATE {}", collation(c)))
                        .unwrap_or_default();
                    format!("{} {}{coll}", ident(&a.name), a.data_type)
                })
                .collect();
            format!("CREATE TYPE {name} AS ({})", attrs.join(", "))
        }
        TypeKind::Range { subtype, options } => {
            let mut parts = vec![format!("SUBTYPE = {subtype}")];
            parts.extend(
                options
                    .iter()
                    .map(|(k, v)| format!("{} = {v}", k.to_uppercase())),
            );
            format!("CREATE TYPE {name} AS RANGE ({})", parts.join(", "))
        }
    }
}

fn create_table(t: &Table, kind: StatementKind, ctx: &Ctx) -> Vec<Statement> {
    let id = ObjectId::Table {
        name: t.name.clone(),
    };
    let mut sql = format!(
        "CREATE {}TABLE {}",
        if t.unlogged { "UNLOGGED " } else { "" },
        qual(&t.name)
    );
    if let Some((parent, bound)) = &t.partition_of {
        sql.push_str(&format!(" PARTITION OF {} {bound}", qual(parent)));
    } else {
        let columns: Vec<String> = t
            .columns
            .iter()
            .filter(|c| c.is_local)
            .map(|c| format!("    {}", column_definition(c)))
            .collect();
        if columns.is_empty() {
            sql.push_str(" (\n)");
        } else {
            sql.push_str(&format!(" (\n{}\n)", columns.join(",\n")));
        }
        if !t.inherits.is_empty() {
            let parents: Vec<String> = t.inherits.iter().map(qual).collect();
            sql.push_str(&format!(" INHERITS ({})", parents.join(", ")));
        }
    }
    if let Some(key) = &t.partition_by {
        sql.push_str(&format!(" PARTITION BY {key}"));
    }
    if !t.options.is_empty() {
        sql.push_str(&format!(" WITH ({})", t.options.join(", ")));
    }
    let mut first = statement(sql, &id, kind);
    if ctx.table_swaps.contains(&t.name.schema) && kind == StatementKind::Create {
        first.hazards.push(rename_hazard_table(&t.name.schema));
    }
    let mut out = vec![first];
    let mut alter = |what: &str| {
        out.push(statement(
            format!("ALTER TABLE {} {what}", qual(&t.name)),
            &id,
            StatementKind::Alter,
        ));
    };
    if t.row_security {
        alter("ENABLE ROW LEVEL SECURITY");
    }
    if t.force_row_security {
        alter("FORCE ROW LEVEL SECURITY");
    }
    let object = Object::Table(t.clone());
    for c in &t.columns {
        if let Some(text) = &c.comment {
            out.push(comment(&id, Some(&object), Some(&c.name), Some(text)));
        }
    }
    out.extend(comments_and_grants(&object));
    out
}

pub fn rename_hazard_table(schema: &str) -> crate::schema::plan::Hazard {
    hazard(
        HazardKind::PossibleRename,
        format!("schema {schema} drops a table and creates one: if it was a rename, this loses the data; a diff cannot tell, so write ALTER TABLE ... RENAME TO instead if it was"),
    )
}

fn add_constraint(
    c: &crate::schema::model::Constraint,
    existing: bool,
    kind: StatementKind,
) -> Vec<Statement> {
    let id = ObjectId::Constraint {
        table: c.table.clone(),
        name: c.name.clone(),
    };
    let validate_later = matches!(c.kind, ConstraintKind::ForeignKey | ConstraintKind::Check);
    let not_valid = validate_later && (existing || !c.validated);
    let sql = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}{}",
        qual(&c.table),
        ident(&c.name),
        c.definition,
        if not_valid { " NOT VALID" } else { "" }
    );
    let mut add = statement(sql, &id, kind);
    if existing && !validate_later {
        add.hazards.push(hazard(
            HazardKind::IndexBuild,
            format!("builds the index of constraint {} on {}", c.name, c.table),
        ));
        add.hazards.push(hazard(
            HazardKind::AccessExclusiveLock,
            format!(
                "holds ACCESS EXCLUSIVE on {} while the index is built",
                c.table
            ),
        ));
    }
    let mut out = vec![add];
    if not_valid && c.validated {
        out.push(statement(
            format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                qual(&c.table),
                ident(&c.name)
            ),
            &id,
            StatementKind::Validate,
        ));
    }
    out.extend(comments_and_grants(&Object::Constraint(c.clone())));
    out
}

fn replace(object: &Object) -> Vec<Statement> {
    let id = object.id();
    let sql = match object {
        Object::View(v) => {
            let options = if v.options.is_empty() {
                String::new()
            } else {
                format!(" WITH ({})", v.options.join(", "))
            };
            format!(
                "CREATE OR REPLACE VIEW {}{options} AS\n{}",
                qual(&v.name),
                trimmed(&v.definition)
            )
        }
        Object::Function(f) => trimmed(&f.definition).to_string(),
        _ => return Vec::new(),
    };
    vec![statement(sql, &id, StatementKind::Replace)]
}

fn drop(object: &Object, recreate: bool, concurrently: bool, ctx: &Ctx) -> Option<Statement> {
    let id = object.id();
    let kind = if recreate {
        StatementKind::Replace
    } else {
        StatementKind::Drop
    };
    let sql = match object {
        Object::Constraint(c) => {
            if !c.is_local {
                return None;
            }
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                qual(&c.table),
                ident(&c.name)
            )
        }
        Object::Index(i) => {
            if i.parent.is_some() {
                return None;
            }
            let how = if concurrently { "CONCURRENTLY " } else { "" };
            format!("DROP INDEX {how}{}", qual(&i.name))
        }
        Object::Sequence(s) if s.owned_by.is_some() => {
            // Dropping the owning table or column drops it too.
            format!("DROP SEQUENCE IF EXISTS {}", qual(&s.name))
        }
        Object::Extension(e) => format!("DROP EXTENSION {}", ident(&e.name)),
        _ => format!("DROP {}", object_ref(&id, Some(object))),
    };
    let mut s = statement(sql, &id, kind);
    if concurrently {
        s.transactional = false;
        s.hazards.push(hazard(
            HazardKind::NonTransactional,
            format!("drops index {id} CONCURRENTLY, outside a transaction"),
        ));
    }
    match object {
        Object::Table(t) => {
            s.hazards.push(hazard(
                HazardKind::DataLoss,
                format!("drops table {} and all its rows", t.name),
            ));
            if ctx.table_swaps.contains(&t.name.schema) {
                s.hazards.push(rename_hazard_table(&t.name.schema));
            }
        }
        Object::Sequence(q) => s.hazards.push(hazard(
            HazardKind::DataLoss,
            format!("drops sequence {} and its current value", q.name),
        )),
        Object::Extension(e) if recreate => {
            s.hazards.push(hazard(
                HazardKind::DataLoss,
                format!(
                    "drops extension {} (to go down to an older version) with the objects \
                     and data it created",
                    e.name
                ),
            ));
            s.hazards.push(hazard(
                HazardKind::Irreversible,
                format!(
                    "extension {} is created anew: its own data does not return",
                    e.name
                ),
            ));
        }
        _ => {}
    }
    Some(s)
}

/// `CREATE COLLATION` with the options PostgreSQL read back (libc's two
/// locales, or ICU's one).
fn create_collation(c: &crate::schema::model::Collation) -> String {
    let mut options = vec![format!("provider = {}", c.provider)];
    if let Some(locale) = &c.locale {
        options.push(format!("locale = {}", literal(locale)));
    }
    if let Some(x) = &c.lc_collate {
        options.push(format!("lc_collate = {}", literal(x)));
    }
    if let Some(x) = &c.lc_ctype {
        options.push(format!("lc_ctype = {}", literal(x)));
    }
    if !c.deterministic {
        options.push("deterministic = false".to_string());
    }
    format!(
        "CREATE COLLATION {} ({})",
        qual(&c.name),
        options.join(", ")
    )
}
