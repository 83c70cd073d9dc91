/*!
`MERGEPOINT_TIMINGS=1`: where one run spends its time, phase by phase, on
stderr (`timing: load        31.20 ms`, ...). Used by scripts/bench to split
file loading from graph work.

Phases are `tracing` spans (`load`, `graph`, `plan`, `render`, `command`,
`output`, `teardown`); `MERGEPOINT_TIMINGS=2` adds the debug-level ones
inside them (`read columns`, one per catalog query; `diff compute`,
`diff order`, `diff sql`); [`init`] installs a subscriber that prints each
span's own time (its time minus that of the spans inside it) when it
closes, so an enclosing `command` reports only what its inner phases did
not. Without the variable no subscriber is installed and a span costs a
few nanoseconds. The parse cache's report is an event, printed as is.
*/

use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Installs the timing subscriber when `MERGEPOINT_TIMINGS` is set (and
/// not `0`). Call first thing in `main`.
pub fn init() {
    let Some(value) = std::env::var_os("MERGEPOINT_TIMINGS").filter(|v| v != "0") else {
        return;
    };
    // `2` adds the finer spans (debug level): each catalog query, the
    // diff's steps. `1` keeps to the phases scripts/bench* parse.
    let level = if value == "2" {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let subscriber = tracing_subscriber::registry().with(PhaseTimes.with_filter(level));
    // Only fails if a subscriber is already set, which then reports instead.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Reports how the parse cache served the load (`timing: cache ...`).
pub fn cache(report: &crate::script::CacheReport) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let text = if report.enabled {
        format!(
            "{} hits, {} parsed, listing {}, {}",
            report.hits,
            report.parsed,
            if report.listing { "cached" } else { "read" },
            if report.written {
                "written"
            } else {
                "not written"
            }
        )
    } else {
        "off".to_string()
    };
    tracing::info!(phase = "cache", "{text}");
}

/// When a span started and how much of it its inner spans took.
struct Started {
    at: Instant,
    inner: Duration,
}

/// The layer that prints `timing:` lines.
struct PhaseTimes;

impl<S> Layer<S> for PhaseTimes
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started {
                at: Instant::now(),
                inner: Duration::ZERO,
            });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some((took, inner)) = span
            .extensions()
            .get::<Started>()
            .map(|s| (s.at.elapsed(), s.inner))
        else {
            return;
        };
        if let Some(parent) = span.parent() {
            if let Some(p) = parent.extensions_mut().get_mut::<Started>() {
                p.inner += took;
            }
        }
        let own = took.saturating_sub(inner);
        eprintln!(
            "timing: {:<8} {:>8.2} ms",
            span.name(),
            own.as_secs_f64() * 1000.0
        );
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        eprintln!("timing: {:<8} {}", fields.phase, fields.message);
    }
}

/// The `phase` and message of a timing event.
#[derive(Default)]
struct Fields {
    phase: String,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "phase" {
            self.phase = value.to_string();
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        }
    }
}
