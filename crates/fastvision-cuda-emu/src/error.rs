//! The one error type of fastvision-cuda-emu: a launch the emulator refused, or a kernel that misbehaved.

/// What went wrong with an emulated launch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No kernel of that name was compiled (it is not in `fastvision-kernels/src/signatures.rs`).
    #[error("no emulated kernel `{name}`: add it to crates/fastvision-kernels/src/signatures.rs")]
    UnknownKernel {
        /// The name asked for.
        name: String,
    },
    /// The arguments do not have the kinds the kernel's parameters have: the launch code and the kernel disagree.
    #[error(
        "`{kernel}` takes ({expected}) but the launch passes ({given}): the launch code and the kernel disagree \
         (crates/fastvision-kernels/src/signatures.rs is the reference)"
    )]
    Arguments {
        /// The kernel.
        kernel: String,
        /// Its parameter kinds.
        expected: String,
        /// The kinds of the arguments given.
        given: String,
    },
    /// The emulator refused the launch configuration, or the kernel did something CUDA leaves undefined (a
    /// barrier reached by part of a block, a shuffle with an exited lane, `__trap`).
    #[error("{message}")]
    Kernel {
        /// What happened, naming the kernel, the block and the thread.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
