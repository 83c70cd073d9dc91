//! Concrete plans: statement order and text, hazards, NOT VALID +
//! VALIDATE, --concurrently, enum values, views around a column change,
//! quoting.

use std::collections::{BTreeMap, BTreeSet};

use super::{diff, DiffError, DiffOptions};
use crate::schema::model::*;
use crate::schema::plan::{HazardKind, Plan, StatementKind};
use crate::schema::render;

pub(super) fn q(name: &str) -> QualName {
    QualName::new("public", name)
}

pub(super) fn col(name: &str, ty: &str) -> Column {
    Column {
        name: name.into(),
        data_type: Expr::new(ty),
        collation: None,
        default: None,
        not_null: false,
        identity: None,
        generated: None,
        is_local: true,
        comment: None,
    }
}

pub(super) fn table(name: &str, columns: Vec<Column>) -> Object {
    Object::Table(Table {
        name: q(name),
        columns,
        unlogged: false,
        partition_by: None,
        partition_of: None,
        inherits: vec![],
        options: vec![],
        row_security: false,
        force_row_security: false,
        comment: None,
        grants: BTreeSet::new(),
    })
}

pub(super) fn constraint(
    table: &str,
    name: &str,
    kind: ConstraintKind,
    def: &str,
    refs: Option<&str>,
) -> Object {
    Object::Constraint(Constraint {
        table: q(table),
        name: name.into(),
        kind,
        definition: Expr::new(def),
        columns: vec![],
        references: refs.map(q),
        deferrable: false,
        initially_deferred: false,
        validated: true,
        is_local: true,
        comment: None,
    })
}

pub(super) fn view(name: &str, def: &str, columns: &[(&str, &str)]) -> Object {
    Object::View(View {
        name: q(name),
        materialized: false,
        definition: Expr::new(def),
        options: vec![],
        columns: columns
            .iter()
            .map(|(n, t)| (n.to_string(), Expr::new(*t)))
            .collect(),
        column_comments: BTreeMap::new(),
        comment: None,
        grants: BTreeSet::new(),
    })
}

pub(super) fn enum_type(name: &str, labels: &[&str]) -> Object {
    Object::Type(TypeDef {
        name: q(name),
        kind: TypeKind::Enum {
            labels: labels.iter().map(|l| l.to_string()).collect(),
        },
        comment: None,
        grants: BTreeSet::from([Grant {
            grantee: "PUBLIC".into(),
            privilege: "USAGE".into(),
            grantable: false,
        }]),
    })
}

pub(super) fn catalog(
    objects: Vec<Object>,
    edges: &[(ObjectId, ObjectId, Option<&str>)],
) -> Catalog {
    let mut c = Catalog::empty_database();
    for o in objects {
        c.insert(o);
    }
    for (d, r, column) in edges {
        c.depends.insert(Dependency {
            dependent: d.clone(),
            referenced: r.clone(),
            column: column.map(str::to_string),
        });
    }
    c
}

pub(super) fn tid(name: &str) -> ObjectId {
    ObjectId::Table { name: q(name) }
}

pub(super) fn vid(name: &str) -> ObjectId {
    ObjectId::View { name: q(name) }
}

pub(super) fn sqls(plan: &Plan) -> Vec<&str> {
    plan.statements.iter().map(|s| s.sql.as_str()).collect()
}

/// Whether the plan's statement at `index` carries a hazard of `kind`.
pub(super) fn has_hazard(plan: &Plan, index: usize, kind: HazardKind) -> bool {
    plan.statements[index]
        .hazards
        .iter()
        .any(|h| h.kind == kind)
}

pub(super) fn plan(a: &Catalog, b: &Catalog) -> Plan {
    diff(a, b, &DiffOptions::default()).expect("the diff plans")
}

#[test]
fn a_foreign_key_on_an_existing_table_is_added_not_valid_then_validated() {
    let orders = table("orders", vec![col("id", "integer")]);
    let pk = constraint(
        "orders",
        "orders_pkey",
        ConstraintKind::PrimaryKey,
        "PRIMARY KEY (id)",
        None,
    );
    let a = catalog(
        vec![
            orders.clone(),
            pk.clone(),
            table("items", vec![col("id", "integer")]),
        ],
        &[],
    );
    let fk = constraint(
        "items",
        "items_order_id_fkey",
        ConstraintKind::ForeignKey,
        "FOREIGN KEY (order_id) REFERENCES orders(id)",
        Some("orders"),
    );
    let b = catalog(
        vec![
            orders,
            pk,
            table(
                "items",
                vec![col("id", "integer"), col("order_id", "integer")],
            ),
            fk,
        ],
        &[],
    );
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TABLE public.items ADD COLUMN order_id integer",
            "ALTER TABLE public.items ADD CONSTRAINT items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders(id) NOT VALID",
            "ALTER TABLE public.items VALIDATE CONSTRAINT items_order_id_fkey",
        ]
    );
    assert_eq!(p.statements[2].kind, StatementKind::Validate);
}

#[test]
fn tables_and_their_foreign_keys_are_created_in_order_and_plain() {
    let b = catalog(
        vec![
            table("items", vec![col("order_id", "integer")]),
            constraint(
                "items",
                "fk",
                ConstraintKind::ForeignKey,
                "FOREIGN KEY (order_id) REFERENCES orders(id)",
                Some("orders"),
            ),
            table("orders", vec![col("id", "integer")]),
            constraint(
                "orders",
                "orders_pkey",
                ConstraintKind::PrimaryKey,
                "PRIMARY KEY (id)",
                None,
            ),
        ],
        &[],
    );
    let p = plan(&Catalog::empty_database(), &b);
    assert_eq!(
        sqls(&p),
        [
            "CREATE TABLE public.items (\n    order_id integer\n)",
            "CREATE TABLE public.orders (\n    id integer\n)",
            "ALTER TABLE public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id)",
            "ALTER TABLE public.items ADD CONSTRAINT fk FOREIGN KEY (order_id) REFERENCES orders(id)",
        ]
    );
    assert!(p.statements.iter().all(|s| s.hazards.is_empty()));
    assert!(render::script(&p).starts_with("BEGIN;\n"));
}

fn with_index(concurrently: bool) -> Plan {
    let t = table("orders", vec![col("id", "integer")]);
    let index = Object::Index(Index {
        name: q("orders_id_idx"),
        table: q("orders"),
        definition: Expr::new("CREATE INDEX orders_id_idx ON public.orders USING btree (id)"),
        unique: false,
        method: "btree".into(),
        parent: None,
        comment: None,
    });
    let a = catalog(vec![t.clone()], &[]);
    let b = catalog(vec![t, index], &[]);
    diff(&a, &b, &DiffOptions { concurrently }).expect("plans")
}

#[test]
fn concurrently_builds_indexes_outside_a_transaction() {
    let p = with_index(true);
    assert_eq!(
        sqls(&p),
        ["CREATE INDEX CONCURRENTLY orders_id_idx ON public.orders USING btree (id)"]
    );
    assert!(!p.statements[0].transactional);
    assert_eq!(
        p.statements[0].hazards[0].kind,
        HazardKind::NonTransactional
    );
    let script = render::script(&p);
    assert!(!script.contains("BEGIN"), "{script}");
    assert!(script.contains("-- hazard: non_transactional: "));

    let p = with_index(false);
    assert_eq!(
        sqls(&p),
        ["CREATE INDEX orders_id_idx ON public.orders USING btree (id)"]
    );
    assert_eq!(p.statements[0].hazards[0].kind, HazardKind::IndexBuild);
    assert!(p.transactional());
}

#[test]
fn enum_values_are_added_in_place_before_or_after_their_neighbours() {
    let a = catalog(vec![enum_type("mood", &["ok", "happy"])], &[]);
    let b = catalog(
        vec![enum_type(
            "mood",
            &["sad", "ok", "meh", "happy", "ecstatic"],
        )],
        &[],
    );
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TYPE public.mood ADD VALUE 'sad' BEFORE 'ok'",
            "ALTER TYPE public.mood ADD VALUE 'meh' AFTER 'ok'",
            "ALTER TYPE public.mood ADD VALUE 'ecstatic' AFTER 'happy'",
        ]
    );
    assert!(p
        .statements
        .iter()
        .all(|s| s.hazards[0].kind == HazardKind::Irreversible));
    assert!(p.transactional(), "no later statement uses the new values");
}

#[test]
fn an_enum_losing_a_value_is_recreated_and_its_columns_moved_through_text() {
    let mut status = col("status", "public.mood");
    status.default = Some(Expr::new("'ok'::public.mood"));
    let t = table("people", vec![col("id", "integer"), status]);
    let edges = [(tid("people"), ObjectId::Type { name: q("mood") }, None)];
    let a = catalog(vec![enum_type("mood", &["sad", "ok"]), t.clone()], &edges);
    let b = catalog(vec![enum_type("mood", &["ok", "happy"]), t], &edges);
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TYPE public.mood RENAME TO mood__old_version_to_be_dropped",
            "CREATE TYPE public.mood AS ENUM ('ok', 'happy')",
            "ALTER TABLE public.people ALTER COLUMN status DROP DEFAULT",
            "ALTER TABLE public.people ALTER COLUMN status TYPE public.mood USING status::text::public.mood",
            "ALTER TABLE public.people ALTER COLUMN status SET DEFAULT 'ok'::public.mood",
            "DROP TYPE public.mood__old_version_to_be_dropped",
        ]
    );
    assert!(has_hazard(&p, 3, HazardKind::TableRewrite));
}

#[test]
fn views_reading_a_changed_column_are_dropped_before_and_created_after() {
    let before = table(
        "orders",
        vec![col("id", "integer"), col("note", "character varying(10)")],
    );
    let after = table("orders", vec![col("id", "integer"), col("note", "integer")]);
    let report = |ty| {
        view(
            "report",
            " SELECT orders.note\n   FROM orders;",
            &[("note", ty)],
        )
    };
    let summary = |ty| {
        view(
            "summary",
            " SELECT report.note\n   FROM report;",
            &[("note", ty)],
        )
    };
    let edges = [
        (vid("report"), tid("orders"), Some("note")),
        (vid("summary"), vid("report"), Some("note")),
    ];
    let a = catalog(
        vec![
            before,
            report("character varying(10)"),
            summary("character varying(10)"),
        ],
        &edges,
    );
    let b = catalog(vec![after, report("integer"), summary("integer")], &edges);
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "DROP VIEW public.summary",
            "DROP VIEW public.report",
            "ALTER TABLE public.orders ALTER COLUMN note TYPE integer USING note::integer",
            "CREATE VIEW public.report AS\nSELECT orders.note\n   FROM orders",
            "CREATE VIEW public.summary AS\nSELECT report.note\n   FROM report",
        ]
    );
    let kinds: BTreeSet<HazardKind> = p.statements[2].hazards.iter().map(|h| h.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([HazardKind::TableRewrite, HazardKind::AccessExclusiveLock])
    );
    assert_eq!(p.statements[0].kind, StatementKind::Replace);
}

#[test]
fn a_view_that_only_appends_columns_is_replaced_in_place() {
    let t = table("orders", vec![col("id", "integer"), col("note", "text")]);
    let a = catalog(
        vec![
            t.clone(),
            view(
                "v",
                " SELECT orders.id\n   FROM orders;",
                &[("id", "integer")],
            ),
        ],
        &[],
    );
    let b = catalog(
        vec![
            t,
            view(
                "v",
                " SELECT orders.id,\n    orders.note\n   FROM orders;",
                &[("id", "integer"), ("note", "text")],
            ),
        ],
        &[],
    );
    assert_eq!(
        sqls(&plan(&a, &b)),
        ["CREATE OR REPLACE VIEW public.v AS\nSELECT orders.id,\n    orders.note\n   FROM orders"]
    );
}

#[test]
fn widening_a_varchar_is_no_rewrite() {
    let a = catalog(
        vec![table("t", vec![col("a", "character varying(10)")])],
        &[],
    );
    let b = catalog(
        vec![table("t", vec![col("a", "character varying(20)")])],
        &[],
    );
    let p = plan(&a, &b);
    assert_eq!(sqls(&p), ["ALTER TABLE public.t ALTER COLUMN a TYPE character varying(20) USING a::character varying(20)"]);
    assert!(p.statements[0].hazards.is_empty());
}

#[test]
fn a_dropped_and_an_added_column_warn_of_a_possible_rename() {
    let a = catalog(
        vec![table(
            "t",
            vec![col("id", "integer"), col("old_name", "text")],
        )],
        &[],
    );
    let b = catalog(
        vec![table(
            "t",
            vec![col("id", "integer"), col("new_name", "text")],
        )],
        &[],
    );
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TABLE public.t DROP COLUMN old_name",
            "ALTER TABLE public.t ADD COLUMN new_name text"
        ]
    );
    let drop: Vec<HazardKind> = p.statements[0].hazards.iter().map(|h| h.kind).collect();
    assert_eq!(drop, [HazardKind::DataLoss, HazardKind::PossibleRename]);
    assert_eq!(p.statements[1].hazards[0].kind, HazardKind::PossibleRename);
}

#[test]
fn identifiers_are_quoted_only_where_needed() {
    let mut users = table("Users", vec![col("order", "text"), col("name", "text")]);
    if let Object::Table(t) = &mut users {
        t.columns[1].comment = Some("it's the name".into());
    }
    let p = plan(&Catalog::empty_database(), &catalog(vec![users], &[]));
    assert_eq!(
        sqls(&p),
        [
            "CREATE TABLE public.\"Users\" (\n    \"order\" text,\n    name text\n)",
            "COMMENT ON COLUMN public.\"Users\".name IS 'it''s the name'",
        ]
    );
}

#[test]
fn a_sequence_is_created_before_the_table_using_it_and_owned_after() {
    let seq = Object::Sequence(Sequence {
        name: q("t_id_seq"),
        data_type: "integer".into(),
        start: 1,
        increment: 1,
        min_value: 1,
        max_value: 2147483647,
        cache: 1,
        cycle: false,
        owned_by: Some((q("t"), "id".into())),
        comment: None,
        grants: BTreeSet::new(),
    });
    let mut id = col("id", "integer");
    id.default = Some(Expr::new("nextval('t_id_seq'::regclass)"));
    id.not_null = true;
    let sid = ObjectId::Sequence {
        name: q("t_id_seq"),
    };
    let b = catalog(
        vec![table("t", vec![id]), seq],
        &[(tid("t"), sid.clone(), None), (sid, tid("t"), Some("id"))],
    );
    assert_eq!(
        sqls(&plan(&Catalog::empty_database(), &b)),
        [
            "CREATE SEQUENCE public.t_id_seq AS integer INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1 NO CYCLE",
            "CREATE TABLE public.t (\n    id integer DEFAULT nextval('t_id_seq'::regclass) NOT NULL\n)",
            "ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id",
        ]
    );
}

#[test]
fn a_new_partition_key_recreates_a_lone_table_and_marks_the_rows_lost() {
    let a = catalog(vec![table("m", vec![col("d", "date")])], &[]);
    let mut t = table("m", vec![col("d", "date")]);
    if let Object::Table(t) = &mut t {
        t.partition_by = Some(Expr::new("RANGE (d)"));
    }
    let b = catalog(vec![t], &[]);
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "DROP TABLE public.m",
            "CREATE TABLE public.m (\n    d date\n) PARTITION BY RANGE (d)",
        ]
    );
    assert!(has_hazard(&p, 0, HazardKind::DataLoss));
    // Back again: the same recreate.
    assert_eq!(sqls(&plan(&b, &a))[0], "DROP TABLE public.m");
}

#[test]
fn a_partition_key_change_that_would_drop_a_partition_is_refused() {
    let mut parent = table("m", vec![col("d", "date")]);
    let mut part = table("m_1", vec![col("d", "date")]);
    if let (Object::Table(p), Object::Table(c)) = (&mut parent, &mut part) {
        p.partition_by = Some(Expr::new("RANGE (d)"));
        c.partition_of = Some((
            p.name.clone(),
            Expr::new("FOR VALUES FROM ('2000-01-01') TO ('2001-01-01')"),
        ));
    }
    let a = catalog(vec![parent, part.clone()], &[]);
    let b = catalog(vec![table("m", vec![col("d", "date")]), part], &[]);
    let err = diff(&a, &b, &DiffOptions::default()).expect_err("would drop m_1");
    let DiffError::Unsupported { object, message } = &err;
    assert_eq!(object, &tid("m"));
    assert!(
        message.contains("table public.m_1") && message.contains("copy the rows"),
        "{err}"
    );
}

#[test]
fn a_dependency_cycle_neither_hangs_nor_panics() {
    let edges = [(vid("a"), vid("b"), None), (vid("b"), vid("a"), None)];
    let b = catalog(
        vec![view("a", "SELECT 1", &[]), view("b", "SELECT 2", &[])],
        &edges,
    );
    let p = plan(&Catalog::empty_database(), &b);
    assert_eq!(p.statements.len(), 2);
    let back = plan(&b, &Catalog::empty_database());
    assert_eq!(back.statements.len(), 2);
}

fn function(returns: &str, body: &str) -> Object {
    Object::Function(Function {
        name: q("f"),
        identity_args: "integer".into(),
        procedure: false,
        returns: Some(Expr::new(returns)),
        language: "sql".into(),
        definition: Expr::new(format!("CREATE OR REPLACE FUNCTION public.f(integer)\n RETURNS {returns}\n LANGUAGE sql\nAS $function${body}$function$\n")),
        comment: None,
        grants: BTreeSet::from([Grant { grantee: "PUBLIC".into(), privilege: "EXECUTE".into(), grantable: false }]),
    })
}

#[test]
fn functions_are_replaced_in_place_unless_their_result_type_changes() {
    let a = catalog(vec![function("integer", "SELECT 1")], &[]);
    let b = catalog(vec![function("integer", "SELECT 2")], &[]);
    let p = plan(&a, &b);
    assert_eq!(sqls(&p), ["CREATE OR REPLACE FUNCTION public.f(integer)\n RETURNS integer\n LANGUAGE sql\nAS $function$SELECT 2$function$"]);
    let c = catalog(vec![function("bigint", "SELECT 2")], &[]);
    let p = plan(&a, &c);
    assert_eq!(p.statements[0].sql, "DROP FUNCTION public.f(integer)");
    assert!(p.statements[1].sql.contains("RETURNS bigint"));
    assert_eq!(
        p.statements.len(),
        2,
        "PUBLIC EXECUTE is the default, no GRANT: {:#?}",
        sqls(&p)
    );
}

#[test]
fn grants_and_comments_change_in_place() {
    let mut b_table = table("t", vec![col("a", "text")]);
    if let Object::Table(t) = &mut b_table {
        t.comment = Some("rows".into());
        t.grants.insert(Grant {
            grantee: "alice".into(),
            privilege: "SELECT".into(),
            grantable: true,
        });
    }
    let a = catalog(vec![table("t", vec![col("a", "text")])], &[]);
    let b = catalog(vec![b_table], &[]);
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "COMMENT ON TABLE public.t IS 'rows'",
            "GRANT SELECT ON TABLE public.t TO alice WITH GRANT OPTION"
        ]
    );
    assert_eq!(
        sqls(&plan(&b, &a)),
        [
            "COMMENT ON TABLE public.t IS NULL",
            "REVOKE SELECT ON TABLE public.t FROM alice"
        ]
    );
}
