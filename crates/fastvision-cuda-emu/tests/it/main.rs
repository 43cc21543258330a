//! The one integration-test binary of fastvision-cuda-emu: the emulator itself, then the CUDA kernels of
//! fastvision-kernels against the CPU kernels of fastvision-augment and fastvision-losses on the same inputs.

mod shim;
