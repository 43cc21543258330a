//! Keeps glibc from handing large freed buffers back to the kernel, so the next training step reuses them instead
//! of faulting fresh zeroed pages in. Every candle op allocates its output anew; without this a ResNet-18 step at
//! batch 32 spent a quarter of its backward pass in page faults and unmapping (measured: 263 → 100 ms of candle's
//! own backward work per step, whole step 1.06 → 0.86 s).
//!
//! The setting is process-wide, so it is the program's choice, not a library's (rust-analyzer likewise picks its
//! allocator in its binary): no fastvision library calls [`retain_freed_memory`]. The `fastvision` binary calls it
//! before a command that trains, and so do the benches and examples that time training. A program that trains
//! through the library should call it once at the start of `main`; without it training gives the same bits, only
//! slower on the CPU. The price: resident memory no longer shrinks between steps (peak RSS +25 MiB for ResNet-18
//! at batch 32), so a long-lived process that trains once and then does something else may leave it out.
//!
//! ```
//! // First thing in `main`, before the first training step (`fastvision::ops::malloc` through the facade).
//! fastvision_ops::malloc::retain_freed_memory();
//! // ... then build the DataLoaders and the Learner, and fine_tune ...
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

static APPLIED: AtomicBool = AtomicBool::new(false);

/// The environment variable that, set to `default`, leaves the C allocator's settings alone.
pub const OPT_OUT_VAR: &str = "FASTVISION_MALLOC";

/// Tells glibc's malloc (Linux) to serve every allocation from its heaps (never a private `mmap`) and never to
/// trim freed memory, so the large activation and gradient buffers of one training step are recycled by the next.
/// The process's resident memory then stays at its peak instead of shrinking between steps. Applied once per
/// process; returns whether the settings are in effect. A no-op returning `false` on other platforms, or when
/// the environment variable [`OPT_OUT_VAR`] is `default`. Call it from `main`, before training (see the module
/// docs for why a library never does).
pub fn retain_freed_memory() -> bool {
    if APPLIED.load(Ordering::Relaxed) {
        return true;
    }
    if std::env::var(OPT_OUT_VAR).is_ok_and(|v| v == "default") {
        return false;
    }
    let ok = apply();
    if ok {
        APPLIED.store(true, Ordering::Relaxed);
    }
    ok
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes allocator parameters; glibc takes its own locks, so concurrent calls and
    // allocations are fine, and the values are within the documented ranges.
    unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}
