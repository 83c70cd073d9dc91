//! `ALTER TABLE` actions as statements, with their hazards.

use super::change::TableOp;
use super::sql_text::{
    binary_coercible, collation, column_definition, comment, hazard, identity_word, statement, Ctx,
};
use crate::schema::model::{Column, Expr, ObjectId, QualName};
use crate::schema::plan::{Hazard, HazardKind, Statement, StatementKind};
use crate::schema::render::{ident, qual};

pub fn table_op(table: &QualName, op: &TableOp, ctx: &Ctx) -> Vec<Statement> {
    let id = ObjectId::Table {
        name: table.clone(),
    };
    let t = qual(table);
    let alter = |action: String| {
        statement(
            format!("ALTER TABLE {t} {action}"),
            &id,
            StatementKind::Alter,
        )
    };
    let with = |mut s: Statement, hazards: Vec<Hazard>| {
        s.hazards.extend(hazards);
        vec![s]
    };
    match op {
        TableOp::AddColumn(c) => add_column(table, c, ctx),
        TableOp::DropColumn(c) => drop_column(table, c, ctx),
        TableOp::ColumnType {
            column,
            from,
            to,
            collation: coll,
            via_text,
        } => {
            let c = ident(column);
            let using = if *via_text { format!("{c}::text::{to}") } else { format!("{c}::{to}") };
            let coll = coll.as_ref().map(|x| format!(" COLLATE {}", collation(x))).unwrap_or_default();
            let s = alter(format!("ALTER COLUMN {c} TYPE {to}{coll} USING {using}"));
            with(s, type_change_hazards(table, column, from, to, *via_text))
        }
        TableOp::ColumnDefault { column, default } => vec![alter(match default {
            Some(d) => format!("ALTER COLUMN {} SET DEFAULT {d}", ident(column)),
            None => format!("ALTER COLUMN {} DROP DEFAULT", ident(column)),
        })],
        TableOp::ColumnNotNull { column, not_null: true } => with(
            alter(format!("ALTER COLUMN {} SET NOT NULL", ident(column))),
            vec![hazard(
                HazardKind::AccessExclusiveLock,
                format!("scans {table} for NULLs in {column} under ACCESS EXCLUSIVE"),
            )],
        ),
        TableOp::ColumnNotNull { column, not_null: false } => {
            vec![alter(format!("ALTER COLUMN {} DROP NOT NULL", ident(column)))]
        }
        TableOp::ColumnIdentity { column, from, to } => {
            let c = ident(column);
            vec![alter(match (from, to) {
                (_, None) => format!("ALTER COLUMN {c} DROP IDENTITY"),
                (None, Some(i)) => format!("ALTER COLUMN {c} ADD GENERATED {} AS IDENTITY", identity_word(*i)),
                (Some(_), Some(i)) => format!("ALTER COLUMN {c} SET GENERATED {}", identity_word(*i)),
            })]
        }
        TableOp::DropExpression(c) => vec![alter(format!("ALTER COLUMN {} DROP EXPRESSION", ident(c)))],
        TableOp::SetLogged(logged) => with(
            alter(format!("SET {}", if *logged { "LOGGED" } else { "UNLOGGED" })),
            rewrite(table, "to change its logging"),
        ),
        TableOp::Options { reset, set, .. } => {
            let mut out = Vec::new();
            if !reset.is_empty() {
                out.push(alter(format!("RESET ({})", reset.join(", "))));
            }
            if !set.is_empty() {
                out.push(alter(format!("SET ({})", set.join(", "))));
            }
            out
        }
        TableOp::RowSecurity(on) => vec![alter(format!("{} ROW LEVEL SECURITY", if *on { "ENABLE" } else { "DISABLE" }))],
        TableOp::ForceRowSecurity(on) => vec![alter(format!("{}FORCE ROW LEVEL SECURITY", if *on { "" } else { "NO " }))],
        TableOp::Inherit(p) => vec![alter(format!("INHERIT {}", qual(p)))],
        TableOp::NoInherit(p) => vec![alter(format!("NO INHERIT {}", qual(p)))],
        TableOp::Attach { parent, bound } => with(
            statement(format!("ALTER TABLE {} ATTACH PARTITION {t} {bound}", qual(parent)), &id, StatementKind::Alter),
            vec![hazard(
                HazardKind::AccessExclusiveLock,
                format!("scans {table} to check its rows fit the partition bound (a matching CHECK constraint added first skips the scan)"),
            )],
        ),
        TableOp::Detach { parent } => vec![statement(
            format!("ALTER TABLE {} DETACH PARTITION {t}", qual(parent)),
            &id,
            StatementKind::Alter,
        )],
    }
}

fn rewrite(table: &QualName, why: &str) -> Vec<Hazard> {
    vec![
        hazard(HazardKind::TableRewrite, format!("rewrites {table} {why}")),
        hazard(
            HazardKind::AccessExclusiveLock,
            format!("holds ACCESS EXCLUSIVE on {table} during the rewrite"),
        ),
    ]
}

fn type_change_hazards(
    table: &QualName,
    column: &str,
    from: &Expr,
    to: &Expr,
    via_text: bool,
) -> Vec<Hazard> {
    if via_text || (from != to && !binary_coercible(from, to)) {
        rewrite(
            table,
            &format!("and its indexes: {column} changes type from {from} to {to}"),
        )
    } else if from == to {
        vec![hazard(
            HazardKind::AccessExclusiveLock,
            format!("changes the collation of {table}.{column}: rebuilds its indexes under ACCESS EXCLUSIVE"),
        )]
    } else {
        Vec::new()
    }
}

fn rename_hazard(table: &QualName, what: &str) -> Hazard {
    hazard(
        HazardKind::PossibleRename,
        format!("{table} drops a column and adds one ({what}): if it was a rename, this loses the column's data; a diff cannot tell, so write ALTER TABLE ... RENAME COLUMN instead if it was"),
    )
}

fn add_column(table: &QualName, c: &Column, ctx: &Ctx) -> Vec<Statement> {
    if !c.is_local {
        // Comes with the parent's column (inheritance or partition).
        return Vec::new();
    }
    let id = ObjectId::Table {
        name: table.clone(),
    };
    let mut s = statement(
        format!(
            "ALTER TABLE {} ADD COLUMN {}",
            qual(table),
            column_definition(c)
        ),
        &id,
        StatementKind::Alter,
    );
    if c.generated.is_some() || c.default.as_ref().is_some_and(volatile) {
        s.hazards.extend(rewrite(
            table,
            &format!("to compute {} for every row", c.name),
        ));
    }
    if ctx.column_swaps.contains(table) {
        s.hazards
            .push(rename_hazard(table, &format!("added: {}", c.name)));
    }
    let mut out = vec![s];
    if let Some(text) = &c.comment {
        out.push(comment(&id, None, Some(&c.name), Some(text)));
    }
    out
}

fn drop_column(table: &QualName, column: &str, ctx: &Ctx) -> Vec<Statement> {
    let inherited = ctx
        .from
        .table(table)
        .and_then(|t| t.column(column))
        .is_some_and(|c| !c.is_local);
    if inherited {
        // Goes with the parent's column.
        return Vec::new();
    }
    let id = ObjectId::Table {
        name: table.clone(),
    };
    // Children that keep the column (as their own) are left out with ONLY.
    let kept_by_child = ctx.to.objects.values().any(|o| {
        matches!(o, crate::schema::model::Object::Table(child)
            if child.inherits.contains(table) && child.column(column).is_some())
    });
    let only = if kept_by_child { "ONLY " } else { "" };
    let mut s = statement(
        format!(
            "ALTER TABLE {only}{} DROP COLUMN {}",
            qual(table),
            ident(column)
        ),
        &id,
        StatementKind::Alter,
    );
    s.hazards.push(hazard(
        HazardKind::DataLoss,
        format!("drops column {table}.{column} and its data"),
    ));
    if ctx.column_swaps.contains(table) {
        s.hazards
            .push(rename_hazard(table, &format!("dropped: {column}")));
    }
    vec![s]
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
