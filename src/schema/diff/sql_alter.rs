//! Changes as statements: the in-place alters (`ALTER TABLE`, `ALTER
//! TYPE`, `ALTER SEQUENCE`, ...), comments and grants, with hazards.

use super::change::{Change, CompositeOp, DomainOp, EnumPosition, TableOp};
use super::sql::Ctx;
use super::sql_text::{
    collation, column_definition, comment, grant, hazard, identity_word, policy_clauses, revoke,
    statement, trigger_enabled,
};
use crate::schema::model::{Expr, Object, ObjectId, QualName};
use crate::schema::plan::{HazardKind, Statement, StatementKind};
use crate::schema::render::{ident, literal, qual};

pub fn render(change: &Change, ctx: &Ctx) -> Vec<Statement> {
    let id = change.subject();
    let one = |sql: String, kind| vec![statement(sql, &id, kind)];
    let alter = StatementKind::Alter;
    match change {
        Change::Table { table, op } => table_op(table, op, ctx),
        Change::Validate { table, name } => one(
            format!("ALTER TABLE {} VALIDATE CONSTRAINT {}", qual(table), ident(name)),
            StatementKind::Validate,
        ),
        Change::EnumAddValue {
            name,
            value,
            position,
            used_later,
        } => {
            let at = match position {
                EnumPosition::Before(v) => format!(" BEFORE {}", literal(v)),
                EnumPosition::After(v) => format!(" AFTER {}", literal(v)),
                EnumPosition::End => String::new(),
            };
            let mut s = statement(
                format!("ALTER TYPE {} ADD VALUE {}{at}", qual(name), literal(value)),
                &id,
                alter,
            );
            s.hazards.push(hazard(
                HazardKind::Irreversible,
                format!("adds value {value:?} to enum {name}: removing it again means recreating the type"),
            ));
            if *used_later {
                s.transactional = false;
                s.hazards.push(hazard(
                    HazardKind::NonTransactional,
                    format!("the new value {value:?} of {name} is used later in the plan, and PostgreSQL refuses a new enum value before it is committed"),
                ));
            }
            vec![s]
        }
        Change::RenameType { from, to } => one(
            format!("ALTER TYPE {} RENAME TO {}", qual(from), ident(&to.name)),
            alter,
        ),
        Change::Domain { name, op } => domain_op(name, op, &id),
        Change::Composite { name, op } => {
            let action = match op {
                CompositeOp::Add(a) => format!("ADD ATTRIBUTE {} {}{}", ident(&a.name), a.data_type, collate(&a.collation)),
                CompositeOp::Drop(a) => format!("DROP ATTRIBUTE {}", ident(a)),
                CompositeOp::Type(a) => format!("ALTER ATTRIBUTE {} TYPE {}{}", ident(&a.name), a.data_type, collate(&a.collation)),
            };
            one(format!("ALTER TYPE {} {action}", qual(name)), alter)
        }
        Change::AlterSequence { to: s, .. } => one(
            format!(
                "ALTER SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{}",
                qual(&s.name),
                s.data_type,
                s.increment,
                s.min_value,
                s.max_value,
                s.start,
                s.cache,
                if s.cycle { " CYCLE" } else { " NO CYCLE" }
            ),
            alter,
        ),
        Change::OwnedBy { sequence, owner } => {
            let owner = match owner {
                Some((table, column)) => format!("{}.{}", qual(table), ident(column)),
                None => "NONE".to_string(),
            };
            one(format!("ALTER SEQUENCE {} OWNED BY {owner}", qual(sequence)), alter)
        }
        Change::ExtensionUpdate { name, version } => one(
            format!("ALTER EXTENSION {} UPDATE TO {}", ident(name), literal(version)),
            alter,
        ),
        Change::ExtensionSchema { name, schema } => one(
            format!("ALTER EXTENSION {} SET SCHEMA {}", ident(name), ident(schema)),
            alter,
        ),
        Change::TriggerEnabled {
            table,
            name,
            enabled,
        } => one(
            format!("ALTER TABLE {} {} {}", qual(table), trigger_enabled(*enabled), ident(name)),
            alter,
        ),
        Change::AlterPolicy { to, .. } => match to {
            Object::Policy(p) => one(
                format!(
                    "ALTER POLICY {} ON {}{}",
                    ident(&p.name),
                    qual(&p.table),
                    policy_clauses(&p.roles, p.using.as_ref(), p.with_check.as_ref())
                ),
                alter,
            ),
            _ => Vec::new(),
        },
        Change::Comment { id, column, text } => {
            vec![comment(id, ctx.from.get(id), column.as_deref(), text.as_deref())]
        }
        Change::Grant { id, grant: g } => vec![grant(id, ctx.from.get(id), g)],
        Change::Revoke { id, grant: g } => vec![revoke(id, ctx.from.get(id), g)],
        Change::Create { .. } | Change::Drop { .. } | Change::Replace { .. } | Change::Depends { .. } => {
            Vec::new()
        }
    }
}

fn collate(c: &Option<String>) -> String {
    c.as_ref()
        .map(|c| format!(" COLLATE {}", collation(c)))
        .unwrap_or_default()
}

fn domain_op(name: &QualName, op: &DomainOp, id: &ObjectId) -> Vec<Statement> {
    let alter =
        |action: String, kind| statement(format!("ALTER DOMAIN {} {action}", qual(name)), id, kind);
    match op {
        DomainOp::Default(Some(d)) => vec![alter(format!("SET DEFAULT {d}"), StatementKind::Alter)],
        DomainOp::Default(None) => vec![alter("DROP DEFAULT".into(), StatementKind::Alter)],
        DomainOp::NotNull(true) => vec![alter("SET NOT NULL".into(), StatementKind::Alter)],
        DomainOp::NotNull(false) => vec![alter("DROP NOT NULL".into(), StatementKind::Alter)],
        DomainOp::DropCheck(c) => vec![alter(
            format!("DROP CONSTRAINT {}", ident(c)),
            StatementKind::Alter,
        )],
        DomainOp::AddCheck { name: c, check } => vec![
            alter(
                format!("ADD CONSTRAINT {} {check} NOT VALID", ident(c)),
                StatementKind::Alter,
            ),
            alter(
                format!("VALIDATE CONSTRAINT {}", ident(c)),
                StatementKind::Validate,
            ),
        ],
    }
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

fn table_op(table: &QualName, op: &TableOp, ctx: &Ctx) -> Vec<Statement> {
    let id = ObjectId::Table {
        name: table.clone(),
    };
    let t = qual(table);
    let from_table = ctx.from.table(table);
    let s = |sql: String| statement(sql, &id, StatementKind::Alter);
    let column = |c: &str| ident(c);
    let swap = ctx.column_swaps.contains(table);
    let rename = |what: &str| {
        hazard(
            HazardKind::PossibleRename,
            format!("{table} drops a column and adds one ({what}): if it was a rename, this loses the column's data; a diff cannot tell, so write ALTER TABLE ... RENAME COLUMN instead if it was"),
        )
    };
    let mut out = Vec::new();
    match op {
        TableOp::AddColumn(c) => {
            if !c.is_local {
                return Vec::new();
            }
            let mut st = s(format!(
                "ALTER TABLE {t} ADD COLUMN {}",
                column_definition(c)
            ));
            if c.generated.is_some() || c.default.as_ref().is_some_and(volatile) {
                st.hazards.push(hazard(
                    HazardKind::TableRewrite,
                    format!(
                        "adding {table}.{} computes a value for every row (rewrites the table)",
                        c.name
                    ),
                ));
                st.hazards.push(hazard(
                    HazardKind::AccessExclusiveLock,
                    format!("holds ACCESS EXCLUSIVE on {table} during the rewrite"),
                ));
            }
            if swap {
                st.hazards.push(rename(&format!("added: {}", c.name)));
            }
            out.push(st);
            if let Some(text) = &c.comment {
                out.push(comment(&id, None, Some(&c.name), Some(text)));
            }
        }
        TableOp::DropColumn(c) => {
            let local = from_table
                .and_then(|x| x.column(c))
                .is_none_or(|x| x.is_local);
            if !local {
                return Vec::new();
            }
            let mut st = s(format!("ALTER TABLE {t} DROP COLUMN {}", column(c)));
            st.hazards.push(hazard(
                HazardKind::DataLoss,
                format!("drops column {table}.{c} and its data"),
            ));
            if swap {
                st.hazards.push(rename(&format!("dropped: {c}")));
            }
            out.push(st);
        }
        TableOp::ColumnType {
            column: c,
            from,
            to,
            collation: coll,
            via_text,
        } => {
            let using = if *via_text {
                format!("{}::text::{to}", column(c))
            } else {
                format!("{}::{to}", column(c))
            };
            let mut st = s(format!(
                "ALTER TABLE {t} ALTER COLUMN {} TYPE {to}{} USING {using}",
                column(c),
                collate(coll)
            ));
            if *via_text || (from != to && !binary_coercible(from, to)) {
                st.hazards.push(hazard(HazardKind::TableRewrite, format!("changes the type of {table}.{c} from {from} to {to}: rewrites the table and its indexes")));
                st.hazards.push(hazard(
                    HazardKind::AccessExclusiveLock,
                    format!("holds ACCESS EXCLUSIVE on {table} during the rewrite"),
                ));
            } else if from == to {
                st.hazards.push(hazard(HazardKind::AccessExclusiveLock, format!("changes the collation of {table}.{c}: rebuilds its indexes under ACCESS EXCLUSIVE")));
            }
            out.push(st);
        }
        TableOp::ColumnDefault { column: c, default } => out.push(s(match default {
            Some(d) => format!("ALTER TABLE {t} ALTER COLUMN {} SET DEFAULT {d}", column(c)),
            None => format!("ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT", column(c)),
        })),
        TableOp::ColumnNotNull {
            column: c,
            not_null,
        } => {
            if *not_null {
                let mut st = s(format!(
                    "ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL",
                    column(c)
                ));
                st.hazards.push(hazard(
                    HazardKind::AccessExclusiveLock,
                    format!("scans {table} for NULLs in {c} under ACCESS EXCLUSIVE"),
                ));
                out.push(st);
            } else {
                out.push(s(format!(
                    "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL",
                    column(c)
                )));
            }
        }
        TableOp::ColumnIdentity {
            column: c,
            from,
            to,
        } => out.push(s(match (from, to) {
            (_, None) => format!("ALTER TABLE {t} ALTER COLUMN {} DROP IDENTITY", column(c)),
            (None, Some(i)) => format!(
                "ALTER TABLE {t} ALTER COLUMN {} ADD GENERATED {} AS IDENTITY",
                column(c),
                identity_word(*i)
            ),
            (Some(_), Some(i)) => format!(
                "ALTER TABLE {t} ALTER COLUMN {} SET GENERATED {}",
                column(c),
                identity_word(*i)
            ),
        })),
        TableOp::DropExpression(c) => out.push(s(format!(
            "ALTER TABLE {t} ALTER COLUMN {} DROP EXPRESSION",
            column(c)
        ))),
        TableOp::SetLogged(logged) => {
            let mut st = s(format!(
                "ALTER TABLE {t} SET {}",
                if *logged { "LOGGED" } else { "UNLOGGED" }
            ));
            st.hazards.push(hazard(
                HazardKind::TableRewrite,
                format!("rewrites {table} to change its logging"),
            ));
            st.hazards.push(hazard(
                HazardKind::AccessExclusiveLock,
                format!("holds ACCESS EXCLUSIVE on {table} during the rewrite"),
            ));
            out.push(st);
        }
        TableOp::Options { reset, set, .. } => {
            if !reset.is_empty() {
                out.push(s(format!("ALTER TABLE {t} RESET ({})", reset.join(", "))));
            }
            if !set.is_empty() {
                out.push(s(format!("ALTER TABLE {t} SET ({})", set.join(", "))));
            }
        }
        TableOp::RowSecurity(on) => out.push(s(format!(
            "ALTER TABLE {t} {} ROW LEVEL SECURITY",
            if *on { "ENABLE" } else { "DISABLE" }
        ))),
        TableOp::ForceRowSecurity(on) => out.push(s(format!(
            "ALTER TABLE {t} {}FORCE ROW LEVEL SECURITY",
            if *on { "" } else { "NO " }
        ))),
        TableOp::Inherit(p) => out.push(s(format!("ALTER TABLE {t} INHERIT {}", qual(p)))),
        TableOp::NoInherit(p) => out.push(s(format!("ALTER TABLE {t} NO INHERIT {}", qual(p)))),
        TableOp::Attach { parent, bound } => {
            let mut st = s(format!(
                "ALTER TABLE {} ATTACH PARTITION {t} {bound}",
                qual(parent)
            ));
            st.hazards.push(hazard(HazardKind::AccessExclusiveLock, format!("scans {table} to check its rows fit the partition bound (add a matching CHECK constraint first to skip the scan)")));
            out.push(st);
        }
        TableOp::Detach { parent } => out.push(s(format!(
            "ALTER TABLE {} DETACH PARTITION {t}",
            qual(parent)
        ))),
    }
    out
}

/// A default PostgreSQL evaluates per row when a column is added (so the
/// table is rewritten): a call of a volatile function we know of.
fn volatile(default: &Expr) -> bool {
    let text = default.as_str().to_lowercase();
    [
        "nextval(",
        "random(",
        "gen_random_uuid(",
        "uuid_generate",
        "clock_timestamp(",
        "timeofday(",
    ]
    .iter()
    .any(|f| text.contains(f))
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
