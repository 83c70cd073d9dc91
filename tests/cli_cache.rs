//! The parse cache seen from the command line: a second run answers from
//! the cache with the same output, and an edited file is read again.

mod cli_util;

use cli_util::{rev, TestEnv};

/// The `timing: cache ...` line of a run with MERGEPOINT_TIMINGS=1.
fn cache_line(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("timing: cache"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no cache line in:\n{stderr}"))
}

#[test]
fn second_run_is_answered_by_the_cache_with_the_same_output() {
    let env = TestEnv::native(&[
        rev("aaaa", &[]),
        rev("bbbb", &["aaaa"]),
        rev("cccc", &["bbbb"]),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let vars = [
        ("MERGEPOINT_CACHE_DIR", cache_dir),
        ("MERGEPOINT_TIMINGS", "1"),
    ];
    let uncached = env.run_with_env(&["history"], &[("MERGEPOINT_CACHE", "off")]);
    assert_eq!(uncached.code, 0, "{}", uncached.stderr);

    // Files written within the last 2 seconds are read but not recorded.
    let first = env.run_with_env(&["history"], &vars);
    assert_eq!(
        cache_line(&first.stderr),
        "0 hits, 3 parsed, listing read, not written"
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let settled = env.run_with_env(&["history"], &vars);
    assert_eq!(
        cache_line(&settled.stderr),
        "0 hits, 3 parsed, listing read, written"
    );
    let cached = env.run_with_env(&["history"], &vars);
    assert_eq!(
        cache_line(&cached.stderr),
        "3 hits, 0 parsed, listing cached, not written"
    );
    for run in [&first, &settled, &cached] {
        assert_eq!(run.stdout, uncached.stdout);
    }

    // An edit is seen at once; the edited file's old entry is dropped.
    env.write_rev(&rev("cccc", &["bbbb"]).msg("renamed step"));
    let edited = env.run_with_env(&["history"], &vars);
    assert_eq!(
        cache_line(&edited.stderr),
        "2 hits, 1 parsed, listing cached, written"
    );
    assert!(edited.stdout.contains("renamed step"), "{}", edited.stdout);
    assert_eq!(edited.stdout, env.run(&["history"]).stdout);

    let off = env.run_with_env(
        &["heads"],
        &[("MERGEPOINT_CACHE", "off"), ("MERGEPOINT_TIMINGS", "1")],
    );
    assert_eq!(cache_line(&off.stderr), "off");
}
