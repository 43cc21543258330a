//! An opt-in, process-wide tally of the time spent in each fastvision op (forward and backward separately), for
//! profiling a training step by layer type; off by default, when it costs one atomic load per op.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);
static TALLY: Mutex<BTreeMap<&'static str, OpTime>> = Mutex::new(BTreeMap::new());

/// Calls and total wall time of one op pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpTime {
    /// How many times it ran.
    pub calls: u64,
    /// Total wall time.
    pub total: Duration,
}

/// Starts (or stops) tallying op times for the whole process.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// The tally so far, by pass name (`conv2d.forward`, `conv2d.input_grad`, ...), and resets it.
pub fn take() -> BTreeMap<&'static str, OpTime> {
    std::mem::take(&mut *TALLY.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Runs `f`, adding its wall time to `name` when tallying is on.
pub(crate) fn timed<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    let mut tally = TALLY.lock().unwrap_or_else(|e| e.into_inner());
    let entry = tally.entry(name).or_default();
    entry.calls += 1;
    entry.total += elapsed;
    out
}
