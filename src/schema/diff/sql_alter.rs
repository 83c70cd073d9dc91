//! Changes as statements: the in-place alters (`ALTER TABLE`, `ALTER
//! TYPE`, `ALTER SEQUENCE`, ...), comments and grants, with hazards.

use super::change::{Change, CompositeOp, DomainOp, EnumPosition};
use super::sql_text::Ctx;
use super::sql_text::{
    collation, comment, grant, hazard, policy_clauses, revoke, sequence_options, statement,
    trigger_enabled,
};
use crate::schema::model::{Object, ObjectId, QualName, Sequence};
use crate::schema::plan::{HazardKind, Statement, StatementKind};
use crate::schema::render::{ident, literal, qual};

pub fn render(change: &Change, ctx: &Ctx) -> Vec<Statement> {
    let id = change.subject();
    let one = |sql: String, kind| vec![statement(sql, &id, kind)];
    let alter = StatementKind::Alter;
    match change {
        Change::Table { table, op } => super::sql_table::table_op(table, op, ctx),
        Change::Validate { table, name } => one(
            format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                qual(table),
                ident(name)
            ),
            StatementKind::Validate,
        ),
        Change::EnumAddValue {
            name,
            value,
            position,
            used_later,
        } => vec![add_value(name, value, position, *used_later)],
        Change::RenameType { from, to } => one(
            format!("ALTER TYPE {} RENAME TO {}", qual(from), ident(&to.name)),
            alter,
        ),
        Change::Domain { name, op } => domain_op(name, op, &id),
        Change::Composite { name, op } => {
            let action = match op {
                CompositeOp::Add(a) => format!(
                    "ADD ATTRIBUTE {} {}{}",
                    ident(&a.name),
                    a.data_type,
                    collate(&a.collation)
                ),
                CompositeOp::Drop(a) => format!("DROP ATTRIBUTE {}", ident(a)),
                CompositeOp::Type(a) => format!(
                    "ALTER ATTRIBUTE {} TYPE {}{}",
                    ident(&a.name),
                    a.data_type,
                    collate(&a.collation)
                ),
            };
            one(format!("ALTER TYPE {} {action}", qual(name)), alter)
        }
        Change::AlterSequence { from, to } => vec![alter_sequence(from, to)],
        Change::OwnedBy { sequence, owner } => {
            let owner = match owner {
                Some((table, column)) => format!("{}.{}", qual(table), ident(column)),
                None => "NONE".to_string(),
            };
            one(
                format!("ALTER SEQUENCE {} OWNED BY {owner}", qual(sequence)),
                alter,
            )
        }
        Change::ExtensionUpdate { name, version } => one(
            format!(
                "ALTER EXTENSION {} UPDATE TO {}",
                ident(name),
                literal(version)
            ),
            alter,
        ),
        Change::ExtensionSchema { name, schema } => one(
            format!(
                "ALTER EXTENSION {} SET SCHEMA {}",
                ident(name),
                ident(schema)
            ),
            alter,
        ),
        Change::TriggerEnabled {
            table,
            name,
            enabled,
        } => one(
            format!(
                "ALTER TABLE {} {} {}",
                qual(table),
                trigger_enabled(*enabled),
                ident(name)
            ),
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
            vec![comment(
                id,
                ctx.from.get(id),
                column.as_deref(),
                text.as_deref(),
            )]
        }
        Change::Grant { id, grant: g } => vec![grant(id, ctx.from.get(id), g)],
        Change::Revoke { id, grant: g } => vec![revoke(id, ctx.from.get(id), g)],
        Change::Create { .. }
        | Change::Drop { .. }
        | Change::Replace { .. }
        | Change::Depends { .. } => Vec::new(),
    }
}

fn add_value(name: &QualName, value: &str, position: &EnumPosition, used_later: bool) -> Statement {
    let id = ObjectId::Type { name: name.clone() };
    let alter = StatementKind::Alter;
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
    if used_later {
        s.transactional = false;
        s.hazards.push(hazard(
                    HazardKind::NonTransactional,
                    format!("the new value {value:?} of {name} is used later in the plan, and PostgreSQL refuses a new enum value before it is committed"),
                ));
    }
    s
}

/// `ALTER SEQUENCE` to all of the new parameters; when the new bounds
/// exclude the old start (where a sequence never used still stands),
/// `RESTART` moves it to the new start, as a hazard says.
fn alter_sequence(from: &Sequence, s: &Sequence) -> Statement {
    let outside = from.start < s.min_value || from.start > s.max_value;
    let mut st = statement(
        format!(
            "ALTER SEQUENCE {} {}{}",
            qual(&s.name),
            sequence_options(s),
            if outside { " RESTART" } else { "" }
        ),
        &ObjectId::Sequence {
            name: s.name.clone(),
        },
        StatementKind::Alter,
    );
    if outside {
        st.hazards.push(hazard(
            HazardKind::DataLoss,
            format!("restarts sequence {} at {}: its old start {} is outside the new bounds, and its current value is lost", s.name, s.start, from.start),
        ));
    }
    st
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
