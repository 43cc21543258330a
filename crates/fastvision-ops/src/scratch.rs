//! Per-thread scratch buffers, asked for by name: the convolution kernels' tiles and Winograd's transforms reuse
//! their memory from one call to the next instead of allocating (and page-faulting) it every time.
//!
//! The names map onto five buffers per thread and element type in one place, [`Scratch::slot`]: a thread runs one
//! convolution pass at a time, so the packed GEMM's and Winograd's buffers share memory, as they always have.

use crate::float::Float;

/// A scratch buffer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scratch {
    /// The packed GEMM's im2col columns of one tile (`conv/kernels.rs`).
    Columns,
    /// The packed GEMM's gathered output (or output-gradient) tile (`conv/kernels.rs`).
    OutputTile,
    /// Winograd's input tiles transformed to the 36 points (`conv/winograd.rs`).
    WinogradInput,
    /// Winograd's point-wise products (`conv/winograd.rs`).
    WinogradProducts,
    /// Winograd's channels-last copy of the padded input (`conv/winograd.rs`).
    ChannelsLastInput,
    /// Winograd's channels-last output, or copy of the output gradient (`conv/winograd.rs`).
    ChannelsLastOutput,
    /// Winograd's transformed weights (`conv/winograd.rs`).
    WinogradWeights,
}

impl Scratch {
    /// The thread's buffer this role uses. Roles that share one are never live at once on a thread; a nested use
    /// (rayon work stealing) finds the buffer taken and allocates instead of aliasing.
    pub(crate) const fn slot(self) -> usize {
        match self {
            Scratch::Columns | Scratch::WinogradInput => 0,
            Scratch::OutputTile | Scratch::WinogradProducts => 1,
            Scratch::ChannelsLastInput => 2,
            Scratch::ChannelsLastOutput => 3,
            Scratch::WinogradWeights => 4,
        }
    }
}

/// Runs `f` with this thread's `buffer`, grown to at least `len` elements; its contents are stale and must be
/// written before they are read.
pub(crate) fn with_scratch<T: Float, R>(buffer: Scratch, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    T::with_slot(buffer.slot(), len, f)
}
