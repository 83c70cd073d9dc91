//! TEMPORARY (replaced by helper H1's detector at merge).
/// A transaction-control statement found at top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlStatement {
    pub line: usize,
    pub column: usize,
    pub keyword: String,
}
/// TEMPORARY.
pub fn transaction_control(sql: &str) -> Option<ControlStatement> {
    let _ = sql;
    None
}
