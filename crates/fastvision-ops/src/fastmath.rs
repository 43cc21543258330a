//! Branch-free `ln` and `exp` in f32 that the compiler vectorises (libm's `lnf`/`expf` are opaque calls), for
//! the row loops of every kernel crate. The range reduction's constants are written once, here.
//!
//! There are two `exp`s because their callers need different edges, and each is kept bit for bit as measured:
//! [`exp_saturating`] (augment's lighting: any input, a degree-7 Taylor polynomial, relative error about 1e-7) and
//! [`exp_keep_nan`] (the losses' `exp(x - max)`: Cephes' polynomial within 2 ulp, NaN kept, subnormals flushed).

const LN2: f32 = std::f32::consts::LN_2;
/// ln 2 split in two so `n·LN2_HI` is exact for the exponents in range (Cody and Waite's range reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5 · 2^23: adding it rounds an f32 below 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// The bits of `ROUND_MAGIC`: subtracting them from `shifted`'s bits leaves the rounded integer.
const ROUND_MAGIC_BITS: i32 = 0x4B40_0000;
/// The bits of `sqrt(0.5)`: the mantissa is reduced to [sqrt(0.5), sqrt(2)).
const SQRT_HALF_BITS: i32 = 0x3f35_04f3;

/// Natural logarithm of a positive, normal `x`.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits() as i32;
    let exponent = (bits - SQRT_HALF_BITS) >> 23;
    let mantissa = f32::from_bits((bits - (exponent << 23)) as u32);
    // ln(m) = 2 atanh(t) with t = (m - 1) / (m + 1), |t| <= 0.172: five odd terms reach f32 precision.
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let series = t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0 + t2 * (2.0 / 9.0)))));
    exponent as f32 * LN2 + series
}

/// `e^x`, saturating to the f32 range (the input is clamped to [-87, 88]).
#[inline(always)]
pub fn exp_saturating(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let poly = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let pow2 = f32::from_bits(((shifted.to_bits() as i32 - ROUND_MAGIC_BITS + 127) << 23) as u32);
    poly * pow2
}

/// `e^x` for the softmax rows (Cephes' `expf` polynomial, within 2 ulp): NaN in gives NaN out, so bad rows stay
/// visible.
///
/// Results below `f32::MIN_POSITIVE` (x < -87.33) are flushed to 0 (absolute error < 1.2e-38): producing a
/// subnormal costs a microcode assist of ~100 cycles per lane, and the padded tails of every row (exp(-inf)) would
/// pay it.
#[inline(always)]
pub fn exp_keep_nan(x: f32) -> f32 {
    /// Below this, exp(x) is under f32::MIN_POSITIVE.
    const SMALLEST: f32 = -87.33;
    let flushed = x < SMALLEST;
    // Written as compares so NaN passes through (f32::max would turn NaN into the bound).
    let x = if x < SMALLEST { SMALLEST } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let shifted = x * LOG2E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // n is in [-126, 127], so 2^n is a normal float. Wrapping arithmetic: overflow checks (on in test builds)
    // would add branches and stop vectorisation.
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUND_MAGIC_BITS);
    let scale = f32::from_bits((n.wrapping_add(127) << 23) as u32);
    let value = p * scale;
    if flushed {
        0.0
    } else {
        value
    }
}

#[cfg(test)]
mod tests;
