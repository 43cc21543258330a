//! The boilerplate every float custom op repeats, written once: the dtype dispatch of its CPU storage
//! ([`dispatch_float!`](crate::dispatch_float)), the contiguous slice a kernel reads ([`cpu_slice`]) and the
//! `CustomOp1/2/3` impl whose `cpu_fwd` runs the op's generic `cpu::<F>` and whose `cuda_fwd` (under the calling
//! crate's `cuda` feature) calls its CUDA twin ([`float_custom_op!`](crate::float_custom_op)).

use candle::{CpuStorage, Layout, WithDType};

/// The contiguous part of a CPU storage that `layout` covers; `op` names the op in the error.
pub fn cpu_slice<'a, T: WithDType>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> candle::Result<&'a [T]> {
    contiguous(T::cpu_storage_as_slice(storage)?, layout, op)
}

/// The part of a Map1/Map2 kernel's slice that `layout` covers; `op` names the op in the error.
pub(crate) fn contiguous<'a, T>(vs: &'a [T], layout: &Layout, op: &str) -> candle::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&vs[start..end]),
        None => candle::bail!("{op}: input must be contiguous"),
    }
}

/// Evaluates `$body` with the type `$T` bound to the float type of `$storage` (a CPU or CUDA storage; f32 or f64,
/// halves are widened by the caller), or returns candle's error naming `$name` and the dtype.
#[macro_export]
macro_rules! dispatch_float {
    ($storage:expr, $name:expr, |$T:ident| $body:expr) => {
        match $crate::__candle::backend::BackendStorage::dtype($storage) {
            $crate::__candle::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::__candle::DType::F64 => {
                type $T = f64;
                $body
            }
            dtype => Err($crate::__candle::Error::Msg(format!("{}: unsupported dtype {:?}", $name, dtype))),
        }
    };
}

/// Implements candle's `CustomOp1`, `CustomOp2` or `CustomOp3` for a float op from its parts:
///
/// ```text
/// fastvision_ops::float_custom_op! {
///     CustomOp2 for CrossEntropyOp, float of input 1, cpu = cpu, cuda = crate::cuda::cross_entropy_fwd::<F>;
///     fn name(&self) -> &'static str { "fastvision-cross-entropy" }
///     fn bwd(/* as candle's trait */) { /* … */ }
/// }
/// ```
///
/// `cpu_fwd` and `cuda_fwd` dispatch on the dtype of input `float of input N` (`F` is f32 or f64): `cpu_fwd` calls
/// `self.cpu::<F>(s1, l1, …)`, and `cuda_fwd`, compiled where the calling crate's `cuda` feature is on, calls the
/// expression `cuda` (naming `F`) with `(self, s1, l1, …)`. The items
/// after the `;` (`name`, `bwd`) go into the impl as written.
#[macro_export]
macro_rules! float_custom_op {
    (CustomOp1 for $op:ty, float of input $input:literal, cpu = $cpu:ident, cuda = $cuda:expr; $($item:item)*) => {
        impl $crate::__candle::CustomOp1 for $op {
            $($item)*

            fn cpu_fwd(
                &self,
                s1: &$crate::__candle::CpuStorage,
                l1: &$crate::__candle::Layout,
            ) -> $crate::__candle::Result<($crate::__candle::CpuStorage, $crate::__candle::Shape)> {
                $crate::dispatch_float!([s1][$input - 1], self.name(), |F| self.$cpu::<F>(s1, l1))
            }

            #[cfg(feature = "cuda")]
            fn cuda_fwd(
                &self,
                s1: &$crate::__candle::CudaStorage,
                l1: &$crate::__candle::Layout,
            ) -> $crate::__candle::Result<($crate::__candle::CudaStorage, $crate::__candle::Shape)> {
                $crate::dispatch_float!([s1][$input - 1], self.name(), |F| ($cuda)(self, s1, l1))
            }
        }
    };
    (CustomOp2 for $op:ty, float of input $input:literal, cpu = $cpu:ident, cuda = $cuda:expr; $($item:item)*) => {
        impl $crate::__candle::CustomOp2 for $op {
            $($item)*

            fn cpu_fwd(
                &self,
                s1: &$crate::__candle::CpuStorage,
                l1: &$crate::__candle::Layout,
                s2: &$crate::__candle::CpuStorage,
                l2: &$crate::__candle::Layout,
            ) -> $crate::__candle::Result<($crate::__candle::CpuStorage, $crate::__candle::Shape)> {
                $crate::dispatch_float!([s1, s2][$input - 1], self.name(), |F| self.$cpu::<F>(s1, l1, s2, l2))
            }

            #[cfg(feature = "cuda")]
            fn cuda_fwd(
                &self,
                s1: &$crate::__candle::CudaStorage,
                l1: &$crate::__candle::Layout,
                s2: &$crate::__candle::CudaStorage,
                l2: &$crate::__candle::Layout,
            ) -> $crate::__candle::Result<($crate::__candle::CudaStorage, $crate::__candle::Shape)> {
                $crate::dispatch_float!([s1, s2][$input - 1], self.name(), |F| ($cuda)(self, s1, l1, s2, l2))
            }
        }
    };
    (CustomOp3 for $op:ty, float of input $input:literal, cpu = $cpu:ident, cuda = $cuda:expr; $($item:item)*) => {
        impl $crate::__candle::CustomOp3 for $op {
            $($item)*

            fn cpu_fwd(
                &self,
                s1: &$crate::__candle::CpuStorage,
                l1: &$crate::__candle::Layout,
                s2: &$crate::__candle::CpuStorage,
                l2: &$crate::__candle::Layout,
                s3: &$crate::__candle::CpuStorage,
                l3: &$crate::__candle::Layout,
            ) -> $crate::__candle::Result<($crate::__candle::CpuStorage, $crate::__candle::Shape)> {
                $crate::dispatch_float!([s1, s2, s3][$input - 1], self.name(), |F| {
                    self.$cpu::<F>(s1, l1, s2, l2, s3, l3)
                })
            }

            #[cfg(feature = "cuda")]
            fn cuda_fwd(
                &self,
                s1: &$crate::__candle::CudaStorage,
                l1: &$crate::__candle::Layout,
                s2: &$crate::__candle::CudaStorage,
                l2: &$crate::__candle::Layout,
                s3: &$crate::__candle::CudaStorage,
                l3: &$crate::__candle::Layout,
            ) -> $crate::__candle::Result<($crate::__candle::CudaStorage, $crate::__candle::Shape)> {
                $crate::dispatch_float!([s1, s2, s3][$input - 1], self.name(), |F| {
                    ($cuda)(self, s1, l1, s2, l2, s3, l3)
                })
            }
        }
    };
}
