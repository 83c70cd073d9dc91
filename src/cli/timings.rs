//! `MERGEPOINT_TIMINGS=1`: where one run spends its time, phase by phase,
//! on stderr (`timing: load 31.20 ms`, ...). Used by scripts/bench to split
//! file loading from graph work; costs nothing when the variable is unset.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MERGEPOINT_TIMINGS").is_some_and(|v| v != "0"))
}

/// Starts the clock (call first thing in `main`).
pub fn start() {
    if enabled() {
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
}

/// Reports the time since the previous mark as `phase`.
pub fn mark(phase: &str) {
    if !enabled() {
        return;
    }
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(prev) = *last {
        eprintln!(
            "timing: {phase:<8} {:>8.2} ms",
            now.duration_since(prev).as_secs_f64() * 1000.0
        );
    }
    *last = Some(now);
}

/// Reports how the parse cache served the load (`timing: cache ...`).
pub fn cache(report: &crate::script::CacheReport) {
    if !enabled() {
        return;
    }
    if report.enabled {
        eprintln!(
            "timing: cache    {} hits, {} parsed, listing {}, {}",
            report.hits,
            report.parsed,
            if report.listing { "cached" } else { "read" },
            if report.written {
                "written"
            } else {
                "not written"
            }
        );
    } else {
        eprintln!("timing: cache    off");
    }
}
