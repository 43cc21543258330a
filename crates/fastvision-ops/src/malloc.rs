//! Keeps glibc from handing large freed buffers back to the kernel, so the next training step reuses them instead
//! of faulting fresh zeroed pages in. Every candle op allocates its output anew; without this a ResNet-18 step at
//! batch 32 spent a quarter of its backward pass in page faults and unmapping (measured: 263 → 100 ms of candle's
//! own backward work per step, whole step 1.06 → 0.86 s).

use std::sync::atomic::{AtomicBool, Ordering};

static APPLIED: AtomicBool = AtomicBool::new(false);

/// The environment variable that, set to `default`, leaves the C allocator's settings alone.
pub const OPT_OUT_VAR: &str = "FASTVISION_MALLOC";

/// Tells glibc's malloc (Linux) to serve every allocation from its heaps (never a private `mmap`) and never to
/// trim freed memory, so the large activation and gradient buffers of one training step are recycled by the next.
/// The process's resident memory then stays at its peak instead of shrinking between steps. Applied once per
/// process; returns whether the settings are in effect. A no-op returning `false` on other platforms, or when
/// the environment variable [`OPT_OUT_VAR`] is `default`.
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
