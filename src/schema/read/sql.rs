//! SQL fragments the per-kind queries share.

/// `NOT EXISTS` an extension membership of `oid` (a row of `catalog`):
/// objects an extension created are the extension's, not read.
pub fn not_extension_member(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend xd WHERE xd.classid = '{catalog}'::regclass \
         AND xd.objid = {oid} AND xd.deptype = 'e')"
    )
}

/// The collation `oid` as SQL text, every part double-quoted, the schema
/// left out for `pg_catalog` (`"C"`, `"public"."numeric"`); NULL for 0.
pub fn collation_text(oid: &str) -> String {
    format!(
        "(SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN '' \
           ELSE '\"' || replace(cn.nspname, '\"', '\"\"') || '\".' END \
           || '\"' || replace(co.collname, '\"', '\"\"') || '\"' \
         FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace \
         WHERE co.oid = {oid})"
    )
}

/// The collation `coll` of something of type `typ`, only when it is not
/// the type's own default.
pub fn collation_if_not_default(coll: &str, typ: &str) -> String {
    collation_unless(
        coll,
        &format!("(SELECT ct.typcollation FROM pg_type ct WHERE ct.oid = {typ})"),
    )
}

/// The collation `coll` as SQL text ([`collation_text`]), NULL when it is
/// 0 or `default` (the collation the value would have anyway).
pub fn collation_unless(coll: &str, default: &str) -> String {
    format!(
        "CASE WHEN {coll} <> 0 AND {coll} IS DISTINCT FROM {default} THEN {} END",
        collation_text(coll)
    )
}
