//! Developer tools for the revision-file layer (benchmarks and dumps used
//! while working on `src/script`; none of them is a test):
//!
//! ```text
//! cargo run --release --example script_tools -- load-10k          # load time of 10,000 native and Alembic files
//! cargo run --release --example script_tools -- load-breakdown    # no cache / first cached run / warm run
//! cargo run --release --example script_tools -- parse-cost        # parse cost per file, one thread
//! cargo run --release --example script_tools -- load-repeatedly DIR   # load DIR 20 times (for profiling)
//! cargo run --example script_tools -- write-alembic-fixture DIR   # files from our writer, to point real Alembic at
//! cargo run --example script_tools -- dump-alembic-dir DIR        # what we read, one DUMP line per revision
//! cargo run --example script_tools -- error-messages              # a sample of load error messages
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mergepoint::config::Config;
use mergepoint::graph::Revision;
use mergepoint::script::{
    load, load_with, parse_alembic, parse_native, render_alembic, render_native, write_revision,
    CacheConfig, Format, LoadError, NativeBody, NewRevision, Project,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = || PathBuf::from(args.get(1).expect("this tool takes a directory"));
    match args.first().map(String::as_str) {
        Some("load-10k") => load_10k(),
        Some("load-breakdown") => load_breakdown(),
        Some("parse-cost") => parse_cost(),
        Some("load-repeatedly") => load_repeatedly(&dir()),
        Some("write-alembic-fixture") => write_alembic_fixture(&dir()),
        Some("dump-alembic-dir") => dump_alembic_dir(&dir()),
        Some("error-messages") => error_messages(),
        _ => {
            eprintln!("usage: script_tools load-10k | load-breakdown | parse-cost | load-repeatedly DIR | write-alembic-fixture DIR | dump-alembic-dir DIR | error-messages");
            std::process::exit(2);
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

fn revision(id: &str, parents: &[&str], message: &str) -> Revision {
    Revision {
        id: id.into(),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        depends_on: vec![],
        branch_labels: vec![],
        message: message.into(),
        origin: String::new(),
    }
}

fn native_file(id: &str, parents: &[&str]) -> String {
    render_native(
        &revision(id, parents, &format!("rev {id}")),
        &NativeBody {
            created: None,
            transactional: true,
            upgrade: format!("SELECT '{id}';\n"),
            downgrade: String::new(),
            lock_timeout: None,
            statement_timeout: None,
        },
    )
}

fn new_revision(id: &str, parents: &[&str], message: &str) -> NewRevision {
    NewRevision {
        id: id.into(),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        depends_on: vec![],
        branch_labels: vec![],
        message: message.into(),
        created: chrono::Utc::now(),
        transactional: true,
        upgrade: String::new(),
        downgrade: String::new(),
    }
}

/// CPU time of this process over all its threads, in nanoseconds (Linux).
fn cpu_ns() -> u64 {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Load time at 10,000 files in a chain, best of 5, native and Alembic.
fn load_10k() {
    let tmp = tempfile::tempdir().unwrap();
    let native = tmp.path().join("native");
    write(&native, "mergepoint.yaml", "");
    let alembic = tmp.path().join("alembic/versions");
    let mut prev = String::new();
    for i in 0..10_000 {
        let id = format!("{:012x}", i * 7919 + 1);
        let parents: Vec<&str> = if prev.is_empty() {
            vec![]
        } else {
            vec![prev.as_str()]
        };
        let name = format!("{id}_rev");
        write(
            &native.join("revisions"),
            &format!("{name}.yaml"),
            &native_file(&id, &parents),
        );
        let new = new_revision(&id, &parents, &format!("revision number {i}"));
        write(&alembic, &format!("{name}.py"), &render_alembic(&new));
        prev = id;
    }
    for dir in [native, tmp.path().join("alembic")] {
        let project = Project::locate(Some(&dir)).unwrap();
        let (mut best, mut best_cpu) = (Duration::MAX, u64::MAX);
        for _ in 0..5 {
            let cpu = cpu_ns();
            let t = Instant::now();
            let loaded = load(&project);
            best = best.min(t.elapsed());
            best_cpu = best_cpu.min(cpu_ns().saturating_sub(cpu));
            assert_eq!(loaded.revisions.len(), 10_000);
            assert!(loaded.problems.is_empty());
        }
        eprintln!(
            "{:?}: load 10,000 files: best of 5 = {best:?} wall, {:.1} ms CPU over all threads",
            project.format,
            best_cpu as f64 / 1e6
        );
    }
}

/// 10,000 files without the cache, with a cold cache and a warm one.
fn load_breakdown() {
    let tmp = tempfile::tempdir().unwrap();
    let alembic = tmp.path().join("versions");
    let native = tmp.path().join("revisions");
    for i in 0..10_000 {
        let id = format!("{:012x}", i * 7919 + 1);
        let new = new_revision(&id, &["abc"], &format!("revision number {i}"));
        write(&alembic, &format!("{id}_rev.py"), &render_alembic(&new));
        write(
            &native,
            &format!("{id}_rev.yaml"),
            &native_file(&id, &["abc"]),
        );
    }
    for (dir, format) in [(alembic, Format::Alembic), (native, Format::Native)] {
        let project = Project {
            root: dir.clone(),
            revisions_dirs: vec![dir.clone()],
            format,
            config: Config::default(),
            recursive: false,
            file_template: None,
            truncate_slug_length: None,
            alembic_config: None,
            alembic: None,
        };
        let cache_dir = tempfile::tempdir().unwrap();
        let cached = CacheConfig {
            min_age: Duration::ZERO,
            ..CacheConfig::in_dir(cache_dir.path())
        };
        for (label, cache) in [
            ("no cache", CacheConfig::disabled()),
            ("cache, first run", cached.clone()),
            ("cache, warm", cached),
        ] {
            let t = Instant::now();
            let loaded = load_with(&project, &cache);
            eprintln!("{format:?} {label}: {:?} {:?}", t.elapsed(), loaded.cache);
        }
    }
}

/// Parse cost per file, single thread: Alembic, native through the fast
/// path (a rendered file), native through serde_yaml (a comment line keeps
/// it off the fast path).
fn parse_cost() {
    let native_text = native_file("3f2a9c1d7e55", &["a1b2c3d4e5f6"]);
    let serde_text = format!("# not as rendered\n{native_text}");
    let alembic_text = render_alembic(&new_revision("ffffffffffff", &["dddd", "eeee"], "merge"));
    let path = Path::new("x");
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let cases: [Case; 3] = [
        (
            "alembic",
            Box::new(|| drop(parse_alembic(path, &alembic_text).unwrap())),
        ),
        (
            "native fast",
            Box::new(|| drop(parse_native(path, &native_text).unwrap())),
        ),
        (
            "native serde",
            Box::new(|| drop(parse_native(path, &serde_text).unwrap())),
        ),
    ];
    for (name, f) in cases {
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        eprintln!("{name}: {:?} per file", t.elapsed() / n);
    }
}

/// Loads the project at `dir` 20 times.
fn load_repeatedly(dir: &Path) {
    let project = Project::locate(Some(dir)).unwrap();
    let t = Instant::now();
    let cpu = cpu_ns();
    for _ in 0..20 {
        assert!(load(&project).problems.is_empty());
    }
    eprintln!(
        "{:?} wall, {:.1} ms CPU per load",
        t.elapsed() / 20,
        (cpu_ns() - cpu) as f64 / 20e6
    );
}

/// Writes Alembic files with our writer into `root`, so that real Alembic
/// can be pointed at them.
fn write_alembic_fixture(root: &Path) {
    write(
        root,
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/mig\n",
    );
    write(root, "mig/script.py.mako", "");
    fs::create_dir_all(root.join("mig/versions")).unwrap();
    let project = Project::locate(Some(root)).unwrap();
    let mk = |id: &str, parents: &[&str], deps: &[&str], labels: &[&str], msg: &str, up: &str| {
        NewRevision {
            depends_on: deps.iter().map(|s| s.to_string()).collect(),
            branch_labels: labels.iter().map(|s| s.to_string()).collect(),
            upgrade: up.into(),
            ..new_revision(id, parents, msg)
        }
    };
    for r in [
        mk(
            "aaaaaaaaaaaa",
            &[],
            &[],
            &["shop"],
            "create \"orders\" \\ table",
            "",
        ),
        mk(
            "bbbbbbbbbbbb",
            &["aaaaaaaaaaaa"],
            &[],
            &[],
            "ends with quote\"",
            "CREATE TABLE t (x text DEFAULT 'a''b');\n",
        ),
        mk(
            "cccccccccccc",
            &["aaaaaaaaaaaa"],
            &["shop"],
            &["x", "y"],
            "has \"\"\" triple",
            "",
        ),
        mk(
            "dddddddddddd",
            &["bbbbbbbbbbbb", "cccccccccccc"],
            &[],
            &[],
            "merge: ünï ✓\n\nsecond para",
            "",
        ),
    ] {
        let path = write_revision(&project, &r).unwrap();
        let ours = parse_alembic(&path, &fs::read_to_string(&path).unwrap()).unwrap();
        eprintln!(
            "{:?}",
            (
                path.file_name().unwrap(),
                &ours.id,
                &ours.parents,
                &ours.branch_labels,
                &ours.depends_on,
                &ours.message
            )
        );
    }
}

/// Prints what we read from an Alembic project, one `DUMP name|id|parents|
/// labels|depends_on|message` line per revision, for diffing against real
/// Alembic.
fn dump_alembic_dir(dir: &Path) {
    let project = Project::locate(Some(dir)).unwrap();
    let loaded = load(&project);
    for r in &loaded.revisions {
        let name = Path::new(&r.origin)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        println!(
            "DUMP {name}|{}|{}|{}|{}|{:?}",
            r.id,
            r.parents.join(","),
            r.branch_labels.join(","),
            r.depends_on.join(","),
            r.message
        );
    }
    for p in &loaded.problems {
        println!("PROBLEM {p}");
    }
}

/// A sample of the messages load errors print.
fn error_messages() {
    let native = Path::new("revisions/a_x.yaml");
    let py = Path::new("versions/a_x.py");
    let cases: Vec<LoadError> = vec![
        parse_native(native, "id: abc\nparents: [a\nmessage: x\n").unwrap_err(),
        parse_native(
            native,
            "id: abc\nparents: []\nmesage: typo\nupgrade: x\ndowngrade: y\n",
        )
        .unwrap_err(),
        parse_native(
            native,
            "id: abc\nparents: a1\nmessage: m\nupgrade: x\ndowngrade: y\n",
        )
        .unwrap_err(),
        parse_native(
            native,
            "parents: []\nmessage: m\nupgrade: x\ndowngrade: y\n",
        )
        .unwrap_err(),
        parse_native(native, "- a\n").unwrap_err(),
        parse_native(
            native,
            "id: a\nparents: []\nmessage: m\nupgrade: |\n  commit;\ndowngrade: ''\n",
        )
        .unwrap_err(),
        parse_alembic(py, "revision = 'a\n").unwrap_err(),
        parse_alembic(py, "revision = 'a'\ndown_revision = foo()\n").unwrap_err(),
        parse_alembic(Path::new("versions/helpers.py"), "x = 1\n").unwrap_err(),
        parse_alembic(py, "revision = 'a'\n").unwrap_err(),
        Config::parse(Path::new("mergepoint.yaml"), "revision: x\n")
            .unwrap_err()
            .into(),
        Project::locate(Some(Path::new("/nonexistent"))).unwrap_err(),
        Project::locate(Some(Path::new("/usr"))).unwrap_err(),
    ];
    for e in cases {
        println!("{e}");
    }
}
