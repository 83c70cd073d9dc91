//! The parse cache: what each revision file parsed to, kept between runs,
//! so that an unchanged file costs one `stat` instead of open, read, close
//! and parse. Python keeps `__pycache__` for the same reason.
//!
//! One cache file per project (format + revisions directories), under
//! `$MERGEPOINT_CACHE_DIR`, else `$XDG_CACHE_HOME/mergepoint`, else
//! `~/.cache/mergepoint`; `MERGEPOINT_CACHE=off` turns it off.
//!
//! Why a hit is safe:
//! - an entry is used only if the file's size, mtime, ctime, inode and
//!   device are exactly those recorded; every write to a file moves its
//!   ctime forward, and nobody can set a ctime back;
//! - a file is stat'ed *before* it is read, so a write racing the read
//!   leaves a stamp older than the file, which the next run rejects;
//! - a file whose mtime or ctime is less than `min_age` old (2 s) is not
//!   recorded: file timestamps tick coarsely, so a second write within the
//!   same tick could keep the stamp (git's "racy clean" problem);
//! - the cache is tied to the exact mergepoint binary (version, size and
//!   mtime of the executable), so a new parser never trusts an old answer;
//! - a cache that cannot be read or decoded is ignored, never trusted in
//!   part; it is replaced atomically (write, then rename).
//!
//! Files that fail to parse are never cached: their errors are reported
//! fresh on every run.
//!
//! For a project with one revisions directory (not recursive) the cache also
//! keeps the directory listing, with the directory's own stamp taken before
//! it was read; adding, removing or renaming an entry moves the directory's
//! mtime, so while the stamp is unchanged the listing is too.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dirfile::{DirHandle, FileStamp};
use super::{Body, Format, Project};
use crate::graph::Revision;

/// Bumped when the stored layout changes.
const SCHEMA: u32 = 4;

/// From this many files on, the stats of a load run on all cores (starting
/// the thread pool costs about as much as a thousand stats).
pub(super) const PARALLEL_FROM: usize = 4096;
const MAGIC: &str = "mergepoint parse cache";
/// Cache files kept in the cache directory; the least recently written go
/// first, so temporary projects (CI checkouts, test directories) do not
/// pile up.
const MAX_CACHE_FILES: usize = 64;

/// Where the parse cache lives, if anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cache directory; None turns the cache off.
    pub dir: Option<PathBuf>,
    /// Files changed more recently than this are read but not recorded.
    pub min_age: Duration,
}

impl CacheConfig {
    /// No cache: every file is read and parsed.
    pub fn disabled() -> CacheConfig {
        CacheConfig {
            dir: None,
            min_age: Duration::from_secs(2),
        }
    }

    /// A cache in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> CacheConfig {
        CacheConfig {
            dir: Some(dir.into()),
            ..CacheConfig::disabled()
        }
    }

    /// From the environment: `MERGEPOINT_CACHE=off` (or 0, false, no)
    /// turns the cache off; `MERGEPOINT_CACHE_DIR` names its directory,
    /// else `$XDG_CACHE_HOME/mergepoint`, else `$HOME/.cache/mergepoint`.
    pub fn from_env() -> CacheConfig {
        CacheConfig::from_vars(|k| std::env::var_os(k))
    }

    /// [`Self::from_env`] with `var` in place of the environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> CacheConfig {
        let var = |k: &str| var(k).filter(|v| !v.is_empty());
        if let Some(v) = var("MERGEPOINT_CACHE") {
            let v = v.to_string_lossy().to_ascii_lowercase();
            if matches!(v.as_str(), "0" | "off" | "false" | "no") {
                return CacheConfig::disabled();
            }
        }
        let dir = var("MERGEPOINT_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                var("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|p| p.join("mergepoint"))
            })
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache").join("mergepoint")));
        CacheConfig {
            dir,
            ..CacheConfig::disabled()
        }
    }
}

/// How the cache served one load (`MERGEPOINT_TIMINGS=1` prints it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheReport {
    /// The cache was on.
    pub enabled: bool,
    /// Files answered from the cache.
    pub hits: usize,
    /// Files read and parsed.
    pub parsed: usize,
    /// The directory listing came from the cache (the directory was
    /// unchanged), not from reading the directory.
    pub listing: bool,
    /// The cache file was (re)written.
    pub written: bool,
}

/// Identifies the project and the binary a cache file belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    magic: String,
    schema: u32,
    build: String,
    format: Format,
    recursive: bool,
    dirs: Vec<String>,
}

/// Where a file is: the index of its revisions directory in the project,
/// and its path below that directory (so the key does not depend on how
/// the directory was spelled or on the current directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileKey<'a> {
    pub root: u32,
    pub rel: &'a str,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    root: u32,
    rel: String,
    stamp: FileStamp,
    revision: Revision,
    body: Body,
}

/// The same record, borrowed, for writing.
#[derive(Serialize)]
struct EntryRef<'a> {
    root: u32,
    rel: &'a str,
    stamp: &'a FileStamp,
    revision: &'a Revision,
    body: &'a Body,
}

/// The file names of a project's only revisions directory, in load order,
/// and the directory's stamp taken before it was listed: while the stamp is
/// unchanged (nothing added, removed or renamed), the listing is too.
#[derive(Serialize, Deserialize)]
struct StoredListing {
    dir: FileStamp,
    names: Vec<String>,
}

/// The same, borrowed, for writing.
#[derive(Serialize)]
pub(super) struct ListingRef<'a> {
    pub dir: FileStamp,
    pub names: &'a [String],
}

/// Where this load's listing came from, for [`ParseCache::finish`].
pub(super) enum ListingSource<'a> {
    /// The project has several revisions directories or subdirectories:
    /// no listing is recorded.
    NotRecorded,
    /// Reused from the cache: the directory was unchanged.
    Reused,
    /// Read from the directory just now.
    Read(ListingRef<'a>),
}

/// One file's result, for [`ParseCache::finish`].
pub(super) struct Outcome<'a> {
    pub key: FileKey<'a>,
    pub stamp: FileStamp,
    pub revision: &'a Revision,
    pub body: &'a Body,
}

/// An opened cache: the entries of the last run, in that run's load order.
pub(super) struct ParseCache {
    file: PathBuf,
    dir: PathBuf,
    header: Header,
    min_age: Duration,
    started: SystemTime,
    entries: Vec<Option<Entry>>,
    listing: Option<StoredListing>,
    /// `unchanged[i]`: entry i's file still has the recorded stamp.
    unchanged: Vec<bool>,
    /// Entry index by path, per revisions directory, built only when files
    /// moved (see `lookup`).
    by_key: OnceLock<Vec<HashMap<String, usize>>>,
}

impl ParseCache {
    /// Opens the cache of `project`, or None if the cache is off or the
    /// running binary cannot be identified. A missing, stale or unreadable
    /// cache file opens as empty.
    pub fn open(config: &CacheConfig, project: &Project) -> Option<ParseCache> {
        let dir = config.dir.clone()?;
        let started = SystemTime::now();
        let header = Header {
            magic: MAGIC.to_string(),
            schema: SCHEMA,
            build: build_id()?,
            format: project.format,
            recursive: project.recursive,
            dirs: project
                .revisions_dirs
                .iter()
                .map(|d| {
                    std::path::absolute(d)
                        .unwrap_or_else(|_| d.clone())
                        .to_string_lossy()
                        .into_owned()
                })
                .collect(),
        };
        let file = dir.join(file_name(&header));
        // Only a regular file is read: anything else there (a FIFO would
        // block the open) is treated as no cache, and replaced on write.
        let (entries, listing) = fs::metadata(&file)
            .ok()
            .filter(fs::Metadata::is_file)
            .and_then(|_| fs::read(&file).ok())
            .and_then(|bytes| decode(&bytes, &header))
            .unwrap_or_default();
        Some(ParseCache {
            file,
            dir,
            header,
            min_age: config.min_age,
            started,
            unchanged: Vec::new(),
            entries: entries.into_iter().map(Some).collect(),
            listing,
            by_key: OnceLock::new(),
        })
    }

    /// The recorded listing of the project's only revisions directory:
    /// the directory's stamp then, and the file names.
    pub fn listing(&self) -> Option<(&FileStamp, &[String])> {
        self.listing.as_ref().map(|l| (&l.dir, l.names.as_slice()))
    }

    /// Stats the file of every entry (in parallel), below `roots`, the
    /// project's revisions directories: which are unchanged? (For
    /// [`Self::set_unchanged`].)
    pub fn check_entries(&self, roots: &[PathBuf]) -> Vec<bool> {
        let roots: Vec<Option<DirHandle>> = roots.iter().map(|r| DirHandle::open(r).ok()).collect();
        let unchanged = |e: &Option<Entry>| {
            let Some(e) = e else { return false };
            let Some(Some(dir)) = roots.get(e.root as usize) else {
                return false;
            };
            dir.stamp(OsStr::new(&e.rel)).is_ok_and(|s| s == e.stamp)
        };
        if self.entries.len() >= PARALLEL_FROM {
            self.entries
                .par_iter()
                .with_min_len(64)
                .map(unchanged)
                .collect()
        } else {
            self.entries.iter().map(unchanged).collect()
        }
    }

    /// How many files the cache knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records which entries [`Self::check_entries`] found unchanged.
    pub fn set_unchanged(&mut self, unchanged: Vec<bool>) {
        self.unchanged = unchanged;
    }

    /// The entry for the file at `position` in load order with `key`, if
    /// that file is unchanged since it was recorded (see
    /// [`Self::check_entries`]). Files usually sit where they sat last
    /// time, so the position is tried before any hashing.
    pub fn lookup(&self, position: usize, key: FileKey) -> Option<usize> {
        let same = |i: usize| matches!(&self.entries[i], Some(e) if e.root == key.root && e.rel == key.rel);
        let i = if position < self.entries.len() && same(position) {
            position
        } else {
            *self.index().get(key.root as usize)?.get(key.rel)?
        };
        (same(i) && self.unchanged.get(i) == Some(&true)).then_some(i)
    }

    fn index(&self) -> &[HashMap<String, usize>] {
        self.by_key.get_or_init(|| {
            let mut by_root: Vec<HashMap<String, usize>> = Vec::new();
            for (i, e) in self.entries.iter().enumerate() {
                let Some(e) = e else { continue };
                let root = e.root as usize;
                if by_root.len() <= root {
                    by_root.resize_with(root + 1, HashMap::new);
                }
                by_root[root].insert(e.rel.clone(), i);
            }
            by_root
        })
    }

    /// Takes the revision, body and stamp of entry `i` (from
    /// [`Self::lookup`]). Each entry can be taken once.
    pub fn take(&mut self, i: usize) -> Option<(Revision, Body, FileStamp)> {
        self.entries[i]
            .take()
            .map(|e| (e.revision, e.body, e.stamp))
    }

    /// Records this load's results (`outcomes`: the files read without
    /// error; `hits` of them from the cache, `parsed` files read; the
    /// `listing` of a single-directory project), if they differ from what
    /// is stored: every file, and the listing, old enough to be trusted.
    /// Failures to write are ignored (the cache only saves time).
    pub fn finish(
        self,
        outcomes: &[Outcome],
        hits: usize,
        parsed: usize,
        listing: ListingSource,
    ) -> CacheReport {
        let mut report = CacheReport {
            enabled: true,
            hits,
            parsed,
            listing: matches!(listing, ListingSource::Reused),
            written: false,
        };
        let limit = self
            .started
            .checked_sub(self.min_age)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(i128::MIN, |d| d.as_nanos() as i128);
        let settled = |s: &FileStamp| s.mtime_ns < limit && s.ctime_ns < limit;
        let keep: Vec<EntryRef> = outcomes
            .iter()
            .filter_map(|o| {
                let stamp = &o.stamp;
                settled(stamp).then_some(EntryRef {
                    root: o.key.root,
                    rel: o.key.rel,
                    stamp,
                    revision: o.revision,
                    body: o.body,
                })
            })
            .collect();
        let stored = self.listing.as_ref().map(|l| ListingRef {
            dir: l.dir,
            names: &l.names,
        });
        let listing = match listing {
            ListingSource::NotRecorded => None,
            ListingSource::Reused => stored,
            ListingSource::Read(l) => Some(l).filter(|l| settled(&l.dir)),
        };
        let old_dir = self.listing.as_ref().map(|l| l.dir);
        // Unchanged: every file was a hit, nothing was dropped, and the
        // directory is as recorded.
        if keep.len() == hits
            && self.entries.len() == hits
            && listing.as_ref().map(|l| l.dir) == old_dir
        {
            return report;
        }
        report.written = self.write(&keep, listing.as_ref()).is_ok();
        report
    }

    fn write(&self, entries: &[EntryRef], listing: Option<&ListingRef>) -> std::io::Result<()> {
        let mut bytes = postcard::to_stdvec(&self.header).map_err(std::io::Error::other)?;
        bytes.extend(postcard::to_stdvec(&(entries, listing)).map_err(std::io::Error::other)?);
        fs::create_dir_all(&self.dir)?;
        let tmp = self
            .file
            .with_extension(format!("{}.tmp", std::process::id()));
        let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(&bytes));
        let renamed = written.and_then(|()| fs::rename(&tmp, &self.file));
        if renamed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        renamed?;
        prune(&self.dir, &self.file);
        Ok(())
    }
}

/// What a cache file stores after its header.
type Stored = (Vec<Entry>, Option<StoredListing>);

/// The stored entries and listing, if `bytes` is a cache file for `header`.
fn decode(bytes: &[u8], header: &Header) -> Option<Stored> {
    let (stored, rest): (Header, &[u8]) = postcard::take_from_bytes(bytes).ok()?;
    if stored != *header {
        return None;
    }
    let (body, rest): (Stored, &[u8]) = postcard::take_from_bytes(rest).ok()?;
    rest.is_empty().then_some(body)
}

/// The cache file of a project: a hash of what identifies the project (not
/// the binary, so a new build replaces the old file).
fn file_name(h: &Header) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{}\0{}\0", h.format, h.recursive));
    for d in &h.dirs {
        hash.update(d.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.bin")
}

/// The running binary: its version, size and mtime. Any rebuild changes it.
pub(crate) fn build_id() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let m = fs::metadata(exe).ok()?;
    let mtime = m.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!(
        "{} {} {}",
        env!("CARGO_PKG_VERSION"),
        m.len(),
        mtime.as_nanos()
    ))
}

/// Keeps the newest [`MAX_CACHE_FILES`] cache files in `dir`.
fn prune(dir: &Path, keep: &Path) {
    let Ok(list) = fs::read_dir(dir) else { return };
    let mut files: Vec<(SystemTime, PathBuf)> = list
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "bin") && e.path() != keep)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() < MAX_CACHE_FILES {
        return;
    }
    files.sort();
    for (_, p) in &files[..=files.len() - MAX_CACHE_FILES] {
        let _ = fs::remove_file(p);
    }
}
