//! The identifier grammar (Alembic's): parsing and resolution.
use super::{Ix, ResolveError, RevisionGraph};

/// A parsed identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ident {
    Base,
}

pub fn parse_ident(_s: &str) -> Result<Ident, ResolveError> {
    todo!()
}

pub(crate) enum DowngradeTarget {
    Base,
    Rev(Ix),
}

pub(crate) fn parse_upgrade_target(
    _g: &RevisionGraph,
    _rows: &[Ix],
    _target: &str,
) -> Result<Vec<Ix>, ResolveError> {
    todo!()
}

pub(crate) fn parse_downgrade_target(
    _g: &RevisionGraph,
    _rows: &[Ix],
    _target: &str,
) -> Result<(Option<String>, DowngradeTarget), ResolveError> {
    todo!()
}

impl RevisionGraph {
    pub(crate) fn resolve_branch(&self, _label: &str) -> Result<Ix, ResolveError> {
        todo!()
    }
}
