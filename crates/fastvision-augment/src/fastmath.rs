//! Branch-free `ln`, `exp` and fastai's logit-space lighting in f32, written so the compiler vectorises the row
//! loops that call them (libm's `lnf`/`expf` are opaque calls), with as few divisions as they can. Relative error
//! about 1e-7.

const LN2: f32 = std::f32::consts::LN_2;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5 · 2^23: adding it rounds an f32 below 2^22 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// The bits of `sqrt(0.5)`: the mantissa is reduced to [sqrt(0.5), sqrt(2)).
const SQRT_HALF_BITS: i32 = 0x3f35_04f3;

/// Natural logarithm of a positive, normal `x`.
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    let bits = x.to_bits() as i32;
    let exponent = (bits - SQRT_HALF_BITS) >> 23;
    let mantissa = f32::from_bits((bits - (exponent << 23)) as u32);
    // ln(m) = 2 atanh(t) with t = (m - 1) / (m + 1), |t| <= 0.172: five odd terms reach f32 precision.
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let series = t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0 + t2 * (2.0 / 9.0)))));
    exponent as f32 * LN2 + series
}

/// `e^x`, saturating to the f32 range.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let poly = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let pow2 = f32::from_bits(((shifted.to_bits() as i32 - 0x4B40_0000 + 127) << 23) as u32);
    poly * pow2
}

/// fastai's lighting of one value in [0, 1]: `sigmoid((logit(v) + brightness_logit) * contrast)`, with fastai's
/// clamp of `v` to [1e-7, 1 - 1e-7].
#[cfg_attr(not(test), allow(dead_code))]
#[inline(always)]
pub(crate) fn lighting(v: f32, brightness_logit: f32, contrast: f32) -> f32 {
    lighting_scaled(v, 1.0, brightness_logit, contrast)
}

/// [`lighting`] of `v = sum / divisor`, without dividing first: `logit(v) = ln(sum / (divisor - sum))`, with the
/// clamp scaled by `divisor`. One division fewer per value (divisions were much of the lighting loop's time), and
/// more accurate near `v = 1`, where `1 - v` cancels: worst error against f64 1.1e-7 instead of 1.3e-6.
#[inline(always)]
pub(crate) fn lighting_scaled(sum: f32, divisor: f32, brightness_logit: f32, contrast: f32) -> f32 {
    let sum = sum.clamp(1e-7 * divisor, (1.0 - 1e-7) * divisor);
    let logit = ln(sum / (divisor - sum));
    let y = (logit + brightness_logit) * contrast;
    1.0 / (1.0 + exp(-y))
}

/// [`lighting_scaled`] without a contrast draw (`contrast == 1`): `sigmoid(logit(v) + b) = v / (v + e^-b (1 - v))`,
/// with `odds_scale = e^-b`. One division, no `ln` or `exp`; a quarter of fastai's images draw no contrast.
#[inline(always)]
pub(crate) fn brightness_scaled(sum: f32, divisor: f32, odds_scale: f32) -> f32 {
    let sum = sum.clamp(1e-7 * divisor, (1.0 - 1e-7) * divisor);
    sum / (sum + odds_scale * (divisor - sum))
}

#[cfg(test)]
mod tests;
