//! A generator of random valid catalogs for the property tests: a small
//! fixed universe of names (so that two random catalogs share objects),
//! every choice read from a byte string that proptest varies and shrinks.
//! Valid means what the reader would produce: every edge's ends exist, a
//! view reads columns its table has, a foreign key references a primary
//! key, an owned sequence's column exists.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::schema::model::*;

/// A cursor over the random bytes; past the end every choice is 0.
struct Dice<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Dice<'_> {
    fn below(&mut self, n: usize) -> usize {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b as usize % n.max(1)
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 1
    }
    fn maybe<T>(&mut self, value: T) -> Option<T> {
        self.coin().then_some(value)
    }
}

pub fn catalogs() -> impl Strategy<Value = Catalog> {
    prop::collection::vec(any::<u8>(), 300..500).prop_map(|bytes| build(&bytes))
}

const TYPES: &[&str] = &[
    "integer",
    "bigint",
    "text",
    "character varying(10)",
    "character varying(20)",
    "public.mood",
];
const LABELS: &[&str] = &["sad", "ok", "happy", "ecstatic"];
const ROLES: &[&str] = &["PUBLIC", "mergepoint_gen_role"];

fn q(schema: &str, name: &str) -> QualName {
    QualName::new(schema, name)
}

fn edge(catalog: &mut Catalog, dependent: ObjectId, referenced: ObjectId, column: Option<&str>) {
    catalog.depends.insert(Dependency {
        dependent,
        referenced,
        column: column.map(str::to_string),
    });
}

fn grants(d: &mut Dice, privileges: &[&str]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for role in ROLES {
        if d.below(3) == 0 {
            out.insert(Grant {
                grantee: role.to_string(),
                privilege: privileges[d.below(privileges.len())].to_string(),
                grantable: *role != "PUBLIC" && d.coin(),
            });
        }
    }
    out
}

pub fn build(bytes: &[u8]) -> Catalog {
    let d = &mut Dice { bytes, at: 0 };
    let mut c = Catalog::empty_database();
    let schemas = if d.coin() {
        vec!["public", "app"]
    } else {
        vec!["public"]
    };
    if schemas.len() == 2 {
        c.insert(Object::Schema(Namespace {
            name: "app".into(),
            comment: d.maybe("app's".into()),
            grants: grants(d, &["USAGE", "CREATE"]),
        }));
    }
    let mood = ObjectId::Type {
        name: q("public", "mood"),
    };
    let has_enum = d.coin();
    if has_enum {
        let labels: Vec<String> = LABELS
            .iter()
            .filter(|_| d.below(4) != 0)
            .map(|l| l.to_string())
            .collect();
        let labels = if labels.is_empty() {
            vec!["ok".to_string()]
        } else {
            labels
        };
        c.insert(Object::Type(TypeDef {
            name: q("public", "mood"),
            kind: TypeKind::Enum { labels },
            comment: d.maybe("feelings".into()),
            grants: BTreeSet::new(),
        }));
    }
    if d.coin() {
        let mut checks = BTreeMap::new();
        if d.coin() {
            checks.insert(
                "positive".to_string(),
                Expr::new(["CHECK ((VALUE > 0))", "CHECK ((VALUE > 1))"][d.below(2)]),
            );
        }
        c.insert(Object::Type(TypeDef {
            name: q("public", "posint"),
            kind: TypeKind::Domain {
                base: Expr::new("integer"),
                collation: None,
                default: d.maybe(Expr::new("1")),
                not_null: d.coin(),
                checks,
            },
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
    let mut tables = Vec::new();
    for schema in &schemas {
        for name in ["orders", "items", "Users"] {
            if d.below(3) != 0 {
                let t = table(d, &mut c, q(schema, name), has_enum, &mood);
                tables.push(t);
            }
        }
    }
    for t in &tables {
        decorate_table(d, &mut c, t);
    }
    foreign_keys(d, &mut c, &tables);
    sequences(d, &mut c, &tables);
    views(d, &mut c, &tables);
    functions(d, &mut c);
    composite(d, &mut c);
    triggers(d, &mut c, &tables);
    partitions(d, &mut c);
    c
}

fn composite(d: &mut Dice, c: &mut Catalog) {
    if d.coin() {
        return;
    }
    let mut attributes = Vec::new();
    for n in ["x", "y", "z"] {
        if d.below(3) != 0 {
            attributes.push(Attribute {
                name: n.to_string(),
                data_type: Expr::new(["integer", "text"][d.below(2)]),
                collation: None,
            });
        }
    }
    c.insert(Object::Type(TypeDef {
        name: q("public", "pair"),
        kind: TypeKind::Composite { attributes },
        comment: None,
        grants: grants(d, &["USAGE"]),
    }));
}

/// A trigger function and triggers using it, some disabled.
fn triggers(d: &mut Dice, c: &mut Catalog, tables: &[QualName]) {
    let audit = ObjectId::Function {
        name: q("public", "audit"),
        args: String::new(),
    };
    let mut any = false;
    for t in tables {
        if d.below(3) != 0 {
            continue;
        }
        any = true;
        let timing = ["BEFORE", "AFTER"][d.below(2)];
        let id = ObjectId::Trigger {
            table: t.clone(),
            name: "audit".into(),
        };
        c.insert(Object::Trigger(Trigger {
            table: t.clone(),
            name: "audit".into(),
            definition: Expr::new(format!(
                "CREATE TRIGGER audit {timing} INSERT ON {} FOR EACH ROW EXECUTE FUNCTION public.audit()",
                crate::schema::render::qual(t)
            )),
            enabled: ['O', 'D', 'A'][d.below(3)],
            comment: None,
        }));
        edge(c, id.clone(), ObjectId::Table { name: t.clone() }, None);
        edge(c, id, audit.clone(), None);
    }
    if any {
        c.insert(Object::Function(Function {
            name: q("public", "audit"),
            identity_args: String::new(),
            procedure: false,
            returns: Some(Expr::new("trigger")),
            language: "plpgsql".into(),
            definition: Expr::new("CREATE OR REPLACE FUNCTION public.audit()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$BEGIN RETURN NEW; END$function$\n"),
            comment: None,
            grants: BTreeSet::new(),
        }));
    }
}

/// A range-partitioned table with a partition whose bound varies.
fn partitions(d: &mut Dice, c: &mut Catalog) {
    if d.coin() {
        return;
    }
    let parent = q("public", "events");
    let column = |local| Column {
        name: "at".into(),
        data_type: Expr::new("integer"),
        collation: None,
        default: None,
        not_null: false,
        identity: None,
        generated: None,
        is_local: local,
        comment: None,
    };
    let table = |name: QualName, columns, by: Option<Expr>, of: Option<(QualName, Expr)>| Table {
        name,
        columns,
        unlogged: false,
        partition_by: by,
        partition_of: of,
        inherits: Vec::new(),
        options: Vec::new(),
        row_security: false,
        force_row_security: false,
        comment: None,
        grants: BTreeSet::new(),
    };
    c.insert(Object::Table(table(
        parent.clone(),
        vec![column(true)],
        Some(Expr::new("RANGE (at)")),
        None,
    )));
    if d.coin() {
        let bound = ["FOR VALUES FROM (0) TO (10)", "FOR VALUES FROM (0) TO (20)"][d.below(2)];
        let part = q("public", "events_1");
        c.insert(Object::Table(table(
            part.clone(),
            vec![column(false)],
            None,
            Some((parent.clone(), Expr::new(bound))),
        )));
        edge(
            c,
            ObjectId::Table { name: part },
            ObjectId::Table { name: parent },
            None,
        );
    }
}

fn table(
    d: &mut Dice,
    c: &mut Catalog,
    name: QualName,
    has_enum: bool,
    mood: &ObjectId,
) -> QualName {
    let id = ObjectId::Table { name: name.clone() };
    let mut columns = Vec::new();
    for col in ["id", "note", "status", "qty", "order"] {
        if col != "id" && d.below(3) == 0 {
            continue;
        }
        let mut ty = TYPES[d.below(TYPES.len())];
        if ty == "public.mood" && !has_enum {
            ty = "text";
        }
        if ty == "public.mood" {
            edge(c, id.clone(), mood.clone(), None);
        }
        let numeric = ty == "integer" || ty == "bigint";
        let identity = if numeric && d.below(4) == 0 {
            Some([Identity::Always, Identity::ByDefault][d.below(2)])
        } else {
            None
        };
        let default = match (identity, numeric, d.below(3)) {
            (None, true, 0) => Some(Expr::new("0")),
            (None, true, 1) => Some(Expr::new("1")),
            (None, false, 0) if ty != "public.mood" => Some(Expr::new("'x'::text")),
            _ => None,
        };
        columns.push(Column {
            name: col.to_string(),
            data_type: Expr::new(ty),
            collation: None,
            default,
            not_null: identity.is_some() || col == "id" || d.coin(),
            identity,
            generated: None,
            is_local: true,
            comment: d.maybe(format!("it's {col}")),
        });
    }
    c.insert(Object::Table(Table {
        name: name.clone(),
        columns,
        unlogged: d.below(4) == 0,
        partition_by: None,
        partition_of: None,
        inherits: Vec::new(),
        options: ["fillfactor=70", "autovacuum_enabled=false"]
            .iter()
            .filter(|_| d.below(3) == 0)
            .map(|o| o.to_string())
            .collect(),
        row_security: d.coin(),
        force_row_security: d.below(4) == 0,
        comment: d.maybe("a table".into()),
        grants: grants(d, &["SELECT", "INSERT", "UPDATE"]),
    }));
    name
}

/// Primary key, a check, an index, a trigger-free policy on one table.
fn decorate_table(d: &mut Dice, c: &mut Catalog, t: &QualName) {
    let table_id = ObjectId::Table { name: t.clone() };
    let Some(table) = c.table(t).cloned() else {
        return;
    };
    if d.below(3) != 0 {
        let con = Constraint {
            table: t.clone(),
            name: format!("{}_pkey", t.name),
            kind: ConstraintKind::PrimaryKey,
            definition: Expr::new("PRIMARY KEY (id)"),
            columns: vec!["id".into()],
            references: None,
            deferrable: false,
            initially_deferred: false,
            validated: true,
            is_local: true,
            comment: None,
        };
        let id = Object::Constraint(con.clone()).id();
        c.insert(Object::Constraint(con));
        edge(c, id, table_id.clone(), Some("id"));
    }
    if let Some(qty) = table
        .column("qty")
        .filter(|col| col.data_type.as_str() == "integer")
    {
        if d.coin() {
            let id = ObjectId::Constraint {
                table: t.clone(),
                name: "qty_positive".into(),
            };
            c.insert(Object::Constraint(Constraint {
                table: t.clone(),
                name: "qty_positive".into(),
                kind: ConstraintKind::Check,
                definition: Expr::new(["CHECK ((qty > 0))", "CHECK ((qty >= 0))"][d.below(2)]),
                columns: vec![],
                references: None,
                deferrable: false,
                initially_deferred: false,
                validated: d.below(4) != 0,
                is_local: true,
                comment: d.maybe("no negative".into()),
            }));
            edge(c, id, table_id.clone(), Some(&qty.name));
        }
    }
    if let Some(col) = table.columns.get(d.below(table.columns.len())) {
        if d.coin() {
            let name = q(&t.schema, &format!("{}_idx", t.name.to_lowercase()));
            let method = ["btree", "hash"][d.below(2)];
            c.insert(Object::Index(Index {
                name: name.clone(),
                table: t.clone(),
                definition: Expr::new(format!(
                    "CREATE INDEX {} ON {} USING {method} ({})",
                    crate::schema::render::ident(&name.name),
                    crate::schema::render::qual(t),
                    crate::schema::render::ident(&col.name)
                )),
                unique: false,
                method: method.into(),
                parent: None,
                comment: d.maybe("fast".into()),
            }));
            edge(
                c,
                ObjectId::Index { name },
                table_id.clone(),
                Some(&col.name),
            );
        }
    }
    if table.row_security && d.coin() {
        let using = ["true", "(id IS NOT NULL)"][d.below(2)];
        if using != "true" {
            let policy = ObjectId::Policy {
                table: t.clone(),
                name: "mine".into(),
            };
            edge(c, policy, table_id.clone(), Some("id"));
        }
        c.insert(Object::Policy(Policy {
            table: t.clone(),
            name: "mine".into(),
            permissive: d.below(4) != 0,
            command: ["ALL", "SELECT"][d.below(2)].into(),
            roles: vec![ROLES[d.below(2)].to_string()],
            using: Some(Expr::new(using)),
            with_check: None,
            comment: None,
        }));
    }
}

fn foreign_keys(d: &mut Dice, c: &mut Catalog, tables: &[QualName]) {
    for t in tables {
        let Some(target) = tables.get(d.below(tables.len())) else {
            return;
        };
        let pk = ObjectId::Constraint {
            table: target.clone(),
            name: format!("{}_pkey", target.name),
        };
        let ok_types = matches!((c.table(t).and_then(|x| x.column("qty")), c.table(target).and_then(|x| x.column("id"))),
            (Some(a), Some(b)) if a.data_type == b.data_type && a.data_type.as_str() == "integer");
        // PostgreSQL refuses a permanent table referencing an unlogged one.
        let unlogged =
            c.table(t).is_some_and(|x| x.unlogged) || c.table(target).is_some_and(|x| x.unlogged);
        if t == target || !c.objects.contains_key(&pk) || !ok_types || unlogged || !d.coin() {
            continue;
        }
        let id = ObjectId::Constraint {
            table: t.clone(),
            name: "qty_fkey".into(),
        };
        c.insert(Object::Constraint(Constraint {
            table: t.clone(),
            name: "qty_fkey".into(),
            kind: ConstraintKind::ForeignKey,
            definition: Expr::new(format!(
                "FOREIGN KEY (qty) REFERENCES {}(id)",
                crate::schema::render::qual(target)
            )),
            columns: vec!["qty".into()],
            references: Some(target.clone()),
            deferrable: false,
            initially_deferred: false,
            validated: true,
            is_local: true,
            comment: None,
        }));
        edge(
            c,
            id.clone(),
            ObjectId::Table { name: t.clone() },
            Some("qty"),
        );
        edge(
            c,
            id.clone(),
            ObjectId::Table {
                name: target.clone(),
            },
            Some("id"),
        );
        edge(c, id, pk, None);
    }
}

fn sequences(d: &mut Dice, c: &mut Catalog, tables: &[QualName]) {
    for name in ["counter", "ticket_seq"] {
        if d.coin() {
            continue;
        }
        let seq = q("public", name);
        let owner = tables
            .get(d.below(tables.len() + 1))
            .filter(|t| t.schema == "public" && c.table(t).and_then(|x| x.column("qty")).is_some())
            .map(|t| (t.clone(), "qty".to_string()));
        let id = ObjectId::Sequence { name: seq.clone() };
        if let Some((t, col)) = &owner {
            let table_id = ObjectId::Table { name: t.clone() };
            edge(c, id.clone(), table_id.clone(), Some(col));
            if let Some(Object::Table(table)) = c.objects.get_mut(&table_id) {
                if let Some(column) = table.columns.iter_mut().find(|x| {
                    &x.name == col && x.identity.is_none() && x.data_type.as_str() == "bigint"
                }) {
                    column.default = Some(Expr::new(format!("nextval('{name}'::regclass)")));
                    edge(c, table_id, id.clone(), None);
                }
            }
        }
        c.insert(Object::Sequence(Sequence {
            name: seq,
            data_type: "bigint".into(),
            start: 1,
            increment: [1, 2][d.below(2)],
            min_value: 1,
            max_value: i64::MAX,
            cache: 1,
            cycle: d.below(4) == 0,
            owned_by: owner,
            comment: d.maybe("numbers".into()),
            grants: grants(d, &["USAGE", "SELECT"]),
        }));
    }
}

fn views(d: &mut Dice, c: &mut Catalog, tables: &[QualName]) {
    let Some(t) = tables.get(d.below(tables.len())) else {
        return;
    };
    let Some(table) = c.table(t).cloned() else {
        return;
    };
    let columns: Vec<&Column> = table.columns.iter().filter(|_| d.coin()).collect();
    let columns = if columns.is_empty() {
        vec![&table.columns[0]]
    } else {
        columns
    };
    let materialized = d.below(4) == 0;
    let view = q("public", "report");
    let id = ObjectId::View { name: view.clone() };
    let select: Vec<String> = columns
        .iter()
        .map(|col| crate::schema::render::ident(&col.name))
        .collect();
    c.insert(Object::View(View {
        name: view.clone(),
        materialized,
        definition: Expr::new(format!(
            " SELECT {}\n   FROM {};",
            select.join(", "),
            crate::schema::render::qual(t)
        )),
        options: Vec::new(),
        columns: columns
            .iter()
            .map(|col| (col.name.clone(), col.data_type.clone()))
            .collect(),
        column_comments: BTreeMap::new(),
        comment: d.maybe("report".into()),
        grants: grants(d, &["SELECT"]),
    }));
    for col in &columns {
        edge(
            c,
            id.clone(),
            ObjectId::Table { name: t.clone() },
            Some(&col.name),
        );
    }
    if d.coin() && !materialized {
        let top = q("public", "summary");
        let first = &columns[0];
        c.insert(Object::View(View {
            name: top.clone(),
            materialized: false,
            definition: Expr::new(format!(
                " SELECT {}\n   FROM report;",
                crate::schema::render::ident(&first.name)
            )),
            options: Vec::new(),
            columns: vec![(first.name.clone(), first.data_type.clone())],
            column_comments: BTreeMap::new(),
            comment: None,
            grants: BTreeSet::new(),
        }));
        edge(c, ObjectId::View { name: top }, id, Some(&first.name));
    }
}

fn functions(d: &mut Dice, c: &mut Catalog) {
    if d.coin() {
        return;
    }
    let returns = ["integer", "bigint"][d.below(2)];
    let body = ["SELECT $1 + 1", "SELECT $1 * 2"][d.below(2)];
    c.insert(Object::Function(Function {
        name: q("public", "bump"),
        identity_args: "integer".into(),
        procedure: false,
        returns: Some(Expr::new(returns)),
        language: "sql".into(),
        definition: Expr::new(format!(
            "CREATE OR REPLACE FUNCTION public.bump(integer)\n RETURNS {returns}\n LANGUAGE sql\nAS $function${body}$function$\n"
        )),
        comment: d.maybe("adds".into()),
        grants: grants(d, &["EXECUTE"]),
    }));
}
