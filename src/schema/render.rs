//! A plan as SQL text: hazards as `-- hazard:` comments above their
//! statement, and the quoting helpers the diff uses to write statements
//! (identifiers quoted only where PostgreSQL needs it, literals escaped).

use super::model::QualName;
use super::plan::Plan;

/// A psql-ready script (`psql -v ON_ERROR_STOP=1 -f`): the statements with
/// their hazards, in one transaction when every statement allows it. An
/// empty plan is an empty script.
pub fn script(plan: &Plan) -> String {
    if plan.is_empty() {
        return String::new();
    }
    if plan.transactional() {
        return format!("BEGIN;\n\n{}\nCOMMIT;\n", body(plan));
    }
    let mut out = String::from(
        "-- Not wrapped in one transaction: PostgreSQL refuses these statements inside a\n\
         -- transaction block (or a later statement needs them committed first):\n",
    );
    for s in plan.statements.iter().filter(|s| !s.transactional) {
        out.push_str(&format!("--   {}\n", first_line(&s.sql)));
    }
    out.push('\n');
    out.push_str(&body(plan));
    out
}

/// The statements with their hazard comments and no transaction control:
/// a revision's `upgrade` or `downgrade` body.
pub fn body(plan: &Plan) -> String {
    let mut out = String::new();
    for s in &plan.statements {
        for h in &s.hazards {
            out.push_str(&format!("-- hazard: {}: {}\n", h.kind, h.message));
        }
        out.push_str(&s.sql);
        out.push_str(";\n\n");
    }
    out
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or("")
}

/// PostgreSQL 15's keywords that `quote_ident` quotes (reserved, "can be
/// function or type" and "cannot be function or type"), from
/// `pg_get_keywords()` where `catcode <> 'U'` (Appendix C, SQL Key Words).
const KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// An identifier as SQL: bare when it is lowercase `[a-z_][a-z0-9_$]*` and
/// not a keyword, else double-quoted with `"` doubled.
pub fn ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && KEYWORDS.binary_search(&name).is_err();
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted where needed.
pub fn qual(name: &QualName) -> String {
    format!("{}.{}", ident(&name.schema), ident(&name.name))
}

/// A string literal: `'...'` with `'` doubled; `E'...'` when it holds a
/// backslash, so that the text means the same whatever
/// `standard_conforming_strings` is.
pub fn literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// `'text'` or `NULL`, for `COMMENT ON ... IS`.
pub fn literal_or_null(text: Option<&str>) -> String {
    text.map(literal).unwrap_or_else(|| "NULL".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::ObjectId;
    use crate::schema::plan::{Hazard, HazardKind, Statement, StatementKind};

    #[test]
    fn keywords_are_sorted_for_binary_search() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn identifiers_are_quoted_only_where_needed() {
        assert_eq!(ident("orders"), "orders");
        assert_eq!(ident("_a1$"), "_a1$");
        assert_eq!(ident("Orders"), "\"Orders\"");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("name"), "name");
        assert_eq!(ident("1a"), "\"1a\"");
        assert_eq!(ident("a b"), "\"a b\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(
            qual(&QualName::new("Sales", "order")),
            "\"Sales\".\"order\""
        );
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(literal_or_null(None), "NULL");
    }

    fn statement(sql: &str, transactional: bool) -> Statement {
        Statement {
            sql: sql.to_string(),
            object: ObjectId::Schema { name: "s".into() },
            kind: StatementKind::Create,
            hazards: vec![Hazard {
                kind: HazardKind::DataLoss,
                message: "m".into(),
            }],
            transactional,
        }
    }

    #[test]
    fn script_wraps_a_transactional_plan_in_one_transaction() {
        let plan = Plan {
            statements: vec![statement("CREATE SCHEMA s", true)],
        };
        assert_eq!(
            script(&plan),
            "BEGIN;\n\n-- hazard: data_loss: m\nCREATE SCHEMA s;\n\n\nCOMMIT;\n"
        );
        assert_eq!(script(&Plan::default()), "");
    }

    #[test]
    fn script_says_why_a_plan_has_no_transaction() {
        let plan = Plan {
            statements: vec![statement("CREATE INDEX CONCURRENTLY i ON t (a)", false)],
        };
        let text = script(&plan);
        assert!(!text.contains("BEGIN"));
        assert!(text.starts_with("-- Not wrapped in one transaction"));
        assert!(text.contains("--   CREATE INDEX CONCURRENTLY i ON t (a)\n"));
    }
}
