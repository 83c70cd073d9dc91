/*!
What commands print about a revision, as one serde struct.

[`RevisionView`] is both the JSON object of `heads --json`, `history --json`
and `show --json`, and the source of the text lines, which follow Alembic's
`Script._head_only` and `Script.log_entry` formats so that output reads the
same as `alembic heads` / `alembic history`.
*/

use crate::graph::{Ix, RevisionGraph};
use serde::Serialize;

/// One revision as the commands show it, borrowed from the graph (`history`
/// shows 10,000 of them; copying every field cost a fifth of its time).
#[derive(Debug, Clone, Serialize)]
pub struct RevisionView<'g> {
    /// Full revision id.
    pub revision: &'g str,
    /// Versioned parents (`down_revision`), declared order; empty for a base.
    pub parents: Vec<&'g str>,
    /// Versioned children, load order.
    pub children: Vec<&'g str>,
    /// `depends_on` as declared (ids or branch labels).
    pub depends_on: &'g [String],
    /// Branch labels, including those inherited along the branch, sorted.
    pub branch_labels: &'g [String],
    /// The message: a native revision's (it may have several lines), an
    /// Alembic revision's `Script.doc` (its docstring up to the first blank
    /// line).
    pub message: &'g str,
    /// All of it: for an Alembic revision the whole docstring
    /// (`Script.longdoc`), which `show` and `--verbose` print.
    #[serde(skip)]
    pub long_message: &'g str,
    /// Nothing has this revision as a parent.
    pub is_head: bool,
    /// Nothing has this revision as a parent or a dependency.
    pub is_real_head: bool,
    pub is_base: bool,
    /// More than one revision has it as a parent.
    pub is_branchpoint: bool,
    /// It has more than one parent.
    pub is_mergepoint: bool,
    /// The file it was loaded from.
    pub file: &'g str,
}

impl<'g> RevisionView<'g> {
    pub fn new(g: &'g RevisionGraph, ix: Ix) -> Self {
        RevisionView::with_real_head(g, ix, g.real_heads().contains(&ix))
    }

    fn with_real_head(g: &'g RevisionGraph, ix: Ix, is_real_head: bool) -> Self {
        let rev = g.rev(ix);
        let ids = |ixs: &[Ix]| ixs.iter().map(|&i| g.id(i)).collect();
        RevisionView {
            revision: &rev.id,
            parents: ids(g.parents(ix)),
            children: ids(g.children(ix)),
            depends_on: &rev.depends_on,
            branch_labels: g.branch_labels(ix),
            message: if rev.origin.ends_with(".py") {
                crate::script::alembic_doc(&rev.message)
            } else {
                &rev.message
            },
            long_message: &rev.message,
            is_head: g.is_head(ix),
            is_real_head,
            is_base: g.is_base(ix),
            is_branchpoint: g.is_branchpoint(ix),
            is_mergepoint: g.is_mergepoint(ix),
            file: &rev.origin,
        }
    }

    /// Views of several revisions, in the given order. O(N + E) overall.
    pub fn list(g: &'g RevisionGraph, ixs: &[Ix]) -> Vec<Self> {
        let mut real = vec![false; g.len()];
        for &h in g.real_heads() {
            real[h] = true;
        }
        ixs.iter()
            .map(|&ix| RevisionView::with_real_head(g, ix, real[ix]))
            .collect()
    }

    /// `<base>` or the comma-separated parents (Alembic's
    /// `_format_down_revision`).
    pub fn down(&self) -> String {
        let mut text = String::new();
        self.push_down(&mut text);
        text
    }

    /// [`Self::down`], appended to `text`.
    fn push_down(&self, text: &mut String) {
        if self.parents.is_empty() {
            text.push_str("<base>");
        } else {
            push_joined(text, &self.parents);
        }
    }

    /// Alembic's one-line form (`Script._head_only`).
    pub fn line(&self, opts: LineOpts) -> String {
        let mut text = String::new();
        self.push_line(&mut text, opts);
        text
    }

    /// [`Self::line`], appended to `text`.
    pub fn push_line(&self, text: &mut String, opts: LineOpts) {
        if opts.parents {
            self.push_down(text);
            if !self.depends_on.is_empty() {
                text.push_str(" (");
                push_joined(text, self.depends_on);
                text.push(')');
            }
            text.push_str(" -> ");
        }
        text.push_str(self.revision);
        if opts.labels && !self.branch_labels.is_empty() {
            text.push_str(" (");
            push_joined(text, self.branch_labels);
            text.push(')');
        }
        if self.is_real_head {
            text.push_str(" (head)");
        } else if self.is_head {
            text.push_str(" (effective head)");
        }
        if opts.tree {
            if self.is_branchpoint {
                text.push_str(" (branchpoint)");
            }
            if self.is_mergepoint {
                text.push_str(" (mergepoint)");
            }
        }
        if opts.message {
            text.push_str(", ");
            // Alembic's one-line form shows `Script.doc`: the docstring's
            // whole first paragraph, line breaks and all.
            text.push_str(if self.file.ends_with(".py") {
                self.message
            } else {
                first_line(self.message)
            });
        }
    }

    /// Alembic's multi-line form (`Script.log_entry`), ending in a newline.
    pub fn entry(&self) -> String {
        self.entry_with(EntryOpts::default())
    }

    /// [`Self::entry`] with the extra marks of `opts`.
    pub fn entry_with(&self, opts: EntryOpts) -> String {
        let mut e = format!("Rev: {}", self.revision);
        if self.is_head {
            e.push_str(" (head)");
        }
        if self.is_branchpoint {
            e.push_str(" (branchpoint)");
        }
        if self.is_mergepoint {
            e.push_str(" (mergepoint)");
        }
        if !self.is_head && opts.mark_not_head {
            // Alembic marks heads only; `current --verbose` says it plainly.
            e.push_str(" (not a head)");
        }
        e.push('\n');
        let key = if self.is_mergepoint {
            "Merges"
        } else {
            "Parent"
        };
        e.push_str(&format!("{key}: {}\n", self.down()));
        if !self.depends_on.is_empty() {
            e.push_str(&format!(
                "Also depends on: {}\n",
                self.depends_on.join(", ")
            ));
        }
        if self.is_branchpoint {
            e.push_str(&format!("Branches into: {}\n", self.children.join(", ")));
        }
        if !self.branch_labels.is_empty() {
            e.push_str(&format!(
                "Branch names: {}\n",
                self.branch_labels.join(", ")
            ));
        }
        e.push_str(&format!("Path: {}\n\n", shown_path(self.file)));
        for line in self.long_message.lines() {
            e.push_str(&format!("    {line}\n"));
        }
        if self.long_message.is_empty() {
            // Alembic's "\n%s\n" around the (empty) indented docstring.
            e.push('\n');
        }
        e
    }
}

/// What `Path:` shows. An Alembic revision (`.py`): what Alembic prints,
/// the absolute path with `.` and `..` resolved lexically, as Python's
/// `os.path.abspath` does (symlinks kept). A native file: as reached.
fn shown_path(file: &str) -> std::borrow::Cow<'_, str> {
    use std::path::{Component, PathBuf};
    if !file.ends_with(".py") {
        return file.into();
    }
    let joined = match std::env::current_dir() {
        Ok(cwd) => cwd.join(file),
        Err(_) => return file.into(),
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                }
            }
            other => out.push(other),
        }
    }
    out.display().to_string().into()
}

/// The first line of a revision message: what one-line output shows (as
/// Alembic does); `show`, `--verbose` and JSON keep the whole text.
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

/// `a, b, c`.
fn push_joined<S: AsRef<str>>(text: &mut String, items: &[S]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(item.as_ref());
    }
}

/// Which parts of [`RevisionView::line`] to include.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineOpts {
    /// `parents -> id` in front.
    pub parents: bool,
    /// `(label, ...)` after the id.
    pub labels: bool,
    /// `(branchpoint)` / `(mergepoint)`.
    pub tree: bool,
    /// `, message` at the end.
    pub message: bool,
}

/// Extra marks for [`RevisionView::entry_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryOpts {
    /// ` (not a head)` at the end of the first line when it is not a head.
    pub mark_not_head: bool,
}
