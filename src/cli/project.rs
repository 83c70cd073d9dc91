/*!
The CLI's seam to revision files on disk: [`crate::script`] with its
errors turned into [`CliError`]s. Commands reach the file system only
through here.
*/

use super::error::{CliError, CliResult};
use std::path::{Path, PathBuf};

pub use crate::script::{Format, LoadError, Loaded, NewRevision, Project};

/// Finds the project at `dir` (a project root or a revisions directory;
/// default: the current directory).
pub fn locate(dir: Option<&Path>) -> CliResult<Project> {
    Ok(Project::locate(dir)?)
}

/// Loads every revision file of the project in load order; files that fail
/// are in `problems`.
pub fn load(project: &Project) -> Loaded {
    crate::script::load(project)
}

/// Writes a new revision file in the project's own format.
pub fn write_revision(project: &Project, new: &NewRevision) -> CliResult<PathBuf> {
    Ok(crate::script::write_revision(project, new)?)
}

/// Creates `mergepoint.yaml` and an empty `revisions/` in `root`.
pub fn init_project(root: &Path) -> CliResult<Project> {
    Ok(crate::script::init_project(root)?)
}

/// A fresh revision id: 12 lowercase hex characters of a v4 UUID.
pub fn new_revision_id() -> String {
    crate::script::new_revision_id()
}

impl From<LoadError> for CliError {
    fn from(err: LoadError) -> Self {
        CliError::input(err.to_string())
    }
}
