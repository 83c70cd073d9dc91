//! The sides of `mergepoint diff` and `schema dump`, and how each becomes
//! a [`Catalog`]:
//!
//! - a PostgreSQL URL (`postgresql://`, `postgres://`, key=value
//!   settings): that database's live schema;
//! - a `.sql` file, or a directory of them read in sorted order: loaded
//!   statement by statement into a temporary database on the dev server;
//! - `rev:IDENT`: the project's revisions applied up to IDENT (any
//!   identifier of the grammar) on a temporary database, mergepoint's own
//!   version and history tables left out of the read.
//!
//! The dev server is needed only by the last two ([`Side::needs_dev_server`]).
//! Everything here is library API: the next commands (autogenerate,
//! `check --schema`, `verify`, `merge --verify`) build on
//! [`load_sql_files`], [`build_revisions`] and [`read`].

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::built_cache::{BuildKey, BuiltCache};
use super::devserver::{DevServer, TempDatabase};
use super::model::{Catalog, QualName};
use super::read::{read_catalog, ReadError, ReadOptions};
use crate::db::{
    self, Database, DbError, RunOptions, StepSql, VersionTable, HISTORY_TABLE, LEASE_TABLE,
};
use crate::graph::{Direction, ResolveError, RevisionGraph};

/// One side, as written on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// A database URL or key=value settings.
    Url(String),
    /// A `.sql` file or a directory of `.sql` files.
    Sql(PathBuf),
    /// `rev:IDENT`: the identifier, without `rev:`.
    Rev(String),
}

impl Side {
    /// Reads a side: `rev:` first, then a URL, then an existing path, then
    /// key=value settings (`host=... dbname=...`).
    pub fn parse(text: &str) -> Result<Side, SourceError> {
        if let Some(ident) = text.strip_prefix("rev:") {
            if ident.is_empty() {
                return Err(SourceError::NotASide {
                    text: text.to_string(),
                    why: "rev: needs an identifier (rev:head, rev:base, rev:3f2a)".to_string(),
                });
            }
            return Ok(Side::Rev(ident.to_string()));
        }
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            return Ok(Side::Url(text.to_string()));
        }
        let path = Path::new(text);
        if path.exists() {
            return Ok(Side::Sql(path.to_path_buf()));
        }
        if text.contains('=') {
            return Ok(Side::Url(text.to_string()));
        }
        Err(SourceError::NotASide {
            text: text.to_string(),
            why: "it is not a postgresql:// URL, key=value settings, rev:IDENT, or an existing .sql file or directory".to_string(),
        })
    }

    /// Whether reading this side needs the dev server.
    pub fn needs_dev_server(&self) -> bool {
        !matches!(self, Side::Url(_))
    }

    /// How messages name the side (a URL masked).
    pub fn describe(&self) -> String {
        match self {
            Side::Url(u) => db::mask_url(u),
            Side::Sql(p) => p.display().to_string(),
            Side::Rev(i) => format!("rev:{i}"),
        }
    }
}

/// Why a side could not be read.
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{text:?} is not a schema to compare: {why}")]
    NotASide { text: String, why: String },
    /// A `.sql` or `rev:` side with no dev server configured.
    #[error("{side} needs a dev server (a PostgreSQL server where mergepoint may create temporary databases), and none is configured")]
    NoDevServer { side: String },
    /// A file or directory that cannot be read, or a directory with no
    /// `.sql` file.
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
    /// A statement of a `.sql` file failed on the dev server.
    #[error("{}:{line}: {message}", .path.display())]
    SqlFile {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// `rev:IDENT` does not resolve, or the project cannot be built.
    #[error("rev:{ident}: {source}")]
    Resolve {
        ident: String,
        #[source]
        source: ResolveError,
    },
    /// A `rev:` side on revisions without SQL (Alembic `.py` files).
    #[error("rev:{ident}: revisions {} have no SQL mergepoint can run (Alembic .py revisions); rev: sides need native revisions", .revisions.join(", "))]
    NoSql {
        ident: String,
        revisions: Vec<String>,
    },
    /// A version-table row (`check --schema`) that names no revision of
    /// the project.
    #[error("the database's version table holds {revision}, which is not in the revisions directory, so the schema its revisions build is unknown")]
    UnknownRow { revision: String },
    /// Applying the revisions failed.
    #[error("rev:{ident}: building the schema on the dev server failed: {source}")]
    Build {
        ident: String,
        #[source]
        source: Box<DbError>,
    },
    /// Connecting or creating temporary databases.
    #[error(transparent)]
    Db(Box<DbError>),
    /// Reading the catalog of side `side`.
    #[error("{side}: {source}")]
    Read {
        side: String,
        #[source]
        source: ReadError,
    },
}

impl From<DbError> for SourceError {
    fn from(e: DbError) -> Self {
        SourceError::Db(Box::new(e))
    }
}

/// The `.sql` files of `path`: itself, or a directory's `*.sql` files in
/// sorted order (not recursive).
pub fn sql_files(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let io = |message: String| SourceError::Io {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| io(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(io("the directory holds no .sql file".to_string()));
    }
    Ok(files)
}

/// Runs every statement of `files`, in order, on `database` (one
/// statement at a time, so that `CREATE INDEX CONCURRENTLY` works and a
/// failure names its file and line, from PostgreSQL's error position).
pub fn load_sql_files(database: &mut Database, files: &[PathBuf]) -> Result<(), SourceError> {
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| SourceError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for (line, statement) in crate::sql::split_statements_with_lines(&text) {
            if let Err(e) = database.client().batch_execute(&statement) {
                let at = error_line(&statement, &e).unwrap_or(0);
                return Err(SourceError::SqlFile {
                    path: path.clone(),
                    line: line + at,
                    message: database.scrub(&crate::db::pg_message(&e)),
                });
            }
        }
    }
    Ok(())
}

/// Lines into `statement` of the error's position (PostgreSQL counts
/// characters from 1).
fn error_line(statement: &str, e: &postgres::Error) -> Option<usize> {
    use postgres::error::ErrorPosition;
    let db = e.as_db_error()?;
    let Some(ErrorPosition::Original(pos)) = db.position() else {
        return None;
    };
    let before: String = statement
        .chars()
        .take((*pos as usize).saturating_sub(1))
        .collect();
    Some(before.matches('\n').count())
}

/// The revisions a `rev:` side applies: the graph, its SQL, and the run
/// options (the version table's name and schema come from the project).
pub struct Revisions<'a, S: StepSql> {
    pub graph: &'a RevisionGraph,
    pub sql: &'a S,
    pub options: &'a RunOptions,
}

/// Applies the upgrade path to `ident` on `database` (an empty temporary
/// database) and returns mergepoint's own tables, for [`ReadOptions`]'s
/// `exclude_tables`. The identifier is resolved (and every revision of the
/// path checked for SQL) before anything runs.
pub fn build_revisions<S: StepSql>(
    database: &mut Database,
    revisions: &Revisions<'_, S>,
    ident: &str,
) -> Result<Vec<QualName>, SourceError> {
    let plan = upgrade_path(revisions, ident)?;
    require_sql(&plan.steps, revisions, ident)?;
    let build = |source| SourceError::Build {
        ident: ident.to_string(),
        source: Box::new(source),
    };
    if !plan.steps.is_empty() {
        upgrade_to(database, revisions, ident).map_err(build)?;
    }
    own_tables(database, &revisions.options.table).map_err(build)
}

/// Applies, on `database` (an empty temporary database), what the
/// version-table rows `rows` stand for: each row's revision and everything
/// below it, as `upgrade` would. The schema a database with these rows
/// should have (`check --schema`); no rows: nothing applied. Returns
/// mergepoint's own tables, as [`build_revisions`] does. Every row must be
/// a revision of the graph with SQL, checked before anything runs.
pub fn build_rows<S: StepSql>(
    database: &mut Database,
    revisions: &Revisions<'_, S>,
    rows: &[String],
) -> Result<Vec<QualName>, SourceError> {
    for row in rows {
        if revisions.graph.find(row).is_none() {
            return Err(SourceError::UnknownRow {
                revision: row.clone(),
            });
        }
    }
    require_sql_for(revisions, rows)?;
    for row in rows {
        upgrade_to(database, revisions, row).map_err(|source| SourceError::Build {
            ident: row.clone(),
            source: Box::new(source),
        })?;
    }
    own_tables(database, &revisions.options.table).map_err(|source| SourceError::Build {
        ident: rows.join(","),
        source: Box::new(source),
    })
}

/// The catalog of what `targets` build (each with everything below it, as
/// `upgrade` applies them): from the built-schema cache when an earlier
/// run built the same ([`super::built_cache`]), else `build` on a fresh
/// temporary database of `dev` (returning the tables to leave out), read,
/// and kept. `targets: None` (not resolved) skips the cache; `side` names
/// the side in a read error.
pub fn built_catalog<S: StepSql>(
    dev: &DevServer,
    revisions: &Revisions<'_, S>,
    targets: Option<&[String]>,
    schemas: &[String],
    side: &str,
    build: impl FnOnce(&mut Database) -> Result<Vec<QualName>, SourceError>,
) -> Result<Catalog, SourceError> {
    let cache = BuiltCache::new(&crate::script::CacheConfig::from_env());
    let key = match targets {
        Some(targets) if cache.is_on() => BuildKey::new(
            &dev.describe()?,
            schemas,
            &revisions.options.table.display_name(),
            revisions.graph,
            targets,
            |id| revisions.sql.step_sql(id, Direction::Upgrade),
        ),
        _ => None,
    };
    if let Some(catalog) = key.as_ref().and_then(|k| cache.get(k)) {
        tracing::info!("built schema: from the cache");
        return Ok(catalog);
    }
    let mut temp = dev.temp_database()?;
    let exclude_tables = build(temp.database())?;
    let options = ReadOptions {
        schemas: schemas.to_vec(),
        exclude_tables,
    };
    let _phase = tracing::info_span!("catalog read").entered();
    let catalog = read_catalog(temp.client(), &options).map_err(|source| SourceError::Read {
        side: side.to_string(),
        source,
    })?;
    if let Some(key) = &key {
        cache.put(key, &catalog);
    }
    Ok(catalog)
}

/// The upgrade plan from an empty database to `ident`.
fn upgrade_path<S: StepSql>(
    revisions: &Revisions<'_, S>,
    ident: &str,
) -> Result<crate::graph::Plan, SourceError> {
    revisions
        .graph
        .plan_upgrade(&[], ident)
        .map_err(|source| SourceError::Resolve {
            ident: ident.to_string(),
            source,
        })
}

/// Refuses `steps` when one of their revisions has no SQL mergepoint can
/// run (Alembic `.py` revisions), naming them; `ident` is what was being
/// built. Called before anything runs.
pub fn require_sql<S: StepSql>(
    steps: &[crate::graph::Step],
    revisions: &Revisions<'_, S>,
    ident: &str,
) -> Result<(), SourceError> {
    let missing = db::missing_sql(steps, revisions.sql);
    match missing.is_empty() {
        true => Ok(()),
        false => Err(SourceError::NoSql {
            ident: ident.to_string(),
            revisions: missing,
        }),
    }
}

/// [`require_sql`] for the upgrade paths from an empty database to each
/// of `targets` (one error naming every revision without SQL).
pub fn require_sql_for<S: StepSql>(
    revisions: &Revisions<'_, S>,
    targets: &[String],
) -> Result<(), SourceError> {
    let mut steps = Vec::new();
    for target in targets {
        steps.extend(upgrade_path(revisions, target)?.steps);
    }
    require_sql(&steps, revisions, &targets.join(","))
}

/// Upgrades `database` to `target` with the runner (lock, version table,
/// audit: as `mergepoint upgrade` would).
pub fn upgrade_to<S: StepSql>(
    database: &mut Database,
    revisions: &Revisions<'_, S>,
    target: &str,
) -> Result<(), DbError> {
    db::move_to(
        database,
        revisions.graph,
        Direction::Upgrade,
        target,
        revisions.sql,
        revisions.options,
        |_: &crate::graph::Step, _| {},
    )?;
    Ok(())
}

/// mergepoint's own bookkeeping tables in `database`: the version table,
/// `mergepoint_history` and `mergepoint_lock`, in the version table's
/// schema (resolved as a run resolves it). Never part of a compared
/// schema: they are not the application's.
pub fn own_tables(database: &mut Database, table: &VersionTable) -> Result<Vec<QualName>, DbError> {
    let table = db::resolve_table(database.client(), table)?;
    let schema = table.schema().unwrap_or("public").to_string();
    Ok([table.name(), HISTORY_TABLE, LEASE_TABLE]
        .into_iter()
        .map(|n| QualName::new(schema.clone(), n))
        .collect())
}

/// What reading a side may need besides the side itself.
pub struct SideContext<'a, S: StepSql> {
    /// Connected on first use by a side that needs it; `None`: not
    /// configured.
    pub dev: Option<&'a DevServer>,
    /// For `rev:` sides; `None` outside a project.
    pub revisions: Option<Revisions<'a, S>>,
    /// The `--schema` filter.
    pub schemas: Vec<String>,
    /// The version table mergepoint's own tables are found by (the
    /// project's, else `alembic_version`): left out of every side.
    pub version_table: VersionTable,
}

/// Reads `side` into a catalog (a temporary database, if one was needed,
/// is dropped before this returns).
pub fn read<S: StepSql>(side: &Side, ctx: &SideContext<'_, S>) -> Result<Catalog, SourceError> {
    let mut options = ReadOptions {
        schemas: ctx.schemas.clone(),
        exclude_tables: Vec::new(),
    };
    let read_err = |source| SourceError::Read {
        side: side.describe(),
        source,
    };
    if let Side::Url(url) = side {
        let mut database = {
            let _phase = tracing::info_span!("load side").entered();
            Database::connect(url)?
        };
        options.exclude_tables = own_tables(&mut database, &ctx.version_table)?;
        let _phase = tracing::info_span!("catalog read").entered();
        return read_catalog(database.client(), &options).map_err(read_err);
    }
    let dev = ctx.dev.ok_or_else(|| SourceError::NoDevServer {
        side: side.describe(),
    })?;
    let path = match side {
        Side::Rev(ident) => {
            let revisions = ctx
                .revisions
                .as_ref()
                .ok_or_else(|| SourceError::NotASide {
                    text: side.describe(),
                    why: "rev: needs a mergepoint project (run in its directory or pass --dir)"
                        .to_string(),
                })?;
            let targets = revisions
                .graph
                .plan_upgrade(&[], ident)
                .ok()
                .map(|plan| plan.end_heads);
            let _phase = tracing::info_span!("load side").entered();
            return built_catalog(
                dev,
                revisions,
                targets.as_deref(),
                &ctx.schemas,
                &side.describe(),
                |database| build_revisions(database, revisions, ident),
            );
        }
        Side::Sql(path) => path,
        Side::Url(_) => unreachable!("handled above"),
    };
    let mut temp: TempDatabase = {
        let _phase = tracing::info_span!("load side").entered();
        let mut temp = dev.temp_database()?;
        load_sql_files(temp.database(), &sql_files(path)?)?;
        options.exclude_tables = own_tables(temp.database(), &ctx.version_table)?;
        temp
    };
    let _phase = tracing::info_span!("catalog read").entered();
    read_catalog(temp.client(), &options).map_err(read_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_parse_by_their_shape() {
        assert_eq!(Side::parse("rev:head").unwrap(), Side::Rev("head".into()));
        assert_eq!(
            Side::parse("rev:coupons@head").unwrap(),
            Side::Rev("coupons@head".into())
        );
        assert!(matches!(Side::parse("postgresql://h/db"), Ok(Side::Url(_))));
        assert!(matches!(Side::parse("postgres://h/db"), Ok(Side::Url(_))));
        assert!(matches!(Side::parse("host=h dbname=d"), Ok(Side::Url(_))));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sql");
        std::fs::write(&p, "").unwrap();
        assert_eq!(Side::parse(p.to_str().unwrap()).unwrap(), Side::Sql(p));
        assert!(Side::parse("nope.sql").is_err());
        assert!(Side::parse("rev:").is_err());
    }

    #[test]
    fn a_directory_reads_its_sql_files_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.sql", "a.sql", "c.txt", "10.sql"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let names: Vec<String> = sql_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["10.sql", "a.sql", "b.sql"]);
        let empty = tempfile::tempdir().unwrap();
        assert!(sql_files(empty.path()).is_err());
    }
}
