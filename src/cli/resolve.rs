/*!
Identifier resolution, history order and plans as the commands need them:
thin wrappers over the graph core that turn its [`ResolveError`]s into
[`CliError`]s with hints.

[`ResolveError`]: crate::graph::ResolveError
*/

use super::error::{CliError, CliResult};
use crate::graph::{Ix, Plan, RevisionGraph};

/// One revision, or `None` for base.
pub fn resolve_one(g: &RevisionGraph, ident: &str) -> CliResult<Option<Ix>> {
    g.resolve_one(ident).map_err(CliError::from)
}

/// Several revisions (`heads`, or anything `resolve_one` accepts).
pub fn resolve_many(g: &RevisionGraph, ident: &str) -> CliResult<Vec<Ix>> {
    g.resolve_many(ident).map_err(CliError::from)
}

/// Revisions in `alembic history` order (newest first), optionally limited
/// to a range `A:B` (either side may be empty).
pub fn history(g: &RevisionGraph, range: Option<&str>) -> CliResult<Vec<Ix>> {
    g.history(range).map_err(CliError::from)
}

/// The plan that moves a database at `from` to `to`.
pub fn plan_between(g: &RevisionGraph, from: &str, to: &str) -> CliResult<Plan> {
    g.plan_between(from, to).map_err(CliError::from)
}
