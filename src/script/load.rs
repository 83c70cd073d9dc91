//! Loading every revision file of a project: list the directories, then
//! answer each file from the parse cache or read and parse it, in parallel.
//!
//! On 2 cores, with 10,000 files, the time goes to the kernel: listing the
//! directory and one stat per file. So once the cache is decoded, the two
//! halves that do not depend on each other run side by side: the listing
//! (taken from the cache while the directory is unchanged, else read) and a
//! stat of every file the cache knows.

use std::ffi::OsStr;
use std::path::Path;

use rayon::prelude::*;

use super::cache::CacheReport;
use super::cache::{
    CacheConfig, FileKey, ListingRef, ListingSource, Outcome, ParseCache, PARALLEL_FROM,
};
use super::dirfile::{special_kind, DirHandle, FileStamp, NotRegular};
use super::{
    alembic, is_alembic_file, is_native_file, parse_alembic, parse_native, Body, Format, LoadError,
    Loaded, Project,
};
use crate::graph::Revision;

/// A revision file found by [`list_files`].
struct SourceFile {
    /// Index of its directory in [`Listing::dirs`].
    dir: usize,
    /// Index of the revisions directory it was found under.
    root: u32,
    /// The path, as messages show it (the revision's `origin`).
    path: String,
    /// Where the file name starts in `path`.
    name_at: usize,
    /// Where the path below the revisions directory starts in `path`;
    /// None if the path is not UTF-8 (such files are not cached).
    rel_at: Option<usize>,
}

impl SourceFile {
    /// The file `name` in `dir` (`dirs[dir_index]` of its listing), below
    /// revisions directory `root`.
    fn new(dir: &Path, name: &str, dir_index: usize, root: Root) -> SourceFile {
        let (path, rel_at) = match dir.join(name).into_os_string().into_string() {
            Ok(p) => (p, Some(root.rel_at)),
            Err(p) => (p.to_string_lossy().into_owned(), None),
        };
        SourceFile {
            dir: dir_index,
            root: root.index,
            name_at: path.len() - name.len(),
            path,
            rel_at,
        }
    }

    fn name(&self) -> &OsStr {
        OsStr::new(&self.path[self.name_at..])
    }

    fn key(&self) -> Option<FileKey<'_>> {
        Some(FileKey {
            root: self.root,
            rel: &self.path[self.rel_at?..],
        })
    }
}

/// Every revision file of a project, in Alembic's order, and the open
/// directories they are read through.
#[derive(Default)]
struct Listing {
    dirs: Vec<DirHandle>,
    /// `dir_stamps[i]`: the stamp of `dirs[i]`, taken before it was read.
    dir_stamps: Vec<Option<FileStamp>>,
    files: Vec<SourceFile>,
}

impl Listing {
    /// The stamp of the project's only revisions directory, if it has one
    /// (and does not read subdirectories): what lets the next run reuse
    /// this listing while the directory is unchanged.
    fn single_dir(&self, project: &Project) -> Option<FileStamp> {
        only_dir(project)?;
        self.dir_stamps.first().copied().flatten()
    }
}

/// The project's revisions directory, if it has exactly one and does not
/// read subdirectories: the projects whose listing the cache keeps.
fn only_dir(project: &Project) -> Option<&Path> {
    match project.revisions_dirs.as_slice() {
        [dir] if !project.recursive => Some(dir),
        _ => None,
    }
}

/// The listing of `project`'s only revisions directory, from `names`
/// recorded by an earlier run, if the directory's stamp is still `recorded`.
fn reuse_listing(project: &Project, recorded: &FileStamp, names: &[String]) -> Option<Listing> {
    let dir = only_dir(project)?;
    let handle = DirHandle::open(dir).ok()?;
    let stamp = handle.own_stamp().ok()?;
    if stamp != *recorded {
        return None;
    }
    let root = Root::of(0, dir);
    Some(Listing {
        dirs: vec![handle],
        dir_stamps: vec![Some(stamp)],
        files: names
            .iter()
            .map(|name| SourceFile::new(dir, name, 0, root))
            .collect(),
    })
}

/// Lists the revision files of a project in Alembic's order.
fn list_files(project: &Project, problems: &mut Vec<LoadError>) -> Listing {
    let mut listing = Listing::default();
    let dedupe = project.revisions_dirs.len() > 1 || project.recursive;
    let mut seen = std::collections::HashSet::new();
    for (root, dir) in project.revisions_dirs.iter().enumerate() {
        if !dir.exists() {
            // Never an empty project: a CI gate must not pass on nothing.
            problems.push(missing_dir(project, dir));
            continue;
        }
        let first = listing.files.len();
        walk(project, dir, Root::of(root, dir), &mut listing, problems);
        if dedupe {
            let found = listing.files.split_off(first);
            for f in found {
                let real = std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone().into());
                if seen.insert(real) {
                    listing.files.push(f);
                }
            }
        }
    }
    listing
}

/// The error for a configured revisions directory that does not exist,
/// with the fix for where it was configured.
fn missing_dir(project: &Project, dir: &Path) -> LoadError {
    let fix = if project.config.revisions.is_some() {
        format!(
            "create it, or fix `revisions:` in {}",
            project.root.join(crate::config::CONFIG_FILE).display()
        )
    } else if project.format == Format::Native {
        // Not `mergepoint init`: it refuses where mergepoint.yaml exists.
        format!(
            "create it (`mkdir {}`), or set `revisions:` in {}",
            dir.display(),
            project.root.join(crate::config::CONFIG_FILE).display()
        )
    } else {
        "create it, or pass --dir pointing at the Alembic versions directory".to_string()
    };
    LoadError::Io {
        path: dir.to_path_buf(),
        action: "read the revisions directory",
        message: format!("Path doesn't exist; {fix}"),
    }
}

/// The revisions directory a file is below.
#[derive(Clone, Copy)]
struct Root {
    index: u32,
    /// Where paths below it start: they all begin with `dir` and one
    /// separator.
    rel_at: usize,
}

impl Root {
    fn of(index: usize, dir: &Path) -> Root {
        Root {
            index: index as u32,
            rel_at: dir.join("x").as_os_str().len() - 1,
        }
    }
}

fn walk(
    project: &Project,
    dir: &Path,
    root: Root,
    out: &mut Listing,
    problems: &mut Vec<LoadError>,
) {
    // The directory's stamp before its entries are read: if it changes
    // while they are, the next run sees a newer stamp and lists again.
    let listed = DirHandle::open(dir).and_then(|h| {
        let stamp = h.own_stamp().ok();
        Ok((std::fs::read_dir(dir)?, h, stamp))
    });
    let (entries, handle, stamp) = match listed {
        Ok(l) => l,
        Err(e) => {
            problems.push(LoadError::io(dir, "list the directory", &e));
            return;
        }
    };
    let skip_files = project.format == Format::Alembic
        && dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("__pycache__"));
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let revision_like = name.to_str().is_some_and(|n| match project.format {
            Format::Native => is_native_file(n),
            Format::Alembic => is_alembic_file(n),
        });
        // Decided by metadata only (the entry's type, or a stat through a
        // symlink): a FIFO or device named like a revision is never opened.
        match entry_kind(&e) {
            EntryKind::Dir if revision_like && !skip_files => problems.push(LoadError::NotAFile {
                path: e.path(),
                kind: "directory",
            }),
            EntryKind::Dir => dirs.push(name),
            EntryKind::File if revision_like => {
                if let Ok(name) = name.into_string() {
                    files.push(name);
                }
            }
            EntryKind::Special(kind) if revision_like && !skip_files => {
                problems.push(LoadError::NotAFile {
                    path: e.path(),
                    kind,
                })
            }
            _ => {}
        }
    }
    files.sort_unstable();
    if !skip_files {
        let index = out.dirs.len();
        for name in files {
            out.files.push(SourceFile::new(dir, &name, index, root));
        }
    }
    out.dirs.push(handle);
    out.dir_stamps.push(stamp);
    if project.recursive {
        dirs.sort();
        for d in dirs {
            walk(project, &dir.join(d), root, out, problems);
        }
    }
}

/// What a directory entry is, as far as loading is concerned.
enum EntryKind {
    Dir,
    /// A regular file, a symlink to one, or a dangling symlink (whose read
    /// then fails with a message naming it).
    File,
    /// A FIFO, socket or device: never to be opened.
    Special(&'static str),
}

fn entry_kind(e: &std::fs::DirEntry) -> EntryKind {
    let Ok(t) = e.file_type() else {
        return EntryKind::File;
    };
    if t.is_symlink() {
        return match std::fs::metadata(e.path()) {
            Ok(m) => kind_of(&m.file_type()),
            Err(_) => EntryKind::File,
        };
    }
    kind_of(&t)
}

fn kind_of(t: &std::fs::FileType) -> EntryKind {
    if t.is_dir() {
        EntryKind::Dir
    } else if t.is_file() {
        EntryKind::File
    } else {
        EntryKind::Special(special_kind(t))
    }
}

thread_local! {
    /// One read buffer per thread, reused for every file it loads.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads and parses one revision file.
fn load_file(
    format: Format,
    dir: &DirHandle,
    file: &SourceFile,
    buf: &mut Vec<u8>,
) -> Result<(Revision, Body), LoadError> {
    let path = Path::new(&file.path);
    let len = dir.read_into(file.name(), buf).map_err(|e| {
        match e.get_ref().and_then(|e| e.downcast_ref::<NotRegular>()) {
            Some(NotRegular(kind)) => LoadError::NotAFile {
                path: path.to_path_buf(),
                kind,
            },
            None => LoadError::io(path, "read", &e),
        }
    })?;
    let bytes = &buf[..len];
    let latin1;
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // Python honours a Latin-1 coding declaration; so do we.
        Err(_) if format == Format::Alembic && alembic::declares_latin1(bytes) => {
            latin1 = bytes.iter().map(|&b| b as char).collect::<String>();
            &latin1
        }
        Err(e) => {
            return Err(LoadError::Io {
                path: path.to_path_buf(),
                action: "decode",
                message: format!("it is not valid UTF-8 ({e}); save it as UTF-8"),
            })
        }
    };
    match format {
        Format::Native => parse_native(path, text).map(|(r, b)| (r, Body::Native(b))),
        Format::Alembic => parse_alembic(path, text).map(|r| (r, Body::Alembic)),
    }
}

/// Reads every revision file of `project` once, in Alembic's order (file
/// names sorted within each directory, directories in configured order),
/// with the parse cache configured by the environment
/// ([`CacheConfig::from_env`]).
pub fn load(project: &Project) -> Loaded {
    load_with(project, &CacheConfig::from_env())
}

/// A file's revision and body, or why it could not be read.
type Parsed = Result<(Revision, Body), LoadError>;

/// How one file was loaded.
enum FileResult {
    /// Answered by cache entry `.0`.
    Cached(usize),
    /// Read and parsed (with its stamp, taken before reading, when
    /// caching). Boxed: most files are usually hits, and this is large.
    Parsed(Box<(Parsed, Option<FileStamp>)>),
}

/// [`load`] with an explicit cache setting. The result does not depend on
/// scheduling or on the cache. A file that cannot be read or parsed goes
/// to `problems`.
pub fn load_with(project: &Project, cache: &CacheConfig) -> Loaded {
    let mut loaded = Loaded::default();
    let mut cache = ParseCache::open(cache, project);
    let (listing, listing_reused) = list_and_check(project, &mut cache, &mut loaded.problems);
    let results = read_files(project, &listing, cache.as_ref());
    // A listing read just now is recorded for the next run (by name).
    let single_dir = listing.single_dir(project);
    let names: Vec<String> = match single_dir {
        Some(_) if cache.is_some() && !listing_reused => listing
            .files
            .iter()
            .map(|f| f.path[f.name_at..].to_string())
            .collect(),
        _ => Vec::new(),
    };
    let (recorded, counts) = collect(&mut loaded, results, listing.files, cache.as_mut());
    if let Some(c) = cache {
        let listing = match single_dir {
            _ if listing_reused => ListingSource::Reused,
            Some(dir) => ListingSource::Read(ListingRef { dir, names: &names }),
            None => ListingSource::NotRecorded,
        };
        loaded.cache = record(c, &loaded, recorded, counts, listing);
    }
    loaded
}

/// The project's files (and whether the listing came from the cache), with
/// the cache told which of its entries are unchanged. Side by side: the
/// listing (from the cache while the directory is unchanged) and a stat of
/// every file the cache knows.
fn list_and_check(
    project: &Project,
    cache: &mut Option<ParseCache>,
    problems: &mut Vec<LoadError>,
) -> (Listing, bool) {
    let mut list = || {
        let reused = cache
            .as_ref()
            .and_then(ParseCache::listing)
            .and_then(|(stamp, names)| reuse_listing(project, stamp, names));
        match reused {
            Some(listing) => (listing, true),
            None => (list_files(project, problems), false),
        }
    };
    let check = || {
        cache
            .as_ref()
            .map(|c| c.check_entries(&project.revisions_dirs))
    };
    // Threads pay only for large projects (starting the pool costs about
    // as much as a thousand stats).
    let large = cache.as_ref().is_some_and(|c| c.len() >= PARALLEL_FROM);
    let (listing, unchanged) = if large {
        rayon::join(list, check)
    } else {
        let checked = check();
        (list(), checked)
    };
    if let (Some(c), Some(unchanged)) = (cache.as_mut(), unchanged) {
        c.set_unchanged(unchanged);
    }
    listing
}

/// Every file answered from the cache or read and parsed, in parallel, in
/// listing order.
fn read_files(project: &Project, listing: &Listing, cache: Option<&ParseCache>) -> Vec<FileResult> {
    let read = |(position, f): (usize, &SourceFile)| {
        let key = f.key();
        if let Some(i) = cache.zip(key).and_then(|(c, k)| c.lookup(position, k)) {
            return FileResult::Cached(i);
        }
        let dir = &listing.dirs[f.dir];
        // Stat before reading: a write racing the read then leaves a
        // stamp that the next run rejects.
        let stamp = cache.and_then(|_| dir.stamp(f.name()).ok());
        let parsed = READ_BUF.with_borrow_mut(|buf| load_file(project.format, dir, f, buf));
        FileResult::Parsed(Box::new((parsed, stamp)))
    };
    // A file answered from the cache costs little; threads pay only when
    // many files must be read and parsed, or there are very many at all.
    let to_parse = match cache {
        Some(c) => listing.files.len().saturating_sub(c.len()),
        None => listing.files.len(),
    };
    if to_parse >= PARALLEL_PARSE_FROM || listing.files.len() >= PARALLEL_FROM {
        listing
            .files
            .par_iter()
            .enumerate()
            .with_min_len(64)
            .map(read)
            .collect()
    } else {
        listing.files.iter().enumerate().map(read).collect()
    }
}

/// From this many files to read and parse on, they are parsed on all cores.
const PARALLEL_PARSE_FROM: usize = 256;

/// What the cache should record of a loaded revision: its stamp, root
/// index and where its relative path starts in its origin.
type Recorded = Option<(FileStamp, u32, usize)>;

/// Puts the results, in load order, into `loaded` (revisions, bodies and
/// problems); returns what the cache should record for each revision, and
/// how many files were cache hits and how many were parsed.
fn collect(
    loaded: &mut Loaded,
    results: Vec<FileResult>,
    files: Vec<SourceFile>,
    mut cache: Option<&mut ParseCache>,
) -> (Vec<Recorded>, (usize, usize)) {
    let mut recorded = Vec::with_capacity(results.len());
    let (mut hits, mut parsed_files) = (0, 0);
    loaded.revisions.reserve(results.len());
    loaded.bodies.reserve(results.len());
    for (result, f) in results.into_iter().zip(files) {
        let (parsed, stamp) = match result {
            FileResult::Cached(i) => {
                hits += 1;
                match cache.as_mut().and_then(|c| c.take(i)) {
                    Some((rev, body, stamp)) => (Ok((rev, body)), Some(stamp)),
                    None => {
                        let e = std::io::Error::other("a cache entry was used twice");
                        (Err(LoadError::io(Path::new(&f.path), "read", &e)), None)
                    }
                }
            }
            FileResult::Parsed(parsed) => {
                parsed_files += 1;
                *parsed
            }
        };
        match parsed {
            Ok((mut rev, body)) => {
                recorded.push(stamp.zip(f.rel_at).map(|(s, at)| (s, f.root, at)));
                rev.origin = f.path;
                loaded.revisions.push(rev);
                loaded.bodies.push(body);
            }
            Err(e) => loaded.problems.push(e),
        }
    }
    (recorded, (hits, parsed_files))
}

/// Writes what this load learnt into the cache.
fn record(
    cache: ParseCache,
    loaded: &Loaded,
    recorded: Vec<Recorded>,
    (hits, parsed): (usize, usize),
    listing: ListingSource<'_>,
) -> CacheReport {
    let outcomes: Vec<Outcome> = loaded
        .revisions
        .iter()
        .zip(&loaded.bodies)
        .zip(recorded)
        .filter_map(|((revision, body), recorded)| {
            let (stamp, root, rel_at) = recorded?;
            Some(Outcome {
                key: FileKey {
                    root,
                    rel: &revision.origin[rel_at..],
                },
                stamp,
                revision,
                body,
            })
        })
        .collect();
    cache.finish(&outcomes, hits, parsed, listing)
}
