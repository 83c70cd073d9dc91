//! The `mergepoint` binary: parse the command line, run it, turn the
//! outcome into an exit code. Everything else lives in the library.
//!
//! Exit codes: 0 ok (also when stdout is closed early, e.g. `| head`),
//! 1 a check failed, 2 usage or input error, 3 database error, 4 lock not
//! obtained in time.

use clap::Parser;
use mergepoint::cli::{self, Cli, CliError, ErrorKind};
use std::io::Write;
use std::process::ExitCode;

// Loading allocates many small strings from several threads; mimalloc
// makes that (and freeing it) markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (the bindings
/// have no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // A run lasts a second or less: memory mimalloc gives back to the OS
    // (10 ms after it is freed) is soon wanted again, and every page of it
    // then faults and is zeroed anew. On `diff` of two 1,000-table schemas
    // that was a third of the client's CPU; never give it back.
    // SAFETY: sets one of mimalloc's global options, which it allows at
    // any time from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    cli::timings::init();
    // clap prints help/version (exit 0) and usage errors (exit 2) itself.
    let parsed = Cli::parse();
    let result = run(parsed);
    // A Ctrl-C during a schema command: its handler finishes and exits 130.
    mergepoint::schema::devserver::wait_if_interrupted();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

fn run(parsed: Cli) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    tracing::info_span!("command").in_scope(|| cli::run(parsed, &mut out))?;
    tracing::info_span!("output").in_scope(|| out.flush())?;
    let _phase = tracing::info_span!("teardown").entered();
    drop(out);
    Ok(())
}

fn report(err: &anyhow::Error) -> ExitCode {
    let cli_err = err
        .chain()
        .find_map(|e| e.downcast_ref::<CliError>())
        .cloned()
        .unwrap_or_else(|| {
            let broken = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken {
                CliError::new(ErrorKind::BrokenPipe, "broken pipe")
            } else {
                CliError::new(ErrorKind::Io, format!("{err:#}"))
            }
        });
    if cli_err.kind == ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", cli_err.message);
    for hint in &cli_err.hints {
        let _ = writeln!(stderr, "hint: {hint}");
    }
    ExitCode::from(cli_err.exit_code())
}
