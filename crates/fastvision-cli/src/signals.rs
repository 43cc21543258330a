//! SIGINT (Ctrl-C), SIGTERM (a scheduler, `docker stop`) and SIGHUP (a closed SSH session) all mean "stop": while
//! training is armed, the first one lets the batch under way finish and writes a checkpoint; a second one, or one
//! outside training, exits at once. The exit code is 128 + the signal, as a shell reports a death by that signal.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The stop signals of this process, handled on a background thread.
#[derive(Debug, Clone)]
pub struct StopSignals {
    received: Arc<AtomicI32>,
    armed: Arc<AtomicBool>,
}

impl StopSignals {
    /// Starts listening. `stop` is the learner's interrupt flag, raised by the first signal while armed.
    pub fn install(stop: Arc<AtomicBool>) -> Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing the signal handlers")?;
        let this = Self { received: Arc::new(AtomicI32::new(0)), armed: Arc::new(AtomicBool::new(false)) };
        let (received, armed) = (Arc::clone(&this.received), Arc::clone(&this.armed));
        std::thread::spawn(move || {
            for signal in signals.forever() {
                let first = received.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_ok();
                if !first || !armed.load(Ordering::SeqCst) {
                    std::process::exit(128 + signal);
                }
                stop.store(true, Ordering::SeqCst);
                eprintln!("\n{}: stopping after this batch and writing a checkpoint (again to quit now)", name(signal));
            }
        });
        Ok(this)
    }

    /// While armed (training), a first signal stops gracefully; otherwise it exits at once.
    pub fn arm(&self, armed: bool) {
        self.armed.store(armed, Ordering::SeqCst);
    }

    /// The signal received, if any.
    pub fn received(&self) -> Option<i32> {
        Some(self.received.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// The exit code for the signal received (128 + its number), or 130 (SIGINT's) when none was.
    pub fn exit_code(&self) -> i32 {
        128 + self.received().unwrap_or(SIGINT)
    }
}

/// The signal's conventional name.
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}
