//! The identifier grammar (Alembic's) and its resolution.
//!
//! Forms: a full id, a unique prefix of an id or label, `head`, `heads`,
//! `base`, a branch label, `label@head`, `label@heads`, `label@base`,
//! `label@rev`, and relative walks `+N`, `-N`, `rev+N`, `rev-N`,
//! `label@+N`, `label@rev-N`. Resolution follows Alembic's `RevisionMap`
//! (`get_revisions`, `_walk`), except that where Alembic guesses we refuse
//! and list the candidates. What a target means relative to the applied
//! rows (`upgrade +1`, `downgrade -1`) is in [`super::target`].

use super::{Ix, LookedUp, ResolveError, RevisionGraph};

/// A parsed identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ident {
    /// `base`, `label@base`
    Base { branch: Option<String> },
    /// `heads`, `label@heads`
    Heads { branch: Option<String> },
    /// `head`, `label@head`
    Head { branch: Option<String> },
    /// A full id, id prefix or branch label; `label@rev`.
    Rev { branch: Option<String>, rev: String },
    /// `+N`, `-N`, `rev+N`, `rev-N`, `label@+N`, `label@rev-N`.
    Relative {
        branch: Option<String>,
        anchor: Option<String>,
        steps: i64,
    },
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Parses the relative form: Alembic's `(?:(.+?)@)?(\w+)?((?:\+|-)\d+)`,
/// matched against the whole identifier.
fn parse_relative(s: &str) -> Option<Result<Ident, ResolveError>> {
    let (branch, rest) = match s.rfind('@') {
        Some(0) => return None,
        Some(at) => (Some(&s[..at]), &s[at + 1..]),
        None => (None, s),
    };
    let sign = rest.find(['+', '-'])?;
    let (anchor, number) = (&rest[..sign], &rest[sign..]);
    if !(anchor.is_empty() || is_word(anchor)) {
        return None;
    }
    let digits = &number[1..];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let steps = match number.parse::<i64>() {
        Ok(n) => n,
        Err(_) => return Some(Err(ResolveError::invalid(s, "the step count is too large"))),
    };
    Some(Ok(Ident::Relative {
        branch: branch.map(str::to_string),
        anchor: (!anchor.is_empty()).then(|| anchor.to_string()),
        steps,
    }))
}

/// Parses an identifier without resolving it.
pub fn parse_ident(s: &str) -> Result<Ident, ResolveError> {
    if s.is_empty() {
        return Err(ResolveError::invalid(s, "it is empty"));
    }
    if s.chars().any(char::is_whitespace) {
        return Err(ResolveError::invalid(s, "it contains white space"));
    }
    if s.contains(':') {
        return Err(ResolveError::invalid(
            s,
            "a range FROM:TO is not allowed here",
        ));
    }
    if let Some(rel) = parse_relative(s) {
        return rel;
    }
    let (branch, rest) = match s.split_once('@') {
        Some((b, r)) => {
            if b.is_empty() || r.is_empty() {
                return Err(ResolveError::invalid(
                    s,
                    "expected LABEL@REV, LABEL@head or LABEL@base",
                ));
            }
            (Some(b.to_string()), r)
        }
        None => (None, s),
    };
    if rest.contains('@') {
        return Err(ResolveError::invalid(s, "more than one '@'"));
    }
    if rest.contains(['+', '-']) {
        return Err(ResolveError::invalid(
            s,
            "a relative step is written +N or -N after the revision (e.g. ae1027+2)",
        ));
    }
    Ok(match rest {
        "base" => Ident::Base { branch },
        "heads" => Ident::Heads { branch },
        "head" => Ident::Head { branch },
        _ => Ident::Rev {
            branch,
            rev: rest.to_string(),
        },
    })
}

/// Where a walk starts or ends. `Nothing` is "below the bases" as a start
/// (walk up from the bases, down from the heads); `Base` is the point below
/// every base revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pos {
    Nothing,
    Base,
    Rev(Ix),
}

impl RevisionGraph {
    /// Resolves an identifier that must name at most one revision
    /// (Alembic's `get_revision`). `None` means base.
    pub fn resolve_one(&self, ident: &str) -> Result<Option<Ix>, ResolveError> {
        let parsed = parse_ident(ident)?;
        if let Ident::Heads { .. } = parsed {
            let heads = self.resolve_many(ident)?;
            if heads.len() > 1 {
                return Err(ResolveError::MultipleHeads {
                    ident: ident.to_string(),
                    heads: self.ids(&heads),
                });
            }
            return Ok(heads.first().copied());
        }
        match parsed {
            Ident::Base { branch } => {
                if let Some(b) = branch {
                    self.resolve_branch(&b)?;
                }
                Ok(None)
            }
            Ident::Head { branch } => self.current_head(branch.as_deref()),
            Ident::Rev { branch, rev } => {
                self.revision_for_ident(&rev, branch.as_deref()).map(Some)
            }
            Ident::Relative { .. } => {
                let found = self.resolve_many(ident)?;
                match found.as_slice() {
                    [] => Ok(None),
                    [one] => Ok(Some(*one)),
                    _ => Err(ResolveError::MultipleHeads {
                        ident: ident.to_string(),
                        heads: self.ids(&found),
                    }),
                }
            }
            Ident::Heads { .. } => unreachable!("handled above"),
        }
    }

    /// Resolves an identifier that may name several revisions (Alembic's
    /// `get_revisions`): `heads` gives every head; `base` gives none.
    pub fn resolve_many(&self, ident: &str) -> Result<Vec<Ix>, ResolveError> {
        match parse_ident(ident)? {
            Ident::Base { branch } => {
                if let Some(b) = branch {
                    self.resolve_branch(&b)?;
                }
                Ok(Vec::new())
            }
            Ident::Heads { branch: None } => Ok(self.real_heads().to_vec()),
            Ident::Heads { branch: Some(b) } => self.filter_for_lineage(self.heads(), &b),
            Ident::Head { branch } => {
                Ok(self.current_head(branch.as_deref())?.into_iter().collect())
            }
            Ident::Rev { branch, rev } => {
                Ok(vec![self.revision_for_ident(&rev, branch.as_deref())?])
            }
            Ident::Relative {
                branch,
                anchor: None,
                steps,
            } if steps < 0 => {
                // `-N` / `label@-N`: walk down from each head.
                let heads: Vec<Ix> = self
                    .real_heads()
                    .iter()
                    .copied()
                    .filter(|&h| {
                        branch
                            .as_ref()
                            .is_none_or(|b| self.branch_labels(h).contains(b))
                    })
                    .collect();
                let mut out = Vec::new();
                for h in heads {
                    match self.walk(ident, Pos::Rev(h), steps, None)? {
                        Some(Pos::Rev(ix)) => {
                            if !out.contains(&ix) {
                                out.push(ix)
                            }
                        }
                        Some(_) | None => {
                            return Err(ResolveError::WalkedTooFar {
                                ident: ident.to_string(),
                                end: "base",
                            })
                        }
                    }
                }
                Ok(out)
            }
            Ident::Relative {
                anchor: None,
                steps: 0,
                ..
            } => Err(ResolveError::ZeroStep {
                ident: ident.to_string(),
            }),
            Ident::Relative {
                branch,
                anchor,
                steps,
            } => {
                let start = match &anchor {
                    Some(a) => self.anchor_pos(a, branch.as_deref())?,
                    None => Pos::Nothing,
                };
                let walk_branch = if steps > 0 { branch.as_deref() } else { None };
                match self.walk(ident, start, steps, walk_branch)? {
                    Some(Pos::Rev(ix)) => Ok(vec![ix]),
                    Some(_) => Ok(Vec::new()),
                    None => Err(ResolveError::WalkedTooFar {
                        ident: ident.to_string(),
                        end: if steps > 0 { "heads" } else { "base" },
                    }),
                }
            }
        }
    }

    /// The revision a branch name refers to: a label, or else any revision
    /// identifier (Alembic's `_resolve_branch`).
    pub(crate) fn resolve_branch(&self, label: &str) -> Result<Ix, ResolveError> {
        if let Some(ix) = self.label_owner(label).or_else(|| self.find(label)) {
            return Ok(ix);
        }
        self.revision_for_ident(label, None)
            .map_err(|_| self.unknown_branch(label))
    }

    /// A branch name must match a label, an id, or at least a prefix.
    pub(super) fn check_branch_name(&self, name: &str) -> Result<(), ResolveError> {
        if self.label_owner(name).is_some()
            || self.find(name).is_some()
            || !self.prefix_matches(name).is_empty()
        {
            return Ok(());
        }
        Err(self.unknown_branch(name))
    }

    fn unknown_branch(&self, name: &str) -> ResolveError {
        let mut known_labels: Vec<String> = self.label_owner.keys().cloned().collect();
        known_labels.sort_unstable();
        ResolveError::Unknown {
            ident: name.to_string(),
            looked_up: LookedUp::BranchName { known_labels },
        }
    }

    /// Alembic's `filter_for_lineage`: keep the targets that are ancestors
    /// or descendants of the revision `branch` names.
    pub(super) fn filter_for_lineage(
        &self,
        targets: &[Ix],
        branch: &str,
    ) -> Result<Vec<Ix>, ResolveError> {
        let anchor = self.revision_for_ident(branch, None)?;
        let up = self.descendants(&[anchor]);
        let down = self.ancestors(&[anchor]);
        Ok(targets
            .iter()
            .copied()
            .filter(|&t| up[t] || down[t])
            .collect())
    }

    /// `head` / `label@head`: the single head (on that branch).
    fn current_head(&self, branch: Option<&str>) -> Result<Option<Ix>, ResolveError> {
        let heads = match branch {
            Some(b) => self.filter_for_lineage(self.heads(), b)?,
            None => self.heads().to_vec(),
        };
        if heads.len() > 1 {
            return Err(ResolveError::MultipleHeads {
                ident: match branch {
                    Some(b) => format!("{b}@head"),
                    None => "head".to_string(),
                },
                heads: self.ids(&heads),
            });
        }
        Ok(heads.first().copied())
    }

    /// A full id, a label, or a unique prefix of either (Alembic's
    /// `_revision_for_ident`), optionally required to be on `branch`.
    fn revision_for_ident(&self, ident: &str, branch: Option<&str>) -> Result<Ix, ResolveError> {
        let branch_rev = branch.map(|b| self.resolve_branch(b)).transpose()?;
        let exact = self.find(ident).or_else(|| self.label_owner(ident));
        let ix = match exact {
            Some(ix) => ix,
            None => {
                let mut candidates: Vec<(String, Ix)> = self.prefix_matches(ident);
                if let (Some(b), Some(_)) = (branch, branch_rev) {
                    let keep = self.filter_for_lineage(
                        &candidates.iter().map(|c| c.1).collect::<Vec<_>>(),
                        b,
                    )?;
                    candidates.retain(|c| keep.contains(&c.1));
                }
                match candidates.len() {
                    0 => {
                        return Err(ResolveError::Unknown {
                            ident: ident.to_string(),
                            looked_up: LookedUp::Revision,
                        })
                    }
                    1 => candidates[0].1,
                    _ => {
                        return Err(ResolveError::AmbiguousPrefix {
                            prefix: ident.to_string(),
                            candidates: candidates.into_iter().map(|c| c.0).collect(),
                        })
                    }
                }
            }
        };
        if let Some(anchor) = branch_rev {
            if !self.shares_lineage(ix, &[anchor]) {
                return Err(ResolveError::NotOnBranch {
                    revision: self.id(ix).to_string(),
                    label: branch.unwrap_or_default().to_string(),
                });
            }
        }
        Ok(ix)
    }

    /// Ids and labels longer than three characters that start with
    /// `prefix`, sorted (Alembic matches both).
    fn prefix_matches(&self, prefix: &str) -> Vec<(String, Ix)> {
        let ids = self.revs.iter().enumerate().map(|(i, r)| (&r.id, i));
        let labels = self.label_owner.iter().map(|(l, &i)| (l, i));
        let mut out: Vec<(String, Ix)> = ids
            .chain(labels)
            .filter(|(key, _)| key.len() > 3 && key.starts_with(prefix))
            .map(|(key, i)| (key.clone(), i))
            .collect();
        out.sort();
        out
    }

    /// The start of a walk anchored at `rev` (`rev+N`, `label@rev-N`).
    pub(super) fn anchor_pos(&self, rev: &str, branch: Option<&str>) -> Result<Pos, ResolveError> {
        let ident = match branch {
            Some(b) => format!("{b}@{rev}"),
            None => rev.to_string(),
        };
        // An anchor that resolves to no revision is base (`base-1`,
        // `label@base+2`): the point below every base revision, from which
        // nothing lies further down.
        Ok(match self.resolve_one(&ident)? {
            Some(ix) => Pos::Rev(ix),
            None => Pos::Base,
        })
    }

    /// Alembic's `_walk`: `steps` up (positive) or down (negative) from
    /// `start`. Up-walks may be restricted to a branch. Returns `None` when
    /// the walk runs off the graph; an ambiguous step is an error listing
    /// the candidates.
    pub(super) fn walk(
        &self,
        ident: &str,
        start: Pos,
        steps: i64,
        branch: Option<&str>,
    ) -> Result<Option<Pos>, ResolveError> {
        let mut at = start;
        for _ in 0..steps.unsigned_abs() {
            let next: Vec<Pos> = if steps > 0 {
                let up: Vec<Ix> = match at {
                    Pos::Nothing | Pos::Base => self.bases().to_vec(),
                    Pos::Rev(ix) => self.children(ix).to_vec(),
                };
                let up = match branch {
                    Some(b) => self.filter_for_lineage(&up, b)?,
                    None => up,
                };
                up.into_iter().map(Pos::Rev).collect()
            } else {
                match at {
                    Pos::Base => Vec::new(),
                    Pos::Nothing => self.heads().iter().map(|&h| Pos::Rev(h)).collect(),
                    Pos::Rev(ix) if self.parents(ix).is_empty() => vec![Pos::Base],
                    Pos::Rev(ix) => self.parents(ix).iter().map(|&p| Pos::Rev(p)).collect(),
                }
            };
            match next.as_slice() {
                [] => return Ok(None),
                [only] => at = *only,
                many => {
                    return Err(ResolveError::AmbiguousWalk {
                        ident: ident.to_string(),
                        from: self.describe_pos(at),
                        direction: if steps > 0 { "up" } else { "down" },
                        candidates: many.iter().map(|&p| self.describe_pos(p)).collect(),
                    })
                }
            }
        }
        Ok(Some(at))
    }

    pub(super) fn describe_pos(&self, pos: Pos) -> String {
        match pos {
            Pos::Nothing | Pos::Base => "base".to_string(),
            Pos::Rev(ix) => self.id(ix).to_string(),
        }
    }
}
