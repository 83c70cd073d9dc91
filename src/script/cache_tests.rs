//! Tests of the parse cache: a load answered from the cache equals a fresh
//! parse, and every change to the files is seen.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// A native revision file's text; `sql` makes the body (and size) vary.
fn native(id: &str, parents: &[&str], sql: &str) -> String {
    format!(
        "id: {id}\nparents: [{}]\nmessage: revision {id}\nupgrade: '{sql}'\ndowngrade: ''\n",
        parents.join(", ")
    )
}

/// A native project in a temporary directory with a chain of `n` revisions.
struct Fixture {
    root: tempfile::TempDir,
    cache_dir: tempfile::TempDir,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("revisions")).unwrap();
        fs::write(
            root.path().join("mergepoint.yaml"),
            "revisions: revisions\n",
        )
        .unwrap();
        let f = Fixture {
            root,
            cache_dir: tempfile::tempdir().unwrap(),
        };
        for i in 0..n {
            let parents: Vec<String> = (i > 0).then(|| id(i - 1)).into_iter().collect();
            let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
            f.write(i, &native(&id(i), &parents, "SELECT 1"));
        }
        f
    }

    fn file(&self, i: usize) -> PathBuf {
        self.root
            .path()
            .join("revisions")
            .join(format!("{}_r.yaml", id(i)))
    }

    fn write(&self, i: usize, text: &str) {
        fs::write(self.file(i), text).unwrap();
    }

    /// Lets the file clock tick past the last change: these tests record
    /// files however new they are (`min_age` 0), so a change must not
    /// share a clock tick with the state the cache recorded.
    fn tick(&self) {
        std::thread::sleep(Duration::from_millis(20));
    }

    fn project(&self) -> Project {
        Project::locate(Some(self.root.path())).unwrap()
    }

    /// A cache that records files however new they are: tests change
    /// files by size or after a pause, so the racy-clean window is not
    /// needed here (it has its own test).
    fn cache(&self) -> CacheConfig {
        CacheConfig {
            min_age: Duration::ZERO,
            ..CacheConfig::in_dir(self.cache_dir.path())
        }
    }

    fn load(&self) -> Loaded {
        load_with(&self.project(), &self.cache())
    }

    fn cache_files(&self) -> Vec<PathBuf> {
        fs::read_dir(self.cache_dir.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

fn id(i: usize) -> String {
    format!("{i:012x}")
}

/// Loads `project` without any cache: the reference answer.
fn fresh(project: &Project) -> Loaded {
    load_with(project, &CacheConfig::disabled())
}

fn assert_same(a: &Loaded, b: &Loaded) {
    assert_eq!(a.revisions, b.revisions);
    assert_eq!(a.bodies, b.bodies);
    assert_eq!(
        a.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        b.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
}

/// What a load's cache report says: hits, files parsed, cache written.
type Counts = (usize, usize, bool);

fn report(hits: usize, parsed: usize, written: bool) -> Counts {
    (hits, parsed, written)
}

fn seen(l: &Loaded) -> Counts {
    assert!(l.cache.enabled);
    (l.cache.hits, l.cache.parsed, l.cache.written)
}

#[test]
fn second_load_comes_from_the_cache_and_equals_a_fresh_parse() {
    let f = Fixture::new(50);
    let first = f.load();
    assert_eq!(seen(&first), report(0, 50, true));
    assert_eq!(f.cache_files().len(), 1);
    let second = f.load();
    assert_eq!(seen(&second), report(50, 0, false));
    assert_same(&second, &fresh(&f.project()));
    // Origins are the paths as this run spells them.
    assert!(second.revisions[0].origin.ends_with("000000000000_r.yaml"));
}

#[test]
fn an_edited_file_is_read_again() {
    let f = Fixture::new(10);
    f.load();
    f.write(3, &native(&id(3), &[&id(2)], "SELECT 42 + 1000"));
    let after = f.load();
    assert_eq!(seen(&after), report(9, 1, true));
    assert_same(&after, &fresh(&f.project()));
    match &after.bodies[3] {
        Body::Native(b) => assert_eq!(b.upgrade, "SELECT 42 + 1000"),
        other => panic!("not native: {other:?}"),
    }
}

#[test]
fn a_same_size_edit_is_read_again() {
    let f = Fixture::new(5);
    f.load();
    // Same length, different text: only the times tell. Wait out the
    // coarsest file-time tick first.
    std::thread::sleep(Duration::from_millis(50));
    f.write(2, &native(&id(2), &[&id(1)], "SELECT 2"));
    let after = f.load();
    assert_eq!(seen(&after), report(4, 1, true));
    assert_same(&after, &fresh(&f.project()));
}

#[test]
fn added_and_removed_files_are_seen() {
    let f = Fixture::new(6);
    f.load();
    f.tick();
    f.write(6, &native(&id(6), &[&id(5)], "SELECT 1"));
    let added = f.load();
    assert_eq!(seen(&added), report(6, 1, true));
    assert_eq!(added.revisions.len(), 7);

    f.tick();
    fs::remove_file(f.file(6)).unwrap();
    fs::remove_file(f.file(0)).unwrap();
    let removed = f.load();
    // Every remaining file is a hit, and the cache drops the gone ones.
    assert_eq!(seen(&removed), report(5, 0, true));
    assert_same(&removed, &fresh(&f.project()));
    assert_eq!(seen(&f.load()), report(5, 0, false));
}

#[test]
fn an_unchanged_directory_is_not_listed_again() {
    let f = Fixture::new(8);
    assert!(!f.load().cache.listing);
    let second = f.load();
    assert!(second.cache.listing, "{:?}", second.cache);
    assert_same(&second, &fresh(&f.project()));

    // A new file changes the directory: listed again, and seen.
    f.tick();
    f.write(8, &native(&id(8), &[&id(7)], "SELECT 1"));
    let added = f.load();
    assert!(!added.cache.listing);
    assert_eq!(added.revisions.len(), 9);
    assert_same(&added, &fresh(&f.project()));
    assert!(f.load().cache.listing);

    // An edit in place leaves the directory alone but not the file.
    f.tick();
    f.write(2, &native(&id(2), &[&id(1)], "SELECT 22222"));
    let edited = f.load();
    assert!(edited.cache.listing);
    assert_eq!(seen(&edited), report(8, 1, true));
    assert!(edited.problems.is_empty(), "{:?}", edited.problems);
    assert_same(&edited, &fresh(&f.project()));
}

#[test]
fn a_renamed_file_is_its_new_name() {
    let f = Fixture::new(4);
    f.load();
    f.tick();
    let to = f.root.path().join("revisions").join("zzz.yaml");
    fs::rename(f.file(1), &to).unwrap();
    let after = f.load();
    assert_same(&after, &fresh(&f.project()));
    assert_eq!(
        after.revisions.last().unwrap().origin,
        to.display().to_string()
    );
}

#[test]
fn files_that_fail_to_parse_are_never_cached() {
    let f = Fixture::new(3);
    f.write(1, "id: [not, an, id\n");
    for expected in [report(0, 3, true), report(2, 1, false)] {
        let l = f.load();
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert!(l.problems[0].to_string().contains("000000000001_r.yaml"));
        assert_eq!(seen(&l), expected);
        assert_same(&l, &fresh(&f.project()));
    }
}

#[test]
fn new_files_are_not_recorded_until_they_settle() {
    let f = Fixture::new(5);
    let settling = CacheConfig::in_dir(f.cache_dir.path());
    let first = load_with(&f.project(), &settling);
    // Just written: a second write in the same clock tick could keep the
    // stamp, so nothing is trusted yet.
    assert_eq!(seen(&first), report(0, 5, false));
    f.write(4, &native(&id(4), &[&id(3)], "SELECT 4"));
    f.write(5, &native(&id(5), &[&id(4)], "SELECT 5"));
    let second = load_with(&f.project(), &settling);
    assert_eq!(seen(&second), report(0, 6, false));
    assert!(!second.cache.listing);
    assert_same(&second, &fresh(&f.project()));
}

#[test]
fn a_damaged_cache_is_ignored_and_replaced() {
    let f = Fixture::new(20);
    f.load();
    let file = f.cache_files().pop().unwrap();
    let good = fs::read(&file).unwrap();
    let damaged: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"not a cache".to_vec(),
        good[..good.len() / 2].to_vec(),
        [good.as_slice(), b"trailing"].concat(),
        good.iter().map(|b| b ^ 0xff).collect(),
    ];
    for bytes in damaged {
        fs::write(&file, &bytes).unwrap();
        let l = f.load();
        assert_eq!(
            seen(&l),
            report(0, 20, true),
            "damaged: {} bytes",
            bytes.len()
        );
        assert_same(&l, &fresh(&f.project()));
        assert_eq!(seen(&f.load()), report(20, 0, false));
    }
}

#[test]
fn each_project_has_its_own_cache_file() {
    let a = Fixture::new(3);
    let b = Fixture::new(4);
    let shared = a.cache();
    load_with(&a.project(), &shared);
    load_with(&b.project(), &shared);
    assert_eq!(a.cache_files().len(), 2);
    assert_eq!(seen(&load_with(&a.project(), &shared)), report(3, 0, false));
    assert_eq!(load_with(&b.project(), &shared).revisions.len(), 4);
}

#[test]
fn alembic_files_are_cached_too() {
    let f = Fixture::new(0);
    let versions = f.root.path().join("versions");
    fs::create_dir(&versions).unwrap();
    for (i, parent) in ["None", "'aaaaaaaaaaaa'"].iter().enumerate() {
        let rid = if i == 0 {
            "aaaaaaaaaaaa"
        } else {
            "bbbbbbbbbbbb"
        };
        let text = format!("\"\"\"step {i}\"\"\"\nrevision = '{rid}'\ndown_revision = {parent}\n");
        fs::write(versions.join(format!("{rid}_step.py")), text).unwrap();
    }
    let project = Project::locate(Some(&versions)).unwrap();
    assert_eq!(project.format, Format::Alembic);
    load_with(&project, &f.cache());
    let second = load_with(&project, &f.cache());
    assert_eq!(seen(&second), report(2, 0, false));
    assert_same(&second, &fresh(&project));
}

/// The cache directory [`CacheConfig::from_vars`] picks from `pairs`.
fn cache_dir_from(pairs: &[(&str, &str)]) -> Option<PathBuf> {
    CacheConfig::from_vars(|k| {
        pairs
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| std::ffi::OsString::from(v))
    })
    .dir
}

#[test]
fn the_environment_chooses_the_cache() {
    let home = ("HOME", "/h");
    assert_eq!(
        cache_dir_from(&[home]),
        Some(PathBuf::from("/h/.cache/mergepoint"))
    );
    assert_eq!(
        cache_dir_from(&[home, ("XDG_CACHE_HOME", "/x")]),
        Some(PathBuf::from("/x/mergepoint"))
    );
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    assert_eq!(
        cache_dir_from(&[home, ("XDG_CACHE_HOME", "rel")]),
        Some(PathBuf::from("/h/.cache/mergepoint"))
    );
    assert_eq!(
        cache_dir_from(&[home, ("MERGEPOINT_CACHE_DIR", "/c")]),
        Some(PathBuf::from("/c"))
    );
    for off in ["off", "0", "false", "No"] {
        let vars = [
            home,
            ("MERGEPOINT_CACHE_DIR", "/c"),
            ("MERGEPOINT_CACHE", off),
        ];
        assert_eq!(cache_dir_from(&vars), None, "{off}");
    }
    assert_eq!(
        cache_dir_from(&[home, ("MERGEPOINT_CACHE", "on")]),
        Some(PathBuf::from("/h/.cache/mergepoint"))
    );
    assert_eq!(cache_dir_from(&[]), None);
}

#[test]
fn old_cache_files_are_pruned() {
    let f = Fixture::new(2);
    let dir = f.cache_dir.path();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for i in 0..70 {
        let p = dir.join(format!("stale{i:02}.bin"));
        fs::write(&p, b"x").unwrap();
        let t = old + Duration::from_secs(i);
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    fs::write(dir.join("notes.txt"), b"not ours").unwrap();
    assert!(f.load().cache.written);
    let left: Vec<String> = f
        .cache_files()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(String::from))
        .collect();
    // 64 cache files: this project's and the 63 newest stale ones.
    assert_eq!(left.iter().filter(|n| n.ends_with(".bin")).count(), 64);
    assert!(!left.contains(&"stale06.bin".to_string()));
    assert!(left.contains(&"stale07.bin".to_string()));
    assert!(left.contains(&"notes.txt".to_string()));
}

#[test]
fn no_cache_means_no_cache_file() {
    let f = Fixture::new(3);
    let l = load_with(&f.project(), &CacheConfig::disabled());
    assert_eq!(l.cache, CacheReport::default());
    assert!(f.cache_files().is_empty());
}

#[test]
fn an_unwritable_cache_directory_only_costs_speed() {
    let f = Fixture::new(3);
    // A file where the cache directory should be: nothing can be written.
    let blocker = f.cache_dir.path().join("blocked");
    fs::write(&blocker, b"not a directory").unwrap();
    let cache = CacheConfig {
        min_age: Duration::ZERO,
        ..CacheConfig::in_dir(&blocker)
    };
    for _ in 0..2 {
        let l = load_with(&f.project(), &cache);
        assert_eq!(seen(&l), report(0, 3, false));
        assert_same(&l, &fresh(&f.project()));
    }
}

#[test]
fn a_cached_file_replaced_by_a_fifo_or_a_directory_is_an_error_not_a_hang() {
    let f = Fixture::new(5);
    f.load();
    assert_eq!(seen(&f.load()), report(5, 0, false));
    f.tick();
    fs::remove_file(f.file(2)).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(f.file(2))
        .status()
        .unwrap();
    assert!(made.success());
    let l = f.load();
    assert_eq!(l.revisions.len(), 4);
    assert!(
        matches!(&l.problems[..], [LoadError::NotAFile { kind, .. }] if kind.contains("FIFO")),
        "{:?}",
        l.problems
    );
    f.tick();
    fs::remove_file(f.file(2)).unwrap();
    fs::create_dir(f.file(2)).unwrap();
    let l = f.load();
    assert!(
        matches!(
            &l.problems[..],
            [LoadError::NotAFile {
                kind: "directory",
                ..
            }]
        ),
        "{:?}",
        l.problems
    );
}

#[test]
fn a_fifo_in_place_of_the_cache_file_is_no_cache() {
    let f = Fixture::new(3);
    f.load();
    let [cache_file] = &f.cache_files()[..] else {
        panic!("one cache file: {:?}", f.cache_files());
    };
    fs::remove_file(cache_file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(cache_file)
        .status()
        .unwrap();
    assert!(made.success());
    let l = f.load();
    assert_eq!(seen(&l).0, 0, "nothing came from the FIFO");
    assert_same(&l, &fresh(&f.project()));
}
