//! One closeness check for every crate's tests, with named tolerances so that `abs` and `rel` cannot be swapped.

use std::fmt::{Debug, LowerExp};
use std::ops::{Add, Mul, Sub};

/// How far each value may be from the expected one: `|actual − expected| ≤ abs + rel·|expected|`.
///
/// ```
/// use fastvision_core::testing::{assert_close, Tolerance};
/// assert_close(&[1.0f32, 2.0], &[1.0, 2.000_001], Tolerance { abs: 0.0, rel: 1e-6 }, "values");
/// assert_close(&[0.5f64], &[0.5], Tolerance::absolute(0.0), "exact");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance<T> {
    /// Allowed absolute difference.
    pub abs: T,
    /// Allowed difference relative to `|expected|`.
    pub rel: T,
}

impl<T: Float> Tolerance<T> {
    /// Only an absolute tolerance (`rel` is zero).
    pub fn absolute(abs: T) -> Self {
        Self { abs, rel: T::ZERO }
    }

    /// Only a relative tolerance (`abs` is zero).
    pub fn relative(rel: T) -> Self {
        Self { abs: T::ZERO, rel }
    }
}

/// `f32` or `f64`: the element types [`assert_close`] compares, in their own precision.
pub trait Float:
    Copy + PartialOrd + Debug + LowerExp + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + sealed::Sealed
{
    /// Zero.
    const ZERO: Self;
    /// Positive infinity: how far a NaN counts as.
    const INFINITY: Self;
    /// The absolute value.
    fn abs(self) -> Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const INFINITY: Self = <$t>::INFINITY;
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
float!(f32);
float!(f64);

/// How many offending values a failure lists.
const LISTED: usize = 20;

/// Asserts that every `actual[i]` is within `tol` of `expected[i]` (a NaN never is) and returns the largest absolute
/// difference (infinite when a NaN is involved). The failure names `what` and lists the offending values with their
/// indices. The measured difference is printed to stderr (shown with `--nocapture`), so the numbers that READMEs
/// quote can be re-measured.
#[track_caller]
#[allow(clippy::print_stderr, reason = "a test helper: the test harness captures it unless asked to show it")]
pub fn assert_close<T: Float>(actual: &[T], expected: &[T], tol: Tolerance<T>, what: &str) -> T {
    assert_eq!(actual.len(), expected.len(), "{what}: {} values, expected {}", actual.len(), expected.len());
    let mut worst = T::ZERO;
    let mut bad = Vec::new();
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let diff = (a - e).abs();
        let within = diff <= tol.abs + tol.rel * e.abs();
        let diff = if diff.is_nan() { T::INFINITY } else { diff };
        if diff > worst {
            worst = diff;
        }
        if !within {
            bad.push(format!("  [{i}] expected {e:e}, got {a:e} (diff {diff:e})"));
        }
    }
    eprintln!("{what}: max abs diff {worst:.3e} (tolerance abs {:.0e}, rel {:.0e})", tol.abs, tol.rel);
    let more = if bad.len() > LISTED { format!("\n  … and {} more", bad.len() - LISTED) } else { String::new() };
    assert!(
        bad.is_empty(),
        "{what}: {} of {} values off (tolerance abs {:e}, rel {:e}):\n{}{more}",
        bad.len(),
        actual.len(),
        tol.abs,
        tol.rel,
        bad[..bad.len().min(LISTED)].join("\n"),
    );
    worst
}

/// `$FASTVISION_SHARED/<rel>` for tests that read the shared data; fails the test with what to do when the variable
/// is not set or the path is not there.
#[track_caller]
pub fn shared(rel: &str) -> std::path::PathBuf {
    let Some(root) = std::env::var_os("FASTVISION_SHARED") else {
        panic!("FASTVISION_SHARED is not set: export FASTVISION_SHARED=/absolute/path/to/shared to run this test");
    };
    let path = std::path::PathBuf::from(root).join(rel);
    assert!(path.exists(), "{} does not exist (is FASTVISION_SHARED right?)", path.display());
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abs_and_rel_add_up() {
        let worst = assert_close(&[1.0f64, 10.5], &[1.0, 10.0], Tolerance { abs: 0.4, rel: 0.01 }, "sum");
        assert_eq!(worst, 0.5);
    }

    #[test]
    #[should_panic(expected = "values: 1 of 2 values off")]
    fn an_offending_value_fails() {
        assert_close(&[1.0f32, 2.5], &[1.0, 2.0], Tolerance::relative(0.1), "values");
    }

    #[test]
    #[should_panic(expected = "nan: 1 of 1 values off")]
    fn nan_is_never_close() {
        assert_close(&[f32::NAN], &[f32::NAN], Tolerance::absolute(f32::INFINITY), "nan");
    }
}
