//! The one run-time choice of CPU build for every kernel crate: [`Level`], the widest instruction set this CPU
//! runs, and [`widest!`](crate::widest), which compiles a loop once per level and calls the widest.
//!
//! All levels compute the same bits: Rust never contracts a multiply and an add into an FMA on its own, and the
//! kernels fix their own lane counts and summation order, so a wider build only processes more lanes at once.

use std::sync::OnceLock;

/// A CPU build of the vectorised loops, from narrow to wide (the order is the derive's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    /// The target's baseline (SSE2 on x86_64): 4 f32 lanes.
    Baseline,
    /// AVX2 + FMA: 8 f32 lanes and AVX2's gather instruction.
    Avx2,
    /// AVX-512 F, BW, VL and DQ on top of AVX2 + FMA: 16 f32 lanes.
    Avx512,
    /// [`Level::Avx512`] with VBMI's byte permutes (augment's interleaved RGB gather).
    Avx512Vbmi,
}

impl Level {
    /// The widest level this CPU runs, detected once per process.
    pub fn detect() -> Self {
        static DETECTED: OnceLock<Level> = OnceLock::new();
        *DETECTED.get_or_init(Self::probe)
    }

    /// Every level up to the detected one, narrowest first (tests compare their results).
    pub fn available() -> impl Iterator<Item = Self> {
        [Self::Baseline, Self::Avx2, Self::Avx512, Self::Avx512Vbmi]
            .into_iter()
            .filter(|&level| level <= Self::detect())
    }

    #[cfg(target_arch = "x86_64")]
    fn probe() -> Self {
        use std::arch::is_x86_feature_detected as has;
        if !(has!("avx2") && has!("fma")) {
            return Self::Baseline;
        }
        if !(has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq")) {
            return Self::Avx2;
        }
        if has!("avx512vbmi") {
            Self::Avx512Vbmi
        } else {
            Self::Avx512
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn probe() -> Self {
        Self::Baseline
    }
}

/// Defines `fn $name<generics>(args) -> ret` that runs `$inner` compiled for the widest [`Level`] this CPU runs
/// (AVX-512, AVX2 + FMA, or the SSE2 baseline). For compute-bound loops the compiler vectorises, they run 2–4×
/// wider, with the same bits (see [`Level`]).
///
/// Two forms:
/// - `widest!(fn name[T: Float, const R: bool][T, R](x: &[T]) -> f64 = name_any);` wraps an
///   `#[inline(always)]` function `name_any`: the generics, then the arguments that pass them on.
/// - `widest!(fn name / name_baseline[F: Float][F](x: &[F]) -> f64 { body });` also defines `name_baseline`, the
///   body in the baseline build, for the tests that compare the builds.
///
/// Either form may end in `, up to Avx2` (before the body or after `$inner`) to stop at that level: the loss
/// kernels were measured at AVX2 and stay there.
#[macro_export]
macro_rules! widest {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $baseline:ident [$($generics:tt)*][$($pass:tt)*]
        ($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $(, up to $cap:ident)? $body:block) => {
        #[cfg_attr(not(test), allow(dead_code))]
        #[inline(always)]
        fn $baseline<$($generics)*>($($arg: $ty),*) -> $ret $body

        $crate::widest!($(#[$doc])* $vis fn $name[$($generics)*][$($pass)*]($($arg: $ty),*) -> $ret = $baseline
            $(, up to $cap)?);
    };
    ($(#[$doc:meta])* $vis:vis fn $name:ident[$($generics:tt)*][$($pass:tt)*]($($arg:ident: $ty:ty),* $(,)?)
        -> $ret:ty = $inner:ident $(, up to $cap:ident)?) => {
        $(#[$doc])*
        $vis fn $name<$($generics)*>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")]
                unsafe fn avx512<$($generics)*>($($arg: $ty),*) -> $ret {
                    $inner::<$($pass)*>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<$($generics)*>($($arg: $ty),*) -> $ret {
                    $inner::<$($pass)*>($($arg),*)
                }
                let level = $crate::simd::Level::detect() $(.min($crate::simd::Level::$cap))?;
                if level >= $crate::simd::Level::Avx512 {
                    // SAFETY: the CPU has AVX-512 F, BW, VL and DQ, and AVX2 and FMA (`Level::detect`).
                    return unsafe { avx512::<$($pass)*>($($arg),*) };
                }
                if level >= $crate::simd::Level::Avx2 {
                    // SAFETY: the CPU has AVX2 and FMA (`Level::detect`).
                    return unsafe { avx2::<$($pass)*>($($arg),*) };
                }
            }
            $inner::<$($pass)*>($($arg),*)
        }
    };
}
