/*!
Loading a project for a command: the one place the CLI reads revision files
and builds the graph.

[`survey`] loads every file and builds the graph whatever it finds, keeping
every problem (what `check` reports); [`Survey::into_workspace`] turns that
into the validated [`Workspace`] the other commands work on, or into one
input error listing the problems.
*/

use super::error::{CliError, CliResult};
use crate::graph::{GraphErrors, RevisionGraph};
use crate::script::{Body, LoadError, Loaded, Project};

/// A loaded, validated project: what most commands work on.
pub struct Workspace {
    pub project: Project,
    pub graph: RevisionGraph,
    /// What each revision runs, by graph index (load order).
    pub bodies: Vec<Body>,
}

/// Everything loading a project found, good and bad.
pub struct Survey {
    pub project: Project,
    /// Revision files that loaded.
    pub revisions: usize,
    /// Files that failed to load, in load order.
    pub load_problems: Vec<LoadError>,
    /// The graph of the revisions that loaded, or every graph problem.
    pub graph: Result<RevisionGraph, GraphErrors>,
    /// What each loaded revision runs, in load order.
    pub bodies: Vec<Body>,
}

/// Loads every revision file of `project` and builds the graph from those
/// that loaded.
pub fn survey(project: Project) -> Survey {
    let Loaded {
        revisions,
        problems,
        bodies,
        cache,
    } = {
        let _phase = tracing::info_span!("load").entered();
        crate::script::load(&project)
    };
    super::timings::cache(&cache);
    let count = revisions.len();
    let graph = {
        let _phase = tracing::info_span!("graph").entered();
        RevisionGraph::build(revisions)
    };
    Survey {
        project,
        revisions: count,
        load_problems: problems,
        graph,
        bodies,
    }
}

impl Survey {
    /// The workspace, if every file loaded and the graph is valid; else an
    /// input error listing the files that failed (or the graph's problems).
    pub fn into_workspace(self) -> CliResult<Workspace> {
        if !self.load_problems.is_empty() {
            return Err(unreadable_files(&self.load_problems));
        }
        // A graph that builds kept every revision, in order, so bodies[i]
        // belongs to graph index i.
        Ok(Workspace {
            project: self.project,
            graph: self.graph?,
            bodies: self.bodies,
        })
    }
}

fn unreadable_files(problems: &[LoadError]) -> CliError {
    let mut message = if problems.len() == 1 {
        "a revision file could not be read:".to_string()
    } else {
        format!("{} revision files could not be read:", problems.len())
    };
    for p in problems {
        message.push_str("\n  ");
        message.push_str(&p.to_string());
    }
    CliError::input(message)
        .with_hint("fix or remove the file; 'mergepoint check' lists every problem")
}
