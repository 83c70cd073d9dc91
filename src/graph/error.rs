//! Errors of the graph core: a graph that cannot be built, an identifier
//! that does not resolve, a plan that cannot be made.

use super::Direction;
use thiserror::Error;

/// One problem found while building the graph. `check` reports all of them;
/// other commands stop at the first list.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphProblem {
    #[error("{origin}: duplicate revision id '{id}' (also declared in {other}); give one of them a new id")]
    DuplicateId {
        id: String,
        origin: String,
        other: String,
    },
    #[error("{origin}: revision {id} names parent '{parent}', which does not exist; fix the parent id or restore the missing revision")]
    MissingParent {
        id: String,
        origin: String,
        parent: String,
    },
    #[error("{origin}: revision {id} depends on '{target}', which is neither a revision id nor a branch label")]
    MissingDependency {
        id: String,
        origin: String,
        target: String,
    },
    #[error("{origin}: revision {id} lists itself as its own {relation}; remove it")]
    SelfReference {
        id: String,
        origin: String,
        relation: &'static str,
    },
    #[error("{origin}: branch label '{label}' of revision {id} is already used by revision {other}; labels must be unique")]
    DuplicateLabel {
        label: String,
        id: String,
        origin: String,
        other: String,
    },
    #[error(
        "{origin}: branch label '{label}' of revision {id} is also a revision id; rename the label"
    )]
    LabelIsRevisionId {
        label: String,
        id: String,
        origin: String,
    },
    #[error("{origin}: invalid {what} '{value}': {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
        origin: String,
    },
    #[error("cycle in the revision graph: {}; break it by changing one parent", render_cycle(.cycle))]
    Cycle { cycle: Vec<String> },
    #[error("dependency cycle: {}; a depends_on loops back through the parents; remove one dependency", render_cycle(.cycle))]
    DependencyCycle { cycle: Vec<String> },
}

fn render_cycle(cycle: &[String]) -> String {
    let mut parts: Vec<&str> = cycle.iter().map(String::as_str).collect();
    if let Some(first) = cycle.first() {
        parts.push(first);
    }
    parts.join(" -> ")
}

/// The graph could not be built: every problem found, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct GraphErrors {
    pub problems: Vec<GraphProblem>,
}

/// An identifier that does not name exactly one thing, or a walk or range
/// that cannot be made. Each variant carries the identifiers at fault; the
/// CLI adds what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    #[error("no revision or branch label '{ident}'{}", .looked_up.note())]
    Unknown { ident: String, looked_up: LookedUp },
    #[error("'{prefix}' is ambiguous: it starts {} revisions: {}; give more characters", .candidates.len(), .candidates.join(", "))]
    AmbiguousPrefix {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("'{ident}' means one head, but there are {}: {}; name one of them, use a branch label (label@head), or merge them (mergepoint merge heads)", .heads.len(), .heads.join(", "))]
    MultipleHeads { ident: String, heads: Vec<String> },
    #[error("'{ident}' is ambiguous: the walk {direction} from {from} can go to {}; name the revision instead", .candidates.join(" or "))]
    AmbiguousWalk {
        ident: String,
        from: String,
        direction: &'static str,
        candidates: Vec<String>,
    },
    #[error("'{ident}' is ambiguous: it steps from the current head, but there are {}: {}; say which, e.g. {}", .heads.len(), .heads.join(", "), .suggestions.join(" or "))]
    AmbiguousCurrentHead {
        ident: String,
        heads: Vec<String>,
        suggestions: Vec<String>,
    },
    #[error("'{ident}' walks past the {end} of the graph; use a smaller step")]
    WalkedTooFar { ident: String, end: &'static str },
    #[error("revision {revision} is not on branch '{label}'")]
    NotOnBranch { revision: String, label: String },
    #[error("invalid identifier '{ident}': {reason}")]
    Invalid { ident: String, reason: String },
    /// `+0` / `-0` with nothing to step from: neither up nor down.
    #[error("'{ident}' is a walk of zero steps, so it names no revision; step at least one revision (+1, -1) or name the revision")]
    ZeroStep { ident: String },
    /// A relative target that walks the other way than the command moves.
    #[error("'{ident}' would move {}; use `{} {ident}` to {}", .walks.word(), .walks.as_str(), .walks.purpose())]
    WrongDirection { ident: String, walks: Direction },
    #[error("'{ident}' lands below the first revision; there is nothing to upgrade to (to remove revisions use `downgrade`)")]
    UpgradeBelowBase { ident: String },
    #[error("'{ident}': branch '{branch}' is not applied (current heads: {})", base_or(.current))]
    BranchNotApplied {
        ident: String,
        branch: String,
        current: Vec<String>,
    },
    #[error("'{ident}': nothing is applied, there is nothing to downgrade")]
    NothingApplied { ident: String },
    #[error("'{ident}' is not a valid downgrade target from the current heads")]
    NotADowngradeTarget { ident: String },
    #[error("nothing to downgrade: {revision} is not applied below the current heads ({})", base_or(.current))]
    NotAppliedBelow {
        revision: String,
        current: Vec<String>,
    },
    /// Alembic's "overlaps": one requested revision is an ancestor of
    /// another.
    #[error("requested revision {revision} overlaps with other requested revisions {}", .others.join(", "))]
    Overlap {
        revision: String,
        others: Vec<String>,
    },
    #[error("revision {revision} is not an ancestor of '{upper}'; swap the ends of the range")]
    RangeNotAncestor { revision: String, upper: String },
    #[error("the range '{lower}:{upper}' is not connected: some revisions in it are reachable from '{upper}' only through revisions outside it; widen the range")]
    RangeNotConnected { lower: String, upper: String },
}

/// What an unknown identifier was looked up as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookedUp {
    /// A revision id, prefix or branch label.
    Revision,
    /// The branch part of `label@...`; the labels the graph has, sorted.
    BranchName { known_labels: Vec<String> },
    /// A row of the version table.
    VersionRow,
}

impl LookedUp {
    fn note(&self) -> String {
        match self {
            LookedUp::Revision => String::new(),
            LookedUp::BranchName { known_labels } => format!(
                " (used as a branch name; known labels: {})",
                if known_labels.is_empty() {
                    "none".to_string()
                } else {
                    known_labels.join(", ")
                }
            ),
            LookedUp::VersionRow => {
                " (it is in the version table but not in the revisions directory)".to_string()
            }
        }
    }
}

/// Revision ids joined by commas, or `base` for none.
fn base_or(ids: &[String]) -> String {
    if ids.is_empty() {
        "base".to_string()
    } else {
        ids.join(", ")
    }
}

impl Direction {
    /// `up` / `down`.
    fn word(self) -> &'static str {
        match self {
            Direction::Upgrade => "up",
            Direction::Downgrade => "down",
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            Direction::Upgrade => "apply revisions",
            Direction::Downgrade => "remove revisions",
        }
    }
}

impl ResolveError {
    pub(crate) fn invalid(ident: &str, reason: impl Into<String>) -> Self {
        ResolveError::Invalid {
            ident: ident.to_string(),
            reason: reason.into(),
        }
    }
}
