//! `mergepoint graph`: the revision graph as Graphviz dot or Mermaid.

use crate::cli::view::{first_line, RevisionView};
use crate::cli::{CliResult, Ctx};
use crate::graph::RevisionGraph;
use clap::{Args, ValueEnum};
use serde::Serialize;

pub const AFTER_HELP: &str = "\
Parents point to their children (oldest at the top). Heads are green,
merge points blue, branch points orange; branch labels are shown in the
node; depends_on edges are dashed.

Examples:
  mergepoint graph | dot -Tsvg > revisions.svg
  mergepoint graph --format mermaid > docs/revisions.mmd
  mergepoint graph --format mermaid    paste into a ```mermaid block in Markdown
  mergepoint graph --json              nodes and edges as data";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz dot.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Print nodes and edges as a JSON object instead (see docs/json.md).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// The graph as data: every revision (oldest first) and every edge.
#[derive(Debug, Serialize)]
pub struct GraphView<'g> {
    pub revisions: Vec<RevisionView<'g>>,
    pub edges: Vec<EdgeView>,
}

/// An edge from a parent (or dependency) to the revision built on it.
#[derive(Debug, Serialize)]
pub struct EdgeView {
    pub from: String,
    pub to: String,
    /// `parent` or `depends_on`.
    pub kind: &'static str,
}

fn edges(g: &RevisionGraph, order: &[usize]) -> Vec<EdgeView> {
    let mut out = Vec::new();
    for &ix in order {
        for &p in g.parents(ix) {
            out.push(EdgeView {
                from: g.id(p).to_string(),
                to: g.id(ix).to_string(),
                kind: "parent",
            });
        }
        for &d in g.dependencies(ix) {
            out.push(EdgeView {
                from: g.id(d).to_string(),
                to: g.id(ix).to_string(),
                kind: "depends_on",
            });
        }
    }
    out
}

pub fn run(ctx: &mut Ctx, args: GraphArgs) -> CliResult {
    let ws = ctx.workspace()?;
    let g = &ws.graph;
    // Oldest first reads best top to bottom: reverse history order.
    let mut order = g.history(None)?;
    order.reverse();
    if args.json {
        let view = GraphView {
            revisions: RevisionView::list(g, &order),
            edges: edges(g, &order),
        };
        return ctx.json(&view);
    }
    let text = match args.format {
        GraphFormat::Dot => dot(g, &order),
        GraphFormat::Mermaid => mermaid(g, &order),
    };
    ctx.out.write_all(text.as_bytes())?;
    Ok(())
}

/// The node's caption lines: id with labels, then the message.
fn caption(v: &RevisionView) -> (String, String) {
    let mut first = v.revision.to_string();
    if !v.branch_labels.is_empty() {
        first.push_str(&format!(" ({})", v.branch_labels.join(", ")));
    }
    (first, first_line(v.message).to_string())
}

fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Graphviz: node ids are the quoted revision ids.
pub fn dot(g: &RevisionGraph, order: &[usize]) -> String {
    let mut s = String::from(
        "digraph revisions {\n  rankdir=TB;\n  node [shape=box, style=\"rounded\", fontname=\"Helvetica\"];\n",
    );
    for v in RevisionView::list(g, order) {
        let (first, msg) = caption(&v);
        let mut attrs = format!("label=\"{}\\n{}\"", dot_escape(&first), dot_escape(&msg));
        let fill = if v.is_head {
            Some("#c8e6c9")
        } else if v.is_mergepoint {
            Some("#bbdefb")
        } else if v.is_branchpoint {
            Some("#ffe0b2")
        } else {
            None
        };
        if let Some(color) = fill {
            attrs.push_str(&format!(
                ", style=\"rounded,filled\", fillcolor=\"{color}\""
            ));
        }
        if v.is_head {
            attrs.push_str(", penwidth=2");
        }
        s.push_str(&format!("  \"{}\" [{attrs}];\n", dot_escape(v.revision)));
    }
    for &ix in order {
        for &p in g.parents(ix) {
            s.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                dot_escape(g.id(p)),
                dot_escape(g.id(ix))
            ));
        }
        for &d in g.dependencies(ix) {
            s.push_str(&format!(
                "  \"{}\" -> \"{}\" [style=dashed, label=\"depends on\"];\n",
                dot_escape(g.id(d)),
                dot_escape(g.id(ix))
            ));
        }
    }
    s.push_str("}\n");
    s
}

fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Mermaid: node ids are `r<index>` (revision ids may hold characters
/// Mermaid does not accept in ids); the caption carries the real id.
pub fn mermaid(g: &RevisionGraph, order: &[usize]) -> String {
    let mut s = String::from("flowchart TD\n");
    let mut heads = Vec::new();
    let mut merges = Vec::new();
    let mut branches = Vec::new();
    for (&ix, v) in order.iter().zip(RevisionView::list(g, order)) {
        let (first, msg) = caption(&v);
        s.push_str(&format!(
            "  r{ix}[\"{}<br/>{}\"]\n",
            mermaid_escape(&first),
            mermaid_escape(&msg)
        ));
        if v.is_head {
            heads.push(format!("r{ix}"));
        } else if v.is_mergepoint {
            merges.push(format!("r{ix}"));
        } else if v.is_branchpoint {
            branches.push(format!("r{ix}"));
        }
    }
    for &ix in order {
        for &p in g.parents(ix) {
            s.push_str(&format!("  r{p} --> r{ix}\n"));
        }
        for &d in g.dependencies(ix) {
            s.push_str(&format!("  r{d} -.->|depends on| r{ix}\n"));
        }
    }
    s.push_str("  classDef head fill:#c8e6c9,stroke:#2e7d32,stroke-width:2px\n");
    s.push_str("  classDef merge fill:#bbdefb,stroke:#1565c0\n");
    s.push_str("  classDef branch fill:#ffe0b2,stroke:#ef6c00\n");
    for (class, members) in [("head", heads), ("merge", merges), ("branch", branches)] {
        if !members.is_empty() {
            s.push_str(&format!("  class {} {class}\n", members.join(",")));
        }
    }
    s
}
