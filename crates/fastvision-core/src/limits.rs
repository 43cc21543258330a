//! The size limits every crate checks before it allocates, in one place so that a flag, a config field and a
//! model file's header are held to the same numbers.

/// Largest image side, in pixels, that a presize, a batch-transform size or a model file's header may ask for.
///
/// 8192 px is 18× fastai's presizing default (460) and 36× its training size (224); one 8192² RGB image is
/// already 201 MB as u8 and 805 MB as f32, so anything larger is a typo, not a recipe.
pub const MAX_IMAGE_SIDE: usize = 8192;

/// Largest batch, in bytes, a loader may build: the presized u8 images plus the transformed float images.
///
/// 2 GiB is 27× fastbook's batch (64 images presized to 460 px and transformed to 224 px: 75 MiB) and leaves room
/// for the few batches the loader keeps in flight (prefetched, in use, being built) on a 16 GB machine.
pub const MAX_BATCH_BYTES: u64 = 2 << 30;

/// `bytes` for people, in the binary units of the limits and of `--decode-limit-mib`: `1 GiB`, `1.1 GiB`,
/// `75.4 MiB`, `12 bytes`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            let value = format!("{:.1}", bytes as f64 / scale as f64);
            return format!("{} {unit}", value.strip_suffix(".0").unwrap_or(&value));
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests;
