//! Concrete plans for the wider object kinds: partitions, keys referenced
//! by foreign keys, triggers, domains, materialized views, extensions,
//! inheritance, identity and generated columns.

use std::collections::{BTreeMap, BTreeSet};

use super::tests_plans::{catalog, col, constraint, has_hazard, plan, q, sqls, table, tid, view};
use crate::schema::model::*;
use crate::schema::plan::HazardKind;

fn with(object: Object, edit: impl FnOnce(&mut Table)) -> Object {
    let mut object = object;
    if let Object::Table(t) = &mut object {
        edit(t);
    }
    object
}

fn index(name: &str, on: &str, def: &str, parent: Option<&str>) -> Object {
    Object::Index(Index {
        name: q(name),
        table: q(on),
        definition: Expr::new(def),
        unique: false,
        method: "btree".into(),
        parent: parent.map(q),
        comment: None,
    })
}

#[test]
fn partitions_are_created_of_their_parent_and_their_index_copies_have_no_sql() {
    let parent = with(table("m", vec![col("d", "date")]), |t| {
        t.partition_by = Some(Expr::new("RANGE (d)"))
    });
    let mut d = col("d", "date");
    d.is_local = false;
    let part = with(table("m_2024", vec![d]), |t| {
        t.partition_of = Some((
            q("m"),
            Expr::new("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"),
        ))
    });
    let b = catalog(
        vec![
            parent.clone(),
            part.clone(),
            index(
                "m_d_idx",
                "m",
                "CREATE INDEX m_d_idx ON ONLY public.m USING btree (d)",
                None,
            ),
            index(
                "m_2024_d_idx",
                "m_2024",
                "CREATE INDEX m_2024_d_idx ON public.m_2024 USING btree (d)",
                Some("m_d_idx"),
            ),
        ],
        &[(tid("m_2024"), tid("m"), None)],
    );
    assert_eq!(
        sqls(&plan(&Catalog::empty_database(), &b)),
        [
            "CREATE TABLE public.m (\n    d date\n) PARTITION BY RANGE (d)",
            "CREATE TABLE public.m_2024 PARTITION OF public.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
            "CREATE INDEX m_d_idx ON public.m USING btree (d)",
        ]
    );
    let moved = with(part, |t| {
        t.partition_of = Some((
            q("m"),
            Expr::new("FOR VALUES FROM ('2024-01-01') TO ('2026-01-01')"),
        ))
    });
    let c = catalog(vec![parent, moved], &[(tid("m_2024"), tid("m"), None)]);
    let a = catalog(
        b.objects
            .values()
            .filter(|o| !matches!(o, Object::Index(_)))
            .cloned()
            .collect(),
        &[(tid("m_2024"), tid("m"), None)],
    );
    let p = plan(&a, &c);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TABLE public.m DETACH PARTITION public.m_2024",
            "ALTER TABLE public.m ATTACH PARTITION public.m_2024 FOR VALUES FROM ('2024-01-01') TO ('2026-01-01')",
        ]
    );
    assert_eq!(
        p.statements[1].hazards[0].kind,
        HazardKind::AccessExclusiveLock
    );
}

#[test]
fn a_recreated_key_takes_the_foreign_keys_referencing_it_along() {
    let orders = table("orders", vec![col("id", "integer"), col("code", "text")]);
    let items = table("items", vec![col("order_id", "integer")]);
    let fk = constraint(
        "items",
        "items_fk",
        ConstraintKind::ForeignKey,
        "FOREIGN KEY (order_id) REFERENCES orders(id)",
        Some("orders"),
    );
    let pk = |def| {
        constraint(
            "orders",
            "orders_pkey",
            ConstraintKind::PrimaryKey,
            def,
            None,
        )
    };
    let a = catalog(
        vec![
            orders.clone(),
            items.clone(),
            fk.clone(),
            pk("PRIMARY KEY (id)"),
        ],
        &[],
    );
    let b = catalog(
        vec![orders, items, fk, pk("PRIMARY KEY (id) DEFERRABLE")],
        &[],
    );
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "ALTER TABLE public.items DROP CONSTRAINT items_fk",
            "ALTER TABLE public.orders DROP CONSTRAINT orders_pkey",
            "ALTER TABLE public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id) DEFERRABLE",
            "ALTER TABLE public.items ADD CONSTRAINT items_fk FOREIGN KEY (order_id) REFERENCES orders(id) NOT VALID",
            "ALTER TABLE public.items VALIDATE CONSTRAINT items_fk",
        ]
    );
}

fn trigger(enabled: char) -> Object {
    Object::Trigger(Trigger {
        table: q("t"),
        name: "audit".into(),
        definition: Expr::new("CREATE TRIGGER audit AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.log()"),
        enabled,
        comment: None,
    })
}

#[test]
fn triggers_are_created_then_disabled_and_enabled_in_place() {
    let t = table("t", vec![col("a", "integer")]);
    let a = catalog(vec![t.clone()], &[]);
    let b = catalog(vec![t.clone(), trigger('D')], &[]);
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "CREATE TRIGGER audit AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.log()",
            "ALTER TABLE public.t DISABLE TRIGGER audit",
        ]
    );
    let c = catalog(vec![t, trigger('A')], &[]);
    assert_eq!(
        sqls(&plan(&b, &c)),
        ["ALTER TABLE public.t ENABLE ALWAYS TRIGGER audit"]
    );
}

fn domain(default: Option<&str>, not_null: bool, checks: &[(&str, &str)]) -> Object {
    Object::Type(TypeDef {
        name: q("posint"),
        kind: TypeKind::Domain {
            base: Expr::new("integer"),
            collation: None,
            default: default.map(Expr::new),
            not_null,
            checks: checks
                .iter()
                .map(|(n, c)| (n.to_string(), Expr::new(*c)))
                .collect(),
        },
        comment: None,
        grants: BTreeSet::new(),
    })
}

#[test]
fn domains_change_default_not_null_and_checks_in_place() {
    let a = catalog(
        vec![domain(None, false, &[("positive", "CHECK ((VALUE > 0))")])],
        &[],
    );
    let b = catalog(
        vec![domain(
            Some("1"),
            true,
            &[("positive", "CHECK ((VALUE >= 1))")],
        )],
        &[],
    );
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "ALTER DOMAIN public.posint DROP CONSTRAINT positive",
            "ALTER DOMAIN public.posint SET DEFAULT 1",
            "ALTER DOMAIN public.posint SET NOT NULL",
            "ALTER DOMAIN public.posint ADD CONSTRAINT positive CHECK ((VALUE >= 1)) NOT VALID",
            "ALTER DOMAIN public.posint VALIDATE CONSTRAINT positive",
        ]
    );
}

#[test]
fn a_domain_with_a_new_base_type_used_by_a_table_is_unsupported() {
    let mut b_domain = domain(None, false, &[]);
    if let Object::Type(TypeDef {
        kind: TypeKind::Domain { base, .. },
        ..
    }) = &mut b_domain
    {
        *base = Expr::new("bigint");
    }
    let t = table("t", vec![col("a", "public.posint")]);
    let edges = [(tid("t"), ObjectId::Type { name: q("posint") }, None)];
    let a = catalog(vec![domain(None, false, &[]), t.clone()], &edges);
    let b = catalog(vec![b_domain, t], &edges);
    let err = super::diff(&a, &b, &super::DiffOptions::default()).expect_err("unsupported");
    assert!(err.to_string().starts_with("type public.posint: "), "{err}");
}

#[test]
fn a_changed_materialized_view_is_recreated_with_its_indexes() {
    let t = table("t", vec![col("a", "integer")]);
    let mv = |def: &str| {
        let mut v = view("mv", def, &[("a", "integer")]);
        if let Object::View(v) = &mut v {
            v.materialized = true;
        }
        v
    };
    let idx = index(
        "mv_a_idx",
        "mv",
        "CREATE INDEX mv_a_idx ON public.mv USING btree (a)",
        None,
    );
    let a = catalog(
        vec![t.clone(), mv(" SELECT t.a\n   FROM t;"), idx.clone()],
        &[],
    );
    let b = catalog(
        vec![t, mv(" SELECT t.a\n   FROM t\n  WHERE (t.a > 0);"), idx],
        &[],
    );
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "DROP INDEX public.mv_a_idx",
            "DROP MATERIALIZED VIEW public.mv",
            "CREATE MATERIALIZED VIEW public.mv AS\nSELECT t.a\n   FROM t\n  WHERE (t.a > 0)",
            "CREATE INDEX mv_a_idx ON public.mv USING btree (a)",
        ]
    );
}

fn extension(schema: &str, version: &str) -> Object {
    Object::Extension(Extension {
        name: "citext".into(),
        schema: schema.into(),
        version: version.into(),
        comment: None,
    })
}

#[test]
fn extensions_are_updated_and_moved_in_place() {
    let app = Object::Schema(Namespace {
        name: "app".into(),
        comment: None,
        grants: BTreeSet::new(),
    });
    let a = catalog(vec![extension("public", "1.5")], &[]);
    let b = catalog(vec![app, extension("app", "1.6")], &[]);
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "CREATE SCHEMA app",
            "ALTER EXTENSION citext UPDATE TO '1.6'",
            "ALTER EXTENSION citext SET SCHEMA app",
        ]
    );
    assert_eq!(
        sqls(&plan(&Catalog::empty_database(), &a)),
        ["CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public VERSION '1.5'"]
    );
}

#[test]
fn an_extension_downgrade_is_a_drop_and_create_unless_something_uses_it() {
    let a = catalog(vec![extension("public", "1.10")], &[]);
    let b = catalog(vec![extension("public", "1.9")], &[]);
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "DROP EXTENSION citext",
            "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public VERSION '1.9'",
        ]
    );
    let kinds: Vec<HazardKind> = p.statements[0].hazards.iter().map(|h| h.kind).collect();
    assert_eq!(kinds, [HazardKind::DataLoss, HazardKind::Irreversible]);
    // Upwards (1.9 -> 1.10 is numeric, not text order) stays an update.
    assert_eq!(
        sqls(&plan(&b, &a)),
        ["ALTER EXTENSION citext UPDATE TO '1.10'"]
    );
    // A table that uses it and stays: refused, naming the extension and the user.
    let t = table("t", vec![col("c", "citext")]);
    let ext = ObjectId::Extension {
        name: "citext".into(),
    };
    let a = catalog(
        vec![extension("public", "1.6"), t.clone()],
        &[(tid("t"), ext.clone(), None)],
    );
    let b = catalog(
        vec![extension("public", "1.5"), t],
        &[(tid("t"), ext.clone(), None)],
    );
    let err = super::diff(&a, &b, &super::DiffOptions::default()).expect_err("refused");
    let super::DiffError::Unsupported { object, message } = &err;
    assert_eq!(object, &ext);
    assert!(
        message.contains("1.6 -> 1.5") && message.contains("public.t"),
        "{err}"
    );
}

fn collation(locale: &str) -> Object {
    Object::Collation(Collation {
        name: q("ci"),
        provider: "icu".into(),
        locale: Some(locale.into()),
        lc_collate: None,
        lc_ctype: None,
        deterministic: false,
        comment: None,
    })
}

#[test]
fn collations_come_before_their_tables_and_a_new_definition_is_a_drop_and_create() {
    let mut c = col("name", "text");
    c.collation = Some("ci".into());
    let t = table("t", vec![c]);
    let b = catalog(vec![collation("und-u-ks-level2"), t], &[]);
    assert_eq!(
        sqls(&plan(&Catalog::empty_database(), &b)),
        [
            "CREATE COLLATION public.ci (provider = icu, locale = 'und-u-ks-level2', \
             deterministic = false)",
            "CREATE TABLE public.t (\n    name text COLLATE ci\n)",
        ]
    );
    let a = catalog(vec![collation("und-u-ks-level1")], &[]);
    let b = catalog(vec![collation("und-u-ks-level2")], &[]);
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "DROP COLLATION public.ci",
            "CREATE COLLATION public.ci (provider = icu, locale = 'und-u-ks-level2', \
             deterministic = false)",
        ]
    );
    // Used by a column that stays: refused, naming the collation.
    let mut c = col("name", "text");
    c.collation = Some("ci".into());
    let cid = ObjectId::Collation { name: q("ci") };
    let edges = [(tid("t"), cid.clone(), None)];
    let a = catalog(
        vec![collation("und-u-ks-level1"), table("t", vec![c.clone()])],
        &edges,
    );
    let b = catalog(
        vec![collation("und-u-ks-level2"), table("t", vec![c])],
        &edges,
    );
    let err = super::diff(&a, &b, &super::DiffOptions::default()).expect_err("refused");
    let super::DiffError::Unsupported { object, message } = &err;
    assert_eq!(object, &cid);
    assert!(message.contains("table public.t"), "{err}");
}

#[test]
fn a_name_of_another_relation_kind_is_freed_before_it_is_reused() {
    let seq = Object::Sequence(Sequence {
        name: q("x"),
        data_type: "bigint".into(),
        start: 1,
        increment: 1,
        min_value: 1,
        max_value: i64::MAX,
        cache: 1,
        cycle: false,
        owned_by: None,
        comment: None,
        grants: BTreeSet::new(),
    });
    let tab = table("x", vec![col("a", "integer")]);
    let (a, b) = (catalog(vec![seq], &[]), catalog(vec![tab], &[]));
    let forth = plan(&a, &b);
    assert_eq!(
        sqls(&forth)[0],
        "DROP SEQUENCE public.x",
        "{:?}",
        sqls(&forth)
    );
    let back = plan(&b, &a);
    assert_eq!(sqls(&back)[0], "DROP TABLE public.x", "{:?}", sqls(&back));
}

#[test]
fn inheritance_and_row_security_change_in_place() {
    let parent = table("p", vec![col("a", "integer")]);
    let child = table("c", vec![col("a", "integer")]);
    let a = catalog(vec![parent.clone(), child.clone()], &[]);
    let b = catalog(
        vec![
            parent,
            with(child, |t| {
                t.inherits = vec![q("p")];
                t.row_security = true;
            }),
        ],
        &[],
    );
    assert_eq!(
        sqls(&plan(&a, &b)),
        [
            "ALTER TABLE public.c INHERIT public.p",
            "ALTER TABLE public.c ENABLE ROW LEVEL SECURITY"
        ]
    );
    assert_eq!(
        sqls(&plan(&b, &a)),
        [
            "ALTER TABLE public.c NO INHERIT public.p",
            "ALTER TABLE public.c DISABLE ROW LEVEL SECURITY"
        ]
    );
}

#[test]
fn identity_and_generated_columns_follow_migras_statement_shapes() {
    let mut plain = col("c", "integer");
    plain.default = Some(Expr::new("0"));
    let mut ident = col("c", "integer");
    ident.identity = Some(Identity::ByDefault);
    ident.not_null = true;
    let mut generated = col("g", "integer");
    generated.generated = Some(Expr::new("1"));
    let mut regenerated = col("g", "integer");
    regenerated.generated = Some(Expr::new("2"));
    let a = catalog(
        vec![table("t", vec![plain.clone(), generated.clone()])],
        &[],
    );
    let b = catalog(vec![table("t", vec![ident, regenerated])], &[]);
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TABLE public.t ALTER COLUMN c DROP DEFAULT",
            "ALTER TABLE public.t ALTER COLUMN c SET NOT NULL",
            "ALTER TABLE public.t ALTER COLUMN c ADD GENERATED BY DEFAULT AS IDENTITY",
            "ALTER TABLE public.t DROP COLUMN g",
            "ALTER TABLE public.t ADD COLUMN g integer GENERATED ALWAYS AS (2) STORED",
        ]
    );
    assert!(has_hazard(&p, 4, HazardKind::TableRewrite));
    assert!(!has_hazard(&p, 4, HazardKind::PossibleRename));
    let c = catalog(vec![table("t", vec![plain, col("g", "integer")])], &[]);
    assert_eq!(
        sqls(&plan(&a, &c)),
        ["ALTER TABLE public.t ALTER COLUMN g DROP EXPRESSION"]
    );
}

#[test]
fn a_new_enum_value_used_by_a_default_makes_the_plan_non_transactional() {
    let mood = |labels: &[&str]| super::tests_plans::enum_type("mood", labels);
    let mut status = col("status", "public.mood");
    let a = catalog(vec![mood(&["ok"]), table("t", vec![status.clone()])], &[]);
    status.default = Some(Expr::new("'great'::public.mood"));
    let b = catalog(vec![mood(&["ok", "great"]), table("t", vec![status])], &[]);
    let p = plan(&a, &b);
    assert_eq!(
        sqls(&p),
        [
            "ALTER TYPE public.mood ADD VALUE 'great' AFTER 'ok'",
            "ALTER TABLE public.t ALTER COLUMN status SET DEFAULT 'great'::public.mood",
        ]
    );
    assert!(!p.statements[0].transactional);
    assert!(!crate::schema::render::script(&p).contains("BEGIN"));
    let _ = BTreeMap::<u8, u8>::new();
}
