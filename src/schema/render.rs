//! A plan as SQL text: hazards as `-- hazard:` comments above their
//! statement, identifiers quoted where PostgreSQL needs it.
//!
//! STUB (lead): the signatures are the contract; the diff helper fills them.

use super::plan::Plan;

/// A psql-ready script (`psql -v ON_ERROR_STOP=1 -f`): the statements with
/// their hazards, in one transaction when every statement allows it.
pub fn script(plan: &Plan) -> String {
    body(plan)
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
        out.push_str(";\n");
    }
    out
}
