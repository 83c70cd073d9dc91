//! The order of the changes: one topological sort (Kahn's algorithm) over
//! edges derived from both sides' dependency edges, ties broken by a rank
//! per kind of change (drops of views and constraints first, then types,
//! sequences, tables, functions, constraints, indexes, views, triggers,
//! comments, grants, and the drops of what columns used to reference last).
//! A cycle never hangs: the lowest-ranked waiting change goes next.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::change::{Change, Changes, TableOp};
use crate::schema::model::{Catalog, ConstraintKind, Dependency, Object, ObjectId, QualName};

/// The indexes of `changes.list` in the order to run them.
/// `from_edges` is `ordering_edges(from)` (the changes' computation needs
/// them too: computed once).
pub fn order(
    changes: &Changes,
    from: &Catalog,
    from_edges: &[Edge<'_>],
    to: &Catalog,
) -> Vec<usize> {
    let list = &changes.list;
    let mut graph = Graph::new(list.len());
    let mut by_subject: BTreeMap<ObjectId, Vec<usize>> = BTreeMap::new();
    let mut drops: BTreeMap<ObjectId, Vec<usize>> = BTreeMap::new();
    for (i, c) in list.iter().enumerate() {
        let subject = c.subject();
        if let Some(&prev) = by_subject.get(&subject).and_then(|v| v.last()) {
            graph.edge(prev, i);
        }
        by_subject.entry(subject.clone()).or_default().push(i);
        if matches!(c, Change::Drop { .. }) {
            drops.entry(subject).or_default().push(i);
        }
    }
    let is_drop = |i: usize| matches!(list[i], Change::Drop { .. });
    let structural = |i: usize| {
        matches!(
            list[i],
            Change::Create { .. }
                | Change::Replace { .. }
                | Change::Table { .. }
                | Change::Domain { .. }
                | Change::Composite { .. }
                | Change::EnumAddValue { .. }
                | Change::AlterSequence { .. }
                | Change::ExtensionSchema { .. }
        )
    };
    let none = Vec::new();
    for (dependent, referenced) in from_edges {
        let referenced = referenced.as_ref();
        // Nothing to order for a dependent without changes (its drops are
        // among its changes): skips the look-ups for most edges.
        let Some(dep_changes) = by_subject.get(*dependent) else {
            continue;
        };
        for &d in drops.get(*dependent).unwrap_or(&none) {
            // A dependent goes before what it needs goes or changes.
            for &r in by_subject.get(referenced).unwrap_or(&none) {
                if !is_drop(r) || drops.contains_key(referenced) {
                    graph.edge(d, r);
                }
            }
        }
        // A survivor stops using an object before that object is dropped.
        // (A recreated dependent already stopped, with its drop.)
        let recreated = drops.contains_key(*dependent);
        if to.objects.contains_key(*dependent) && !recreated && !to.objects.contains_key(referenced)
        {
            for &c in dep_changes.iter().filter(|&&c| !is_drop(c)) {
                for &r in drops.get(referenced).unwrap_or(&none) {
                    graph.edge(c, r);
                }
            }
        }
    }
    for (dependent, referenced) in ordering_edges(to) {
        let Some(dep_changes) = by_subject.get(dependent) else {
            continue;
        };
        let needed: Vec<usize> = by_subject
            .get(referenced.as_ref())
            .unwrap_or(&none)
            .iter()
            .copied()
            .filter(|&r| structural(r))
            .collect();
        for &c in dep_changes.iter().filter(|&&c| !is_drop(c)) {
            for &r in &needed {
                graph.edge(r, c);
            }
        }
    }
    owned_by_after_table(list, &by_subject, &mut graph);
    name_freed_before_reuse(list, &mut graph);
    released_before_old_owner(list, from, &by_subject, &mut graph);
    for &(a, b) in &changes.before {
        graph.edge(a, b);
    }
    graph.sort(|i| rank(&list[i], to))
}

/// Tables, views, sequences, indexes and composite types share one name
/// space per schema (`pg_class`; tables, views and types also `pg_type`):
/// an object dropped runs before an object of another kind created under
/// its name (a sequence `x` becoming a table `x`).
fn name_freed_before_reuse(list: &[Change], graph: &mut Graph) {
    let relation_name = |id: &ObjectId| match id {
        ObjectId::Table { name }
        | ObjectId::View { name }
        | ObjectId::Sequence { name }
        | ObjectId::Index { name }
        | ObjectId::Type { name } => Some(name.clone()),
        _ => None,
    };
    let mut dropped: BTreeMap<QualName, Vec<(usize, ObjectId)>> = BTreeMap::new();
    for (i, c) in list.iter().enumerate() {
        if let Change::Drop { object, .. } = c {
            let id = object.id();
            if let Some(name) = relation_name(&id) {
                dropped.entry(name).or_default().push((i, id));
            }
        }
    }
    for (i, c) in list.iter().enumerate() {
        let Change::Create { object, .. } = c else {
            continue;
        };
        let id = object.id();
        let Some(name) = relation_name(&id) else {
            continue;
        };
        for (d, other) in dropped.get(&name).into_iter().flatten() {
            if *other != id {
                graph.edge(*d, i);
            }
        }
    }
}

/// `OWNED BY` a column runs after every structural change of that table.
fn owned_by_after_table(
    list: &[Change],
    by_subject: &BTreeMap<ObjectId, Vec<usize>>,
    graph: &mut Graph,
) {
    for (i, c) in list.iter().enumerate() {
        if let Change::OwnedBy {
            owner: Some((table, _)),
            ..
        } = c
        {
            let id = ObjectId::Table {
                name: table.clone(),
            };
            for &t in by_subject.get(&id).into_iter().flatten() {
                if matches!(list[t], Change::Create { .. } | Change::Table { .. }) {
                    graph.edge(t, i);
                }
            }
        }
    }
}

/// `OWNED BY NONE` runs before the old owning table changes or goes
/// (dropping the column or table would drop the sequence with it).
fn released_before_old_owner(
    list: &[Change],
    from: &Catalog,
    by_subject: &BTreeMap<ObjectId, Vec<usize>>,
    graph: &mut Graph,
) {
    for (i, c) in list.iter().enumerate() {
        let Change::OwnedBy {
            owner: None,
            sequence,
        } = c
        else {
            continue;
        };
        let id = ObjectId::Sequence {
            name: sequence.clone(),
        };
        let Some(Object::Sequence(s)) = from.get(&id) else {
            continue;
        };
        if let Some((table, _)) = &s.owned_by {
            let table = ObjectId::Table {
                name: table.clone(),
            };
            for &t in by_subject.get(&table).into_iter().flatten() {
                if matches!(list[t], Change::Drop { .. } | Change::Table { .. }) {
                    graph.edge(i, t);
                }
            }
        }
    }
}

/// The catalog's edges plus those the model implies (a constraint on its
/// table, a foreign key on the table it references, a partition on its
/// parent), without a sequence's edge to the column that owns it (that
/// one is `OWNED BY`, ordered on its own, and would make a cycle with the
/// column's `nextval` default).
/// A dependency edge between two objects of one catalog: (dependent,
/// referenced). The referenced side is borrowed from the catalog when it
/// can be (most edges): tens of thousands of them on a large schema.
pub type Edge<'a> = (&'a ObjectId, Cow<'a, ObjectId>);

pub fn ordering_edges(catalog: &Catalog) -> Vec<Edge<'_>> {
    let mut out = Vec::new();
    let relation = |name: &QualName| -> Cow<'_, ObjectId> {
        let table = ObjectId::Table { name: name.clone() };
        Cow::Owned(if catalog.objects.contains_key(&table) {
            table
        } else {
            ObjectId::View { name: name.clone() }
        })
    };
    for d in &catalog.depends {
        // Only a sequence's edge to a table can be OWNED BY: the others
        // need no look-up.
        let owned = match (&d.dependent, &d.referenced) {
            (ObjectId::Sequence { .. }, ObjectId::Table { name }) => {
                match catalog.get(&d.dependent) {
                    Some(Object::Sequence(s)) => {
                        s.owned_by.as_ref().is_some_and(|(t, _)| t == name)
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if !owned && d.dependent != d.referenced {
            out.push((&d.dependent, Cow::Borrowed(&d.referenced)));
        }
    }
    for (id, object) in &catalog.objects {
        let mut refs = Vec::new();
        match object {
            Object::Constraint(c) => {
                refs.push(relation(&c.table));
                refs.extend(c.references.iter().map(relation));
                // A foreign key needs the referenced table's key to stay.
                if let Some(target) = &c.references {
                    refs.extend(keys_of(catalog, target));
                }
            }
            Object::Index(i) => refs.push(relation(&i.table)),
            Object::Trigger(t) => refs.push(relation(&t.table)),
            Object::Policy(p) => refs.push(relation(&p.table)),
            Object::Table(t) => {
                refs.extend(t.partition_of.iter().map(|(p, _)| relation(p)));
                refs.extend(t.inherits.iter().map(relation));
            }
            _ => {}
        }
        if let Some(schema) = id.schema() {
            refs.push(Cow::Owned(ObjectId::Schema {
                name: schema.to_string(),
            }));
        }
        if let Object::Extension(e) = object {
            refs.push(Cow::Owned(ObjectId::Schema {
                name: e.schema.clone(),
            }));
        }
        out.extend(
            refs.into_iter()
                .filter(|r| r.as_ref() != id && catalog.objects.contains_key(r.as_ref()))
                .map(|r| (id, r)),
        );
    }
    out
}

/// The primary key and unique constraints of a table.
fn keys_of<'a>(catalog: &'a Catalog, table: &QualName) -> Vec<Cow<'a, ObjectId>> {
    let start = ObjectId::Constraint {
        table: table.clone(),
        name: String::new(),
    };
    catalog
        .objects
        .range(start..)
        .take_while(|(id, _)| matches!(id, ObjectId::Constraint { table: t, .. } if t == table))
        .filter(|(_, o)| {
            matches!(o, Object::Constraint(k)
                if matches!(k.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique))
        })
        .map(|(id, _)| Cow::Borrowed(id))
        .collect()
}

/// The tie-breaking rank of a change (lower runs first).
fn rank(change: &Change, to: &Catalog) -> u8 {
    match change {
        Change::Create { object, .. } => match object {
            Object::Schema(_) => 0,
            Object::Extension(_) => 1,
            // Before the types and tables whose columns use it.
            Object::Collation(_) => 7,
            Object::Type(_) => 8,
            Object::Sequence(_) => 9,
            Object::Table(_) => 10,
            // After views: a SQL function's body may read one, and
            // pg_depend does not record it (a view using a function does).
            Object::Function(_) => 17,
            Object::Constraint(c) if c.kind == ConstraintKind::ForeignKey => 14,
            Object::Constraint(_) | Object::Index(_) => 13,
            Object::View(_) => 16,
            Object::Trigger(_) | Object::Policy(_) => 18,
        },
        Change::Drop {
            object, recreate, ..
        } => match object {
            Object::Trigger(_) | Object::Policy(_) => 3,
            Object::Constraint(c) if c.kind == ConstraintKind::ForeignKey => 3,
            Object::Constraint(_) => 4,
            Object::View(_) | Object::Index(_) => 5,
            Object::Function(_) if *recreate => 5,
            Object::Table(_) => 6,
            Object::Function(_) => 30,
            Object::Sequence(_) => 31,
            Object::Type(_) => 32,
            Object::Collation(_) => 33,
            Object::Extension(_) => 33,
            Object::Schema(_) => 34,
        },
        Change::ExtensionUpdate { .. } | Change::ExtensionSchema { .. } => 1,
        Change::OwnedBy { owner: None, .. } => 2,
        Change::EnumAddValue { .. } | Change::RenameType { .. } => 7,
        Change::Domain { .. } | Change::Composite { .. } => 8,
        Change::AlterSequence { .. } => 9,
        Change::Table { op, table } => match op {
            TableOp::Detach { .. } | TableOp::NoInherit(_) => 6,
            _ if to.table(table).is_none() => 6,
            _ => 11,
        },
        Change::Replace { object, .. } => match object {
            Object::View(_) => 16,
            _ => 17,
        },
        Change::Validate { .. } => 15,
        Change::TriggerEnabled { .. } | Change::AlterPolicy { .. } => 18,
        Change::OwnedBy { .. } => 18,
        Change::Comment { .. } => 19,
        Change::Grant { .. } | Change::Revoke { .. } => 20,
        Change::Depends { .. } => 11,
    }
}

/// A small DAG over change indexes with a deterministic, cycle-tolerant
/// topological sort.
struct Graph {
    after: Vec<Vec<usize>>,
    indegree: Vec<usize>,
}

impl Graph {
    fn new(n: usize) -> Graph {
        Graph {
            after: vec![Vec::new(); n],
            indegree: vec![0; n],
        }
    }

    fn edge(&mut self, a: usize, b: usize) {
        if a != b {
            self.after[a].push(b);
            self.indegree[b] += 1;
        }
    }

    fn sort(mut self, rank: impl Fn(usize) -> u8) -> Vec<usize> {
        let n = self.after.len();
        let mut done = vec![false; n];
        let mut ready: BinaryHeap<Reverse<(u8, usize)>> = (0..n)
            .filter(|&i| self.indegree[i] == 0)
            .map(|i| Reverse((rank(i), i)))
            .collect();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let next = match ready.pop() {
                Some(Reverse((_, i))) if done[i] => continue,
                Some(Reverse((_, i))) => i,
                // A cycle: take the lowest-ranked change still waiting.
                None => match (0..n).filter(|&i| !done[i]).min_by_key(|&i| (rank(i), i)) {
                    Some(i) => i,
                    None => break,
                },
            };
            done[next] = true;
            out.push(next);
            for j in std::mem::take(&mut self.after[next]) {
                self.indegree[j] = self.indegree[j].saturating_sub(1);
                if self.indegree[j] == 0 && !done[j] {
                    ready.push(Reverse((rank(j), j)));
                }
            }
        }
        out
    }
}

/// The outgoing dependency edges of `id` in `catalog`.
pub fn edges_of(catalog: &Catalog, id: &ObjectId) -> Vec<Dependency> {
    edges_from(catalog, id).cloned().collect()
}

/// [`edges_of`] borrowed: comparing two sides' edges needs no copies.
pub fn edges_from<'a>(
    catalog: &'a Catalog,
    id: &'a ObjectId,
) -> impl Iterator<Item = &'a Dependency> + 'a {
    // Edges sort by dependent first: one range, not a scan of them all.
    let first = Dependency {
        dependent: id.clone(),
        referenced: ObjectId::Schema {
            name: String::new(),
        },
        column: None,
    };
    catalog
        .depends
        .range(first..)
        .take_while(move |d| &d.dependent == id)
}
