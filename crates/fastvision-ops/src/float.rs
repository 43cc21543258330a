//! The one float trait of the kernel crates ([`Float`]: f32 and f64), their per-thread scratch buffers, and a
//! bounds-checked front end to the `gemm` crate's strided matrix product.

use std::cell::RefCell;
use std::ops::Neg;

use gemm::Parallelism;

/// An element type with CPU kernels: `f32` or `f64` (f16 and bf16 are widened to f32 before). Sealed: the kernels
/// of fastvision-ops, -losses and -augment are written and tested for these two only.
pub trait Float: candle::WithDType + Default + Neg<Output = Self> + sealed::Sealed {
    /// Minus infinity, the neutral element of max.
    const NEG_INFINITY: Self;
    /// Zero.
    const ZERO: Self;

    /// Widening to f64, always inlined (candle's `WithDType::to_f64` is an out-of-line call from other crates).
    fn wide(self) -> f64;

    /// Narrowing from f64, always inlined.
    fn narrow(v: f64) -> Self;

    /// `self` where `gate > 0`, else 0 (also for a NaN gate), without a branch: ReLU's backward mask, whose
    /// outcome is a coin flip that a branch would mispredict half the time.
    fn where_positive(self, gate: Self) -> Self;

    /// `exp(x)` for `x <= 0` (and `-inf`); NaN in gives NaN out, so bad rows stay visible. f32 vectorises
    /// ([`crate::fastmath::exp_keep_nan`]); f64 is the reference precision (libm, within 1 ulp).
    fn exp_nonpositive(x: Self) -> Self;
}

pub(crate) mod sealed {
    /// What only this crate may call on a [`super::Float`]: its per-thread scratch buffers.
    pub trait Sealed: Sized {
        /// Runs `f` with this thread's scratch buffer number `slot` (0 to 4), grown to at least `len` elements
        /// (`crate::scratch` names them).
        fn with_slot<R>(slot: usize, len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
    }
}

/// Number of scratch buffers per thread and element type.
const SLOTS: usize = 5;

thread_local! {
    static SCRATCH_F32: RefCell<[Vec<f32>; SLOTS]> = const { RefCell::new([const { Vec::new() }; SLOTS]) };
    static SCRATCH_F64: RefCell<[Vec<f64>; SLOTS]> = const { RefCell::new([const { Vec::new() }; SLOTS]) };
}

/// Takes the buffer out of its slot while `f` runs (so a nested call on the same thread, e.g. from rayon work
/// stealing, finds an empty slot and allocates instead of aliasing), then puts the larger of the two back.
fn with_slot<T: Float, R>(
    cell: &'static std::thread::LocalKey<RefCell<[Vec<T>; SLOTS]>>,
    slot: usize,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    let mut buf = cell.with(|c| std::mem::take(&mut c.borrow_mut()[slot]));
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    let out = f(&mut buf[..len]);
    cell.with(|c| {
        let mut slots = c.borrow_mut();
        if slots[slot].len() < buf.len() {
            slots[slot] = buf;
        }
    });
    out
}

impl Float for f32 {
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn wide(self) -> f64 {
        self as f64
    }

    #[inline(always)]
    fn narrow(v: f64) -> Self {
        v as f32
    }

    #[inline(always)]
    fn where_positive(self, gate: Self) -> Self {
        f32::from_bits(self.to_bits() & u32::from(gate > 0.0).wrapping_neg())
    }

    #[inline(always)]
    fn exp_nonpositive(x: Self) -> Self {
        crate::fastmath::exp_keep_nan(x)
    }
}

impl sealed::Sealed for f32 {
    fn with_slot<R>(slot: usize, len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        with_slot(&SCRATCH_F32, slot, len, f)
    }
}

impl Float for f64 {
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn wide(self) -> f64 {
        self
    }

    #[inline(always)]
    fn narrow(v: f64) -> Self {
        v
    }

    #[inline(always)]
    fn where_positive(self, gate: Self) -> Self {
        f64::from_bits(self.to_bits() & u64::from(gate > 0.0).wrapping_neg())
    }

    #[inline(always)]
    fn exp_nonpositive(x: Self) -> Self {
        x.exp()
    }
}

impl sealed::Sealed for f64 {
    fn with_slot<R>(slot: usize, len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        with_slot(&SCRATCH_F64, slot, len, f)
    }
}

/// A vector of `len` values that `fill` writes, every one of them: an output buffer without zeroing it first (for
/// memory-bound loops, zeroing is a whole extra pass over memory).
///
/// `fill` must write each of the `len` elements; callers cut the slice into chunks that cover it.
pub(crate) fn filled<T: Float>(len: usize, fill: impl FnOnce(&mut [std::mem::MaybeUninit<T>])) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is at least `len`, and `fill` has written each of the first `len` elements (the
    // contract above, kept by every caller in this crate), so they are initialised.
    unsafe { out.set_len(len) };
    out
}

/// A read-only strided matrix view into a slice: element (r, c) is `data[r·rs + c·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A writable strided matrix view into a slice.
pub(crate) struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// The largest index a `rows`×`cols` view with strides (rs, cs) touches, plus one (0 for an empty view).
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

impl<'a, T> MatRef<'a, T> {
    /// A view; panics (a bug in this crate, never user input) if it would reach outside `data`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(extent(rows, cols, rs, cs) <= data.len(), "matrix view out of bounds");
        Self { data, rows, cols, rs, cs }
    }

    /// The transposed view.
    pub fn t(self) -> Self {
        Self { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A view; panics (a bug in this crate, never user input) if it would reach outside `data`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        assert!(extent(rows, cols, rs, cs) <= data.len(), "matrix view out of bounds");
        Self { data, rows, cols, rs, cs }
    }
}

/// How a matrix product may use threads.
pub(crate) fn parallelism(threads: usize) -> Parallelism {
    if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// `dst = lhs·rhs` (or `dst += lhs·rhs` with `accumulate`), on the `gemm` crate's packed kernels.
pub(crate) fn matmul<T: Float>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    par: Parallelism,
) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(lhs.rows == m && rhs.rows == k && rhs.cols == n, "matmul shapes do not agree");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst.data[r * dst.rs + c * dst.cs] = T::zero();
                }
            }
        }
        return;
    }
    let alpha = if accumulate { T::one() } else { T::zero() };
    // SAFETY: the three views were bounds-checked against their slices on construction, the shapes agree (checked
    // above), `dst` is borrowed mutably so it cannot alias `lhs` or `rhs`, and T is f32 or f64, which gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.cs as isize,
            dst.rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            alpha,
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}
