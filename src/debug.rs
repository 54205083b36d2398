//! `--debug` (or `REGLOGIN_DEBUG=1`): one line on stderr per decision and per exchange with the
//! outside (config file, store choice, helper runs, HTTP requests and their status, the lock).
//!
//! What it may print is fixed by its callers: paths, registry keys, helper names, URLs, status
//! codes, challenge parameters, user names. Never header values, bodies, helper input or output,
//! or anything held in a `Secret`; `tests/reliability.rs` checks a debug run for every secret.

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns debug output on for this process (the CLI's `--debug`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether debug lines are printed: `--debug`, or `REGLOGIN_DEBUG` set to anything but `0` or
/// empty (so helpers run by other tools can be traced too).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
        || std::env::var_os("REGLOGIN_DEBUG").is_some_and(|value| !value.is_empty() && value != "0")
}

/// Prints `DEBUG: <message>` on stderr when debug output is on; the message is only formatted
/// then.
#[macro_export]
macro_rules! debug_line {
    ($($arg:tt)*) => {
        if $crate::debug::enabled() {
            eprintln!("DEBUG: {}", format_args!($($arg)*));
        }
    };
}
