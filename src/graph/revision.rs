//! The revision model shared by every layer: what one revision file declares.

use serde::{Deserialize, Serialize};

/// One revision as declared in its file, before the graph gives it meaning.
///
/// `parents` are the versioned down-revisions (Alembic's `down_revision`),
/// in declared order: empty for a base, two or more for a merge.
/// `depends_on` names revisions or branch labels that must be applied first
/// but are not parents (Alembic's `depends_on`): they order the plan without
/// making a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Revision {
    pub id: String,
    pub parents: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub message: String,
    /// Where the revision came from (a file path), used in error messages.
    /// Empty for revisions built in memory.
    #[serde(skip)]
    pub origin: String,
}

impl Revision {
    /// A revision with the given id and parents and nothing else; handy in tests.
    pub fn new(id: &str, parents: &[&str]) -> Self {
        Revision {
            id: id.to_string(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            ..Revision::default()
        }
    }

    /// Where this revision was declared, for messages: the file, or the id.
    pub fn describe_origin(&self) -> String {
        if self.origin.is_empty() {
            format!("revision {}", self.id)
        } else {
            self.origin.clone()
        }
    }
}

/// Characters Alembic forbids in revision ids: they carry meaning in the
/// identifier grammar (`label@head`, `rev+1`, `a:b`).
pub const ILLEGAL_ID_CHARS: [char; 4] = ['@', '-', '+', ':'];

/// Why an id or label cannot be used, or `None` if it is fine.
pub fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("it is empty".to_string());
    }
    if id.chars().any(char::is_whitespace) {
        return Some("it contains white space".to_string());
    }
    let bad: Vec<String> = ILLEGAL_ID_CHARS
        .iter()
        .filter(|c| id.contains(**c))
        .map(|c| format!("'{c}'"))
        .collect();
    if !bad.is_empty() {
        return Some(format!(
            "it contains {} (not allowed: they have a meaning in identifiers)",
            bad.join(", ")
        ));
    }
    if matches!(id, "head" | "heads" | "base") {
        return Some(format!("'{id}' is a reserved word"));
    }
    None
}
