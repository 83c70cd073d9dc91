//! Built schemas kept between runs: the model a set of revisions builds on
//! the dev server, so that `check --schema` (and every `rev:` side, and
//! `revision --autogenerate`) replays the revisions' DDL only when
//! something it depends on changed. Replaying is PostgreSQL's own work and
//! the slow part: a 1,000-table schema takes psql itself 6-7 s to load on
//! the development VM, reading it back 0.2 s.
//!
//! An entry is keyed by the SHA-256 of everything the built model depends
//! on ([`BuildKey`]): the mergepoint binary (as for the parse cache), the
//! dev server's `version()` and the extension versions it offers (a
//! `CREATE EXTENSION` installs the server's default version), the read's
//! `--schema` filter and version table, the revisions to build, and each
//! revision of their upgrade paths with its parents, dependencies, upgrade
//! SQL and transaction mode. A change to any of these is a new key; an
//! entry is never patched. What the key cannot see: revision SQL whose
//! result depends on something else on the dev server (a role, a setting,
//! a table outside the build); turn the cache off (`MERGEPOINT_CACHE=off`)
//! for such projects.
//!
//! Entries live in `schemas/` of the parse cache's directory
//! ([`CacheConfig`]), one JSON file each ([`encode`]), written atomically (write, then
//! rename); an unreadable or undecodable entry is a miss and is replaced.
//! The newest [`MAX_ENTRIES`] are kept.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{Catalog, Dependency, Object};
use crate::graph::RevisionGraph;
use crate::script::CacheConfig;

/// Bumped when what a key covers or how an entry is stored changes.
const FORMAT: &str = "mergepoint built schema 1";
/// Entries kept; the least recently written go first.
const MAX_ENTRIES: usize = 16;

/// Where built schemas are kept, if anywhere.
#[derive(Clone, Debug, Default)]
pub struct BuiltCache {
    dir: Option<PathBuf>,
}

impl BuiltCache {
    /// In the parse cache's directory; off when that cache is off.
    pub fn new(config: &CacheConfig) -> BuiltCache {
        BuiltCache {
            dir: config.dir.as_ref().map(|d| d.join("schemas")),
        }
    }

    /// No cache: every build runs.
    pub fn disabled() -> BuiltCache {
        BuiltCache { dir: None }
    }

    /// Whether entries are read and written at all.
    pub fn is_on(&self) -> bool {
        self.dir.is_some()
    }

    fn path(&self, key: &BuildKey) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{}.json", key.0)))
    }

    /// The model stored under `key`, if there is a readable one.
    pub fn get(&self, key: &BuildKey) -> Option<Catalog> {
        decode(&fs::read(self.path(key)?).ok()?)
    }

    /// Stores `catalog` under `key`; a cache that cannot be written is
    /// left alone (the next run builds again).
    pub fn put(&self, key: &BuildKey, catalog: &Catalog) {
        let (Some(dir), Some(path)) = (self.dir.as_ref(), self.path(key)) else {
            return;
        };
        let Some(bytes) = encode(catalog) else {
            return;
        };
        let tmp = dir.join(format!(".{}.{}.tmp", key.0, std::process::id()));
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(dir)?;
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        match write() {
            Ok(()) => prune(dir),
            Err(_) => {
                let _ = fs::remove_file(&tmp);
            }
        }
    }
}

/// An entry's bytes: the model's objects and edges as JSON lists (the
/// catalog's maps are keyed by object ids, which JSON keys cannot be;
/// the ids are the objects' own).
pub fn encode(catalog: &Catalog) -> Option<Vec<u8>> {
    #[derive(Serialize)]
    struct Stored<'a> {
        objects: Vec<&'a Object>,
        depends: &'a BTreeSet<Dependency>,
    }
    serde_json::to_vec(&Stored {
        objects: catalog.objects.values().collect(),
        depends: &catalog.depends,
    })
    .ok()
}

/// The model of an entry's bytes; `None` for anything [`encode`] did not
/// write.
fn decode(bytes: &[u8]) -> Option<Catalog> {
    #[derive(Deserialize)]
    struct Stored {
        objects: Vec<Object>,
        depends: BTreeSet<Dependency>,
    }
    let stored: Stored = serde_json::from_slice(bytes).ok()?;
    let mut catalog = Catalog::default();
    for object in stored.objects {
        catalog.insert(object);
    }
    catalog.depends = stored.depends;
    Some(catalog)
}

/// The hex SHA-256 of everything a built model depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildKey(String);

impl BuildKey {
    /// `server`: the dev server's description ([`super::DevServer::describe`]);
    /// `schemas` and `version_table`: what the read keeps and leaves out;
    /// `targets`: the revisions built (each with everything below it, as
    /// `upgrade` applies them); `upgrade_sql`: a revision's upgrade SQL and
    /// transaction mode. `None` when a revision of the paths is unknown or
    /// has no SQL (the build reports that itself).
    pub fn new<'s>(
        server: &str,
        schemas: &[String],
        version_table: &str,
        graph: &RevisionGraph,
        targets: &[String],
        upgrade_sql: impl Fn(&str) -> Option<(std::borrow::Cow<'s, str>, bool)>,
    ) -> Option<BuildKey> {
        let mut hash = Sha256::new();
        let mut part = |text: &str| {
            hash.update(text.len().to_le_bytes());
            hash.update(text.as_bytes());
        };
        part(FORMAT);
        part(&crate::script::build_id()?);
        part(server);
        part(&schemas.join("\0"));
        part(version_table);
        let mut sorted = targets.to_vec();
        sorted.sort();
        let mut starts = Vec::with_capacity(sorted.len());
        for target in &sorted {
            part(target);
            starts.push(graph.find(target)?);
        }
        let applied = graph.ancestors_with_deps(&starts);
        let mut revisions: Vec<(&str, usize)> = (0..graph.len())
            .filter(|&ix| applied[ix])
            .map(|ix| (graph.id(ix), ix))
            .collect();
        revisions.sort_unstable();
        for (id, ix) in revisions {
            let (sql, transactional) = upgrade_sql(id)?;
            part(id);
            part(&graph.ids(graph.parents(ix)).join(","));
            part(&graph.ids(graph.dependencies(ix)).join(","));
            part(if transactional { "t" } else { "n" });
            part(&sql);
        }
        let digest = hash.finalize();
        Some(BuildKey(
            digest.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }
}

/// Keeps the newest [`MAX_ENTRIES`] entries of `dir`.
fn prune(dir: &Path) {
    let Ok(list) = fs::read_dir(dir) else { return };
    let mut entries: Vec<(SystemTime, PathBuf)> = list
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if entries.len() <= MAX_ENTRIES {
        return;
    }
    entries.sort();
    for (_, path) in &entries[..entries.len() - MAX_ENTRIES] {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Revision;
    use std::borrow::Cow;
    use std::collections::HashMap;

    fn graph() -> RevisionGraph {
        RevisionGraph::build(vec![
            Revision::new("a1", &[]),
            Revision::new("b2", &["a1"]),
            Revision::new("c3", &["a1"]),
        ])
        .unwrap()
    }

    fn key(sql: &HashMap<&str, &str>, targets: &[&str], server: &str) -> Option<BuildKey> {
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        BuildKey::new(server, &[], "alembic_version", &graph(), &targets, |id| {
            sql.get(id).map(|s| (Cow::Borrowed(*s), true))
        })
    }

    #[test]
    fn the_key_changes_with_what_the_build_runs_and_nothing_else() {
        let mut sql = HashMap::from([
            ("a1", "create table a()"),
            ("b2", "create table b()"),
            ("c3", "x"),
        ]);
        let base = key(&sql, &["b2"], "PostgreSQL 15.20").unwrap();
        assert_eq!(key(&sql, &["b2"], "PostgreSQL 15.20"), Some(base.clone()));
        // A revision outside the path does not count.
        sql.insert("c3", "create table c()");
        assert_eq!(key(&sql, &["b2"], "PostgreSQL 15.20"), Some(base.clone()));
        // One on it does; so do the targets and the server.
        sql.insert("a1", "create table a(x int)");
        let edited = key(&sql, &["b2"], "PostgreSQL 15.20").unwrap();
        assert_ne!(edited, base);
        assert_ne!(
            key(&sql, &["b2", "c3"], "PostgreSQL 15.20").unwrap(),
            edited
        );
        assert_ne!(key(&sql, &["b2"], "PostgreSQL 16.4").unwrap(), edited);
        // A revision without SQL, or an unknown target: no key.
        sql.remove("a1");
        assert_eq!(key(&sql, &["b2"], "PostgreSQL 15.20"), None);
        assert_eq!(key(&HashMap::new(), &["zz"], "PostgreSQL 15.20"), None);
    }

    #[test]
    fn an_entry_is_read_back_and_a_damaged_one_is_a_miss() {
        let dir = std::env::temp_dir().join(format!("mp-built-cache-{}", uuid::Uuid::new_v4()));
        let cache = BuiltCache::new(&CacheConfig::in_dir(&dir));
        let sql = HashMap::from([("a1", "create table a()"), ("b2", "y"), ("c3", "z")]);
        let k = key(&sql, &["a1"], "s").unwrap();
        assert!(cache.get(&k).is_none());
        let catalog = Catalog::empty_database();
        cache.put(&k, &catalog);
        assert_eq!(cache.get(&k), Some(catalog));
        fs::write(cache.path(&k).unwrap(), b"\xff\xff not a model").unwrap();
        assert!(cache.get(&k).is_none());
        assert!(BuiltCache::disabled().get(&k).is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

        /// Every model the diff's property tests generate (all object
        /// kinds) comes back from an entry exactly as it went in.
        #[test]
        fn every_model_comes_back_from_its_entry(catalog in crate::schema::diff::gen::catalogs()) {
            let bytes = encode(&catalog).expect("encodes");
            proptest::prop_assert_eq!(decode(&bytes), Some(catalog));
        }
    }

    #[test]
    fn only_the_newest_entries_are_kept() {
        let dir = std::env::temp_dir().join(format!("mp-built-prune-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        for n in 0..MAX_ENTRIES + 3 {
            fs::write(dir.join(format!("{n:02}.json")), "").unwrap();
        }
        prune(&dir);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), MAX_ENTRIES);
        let _ = fs::remove_dir_all(&dir);
    }
}
