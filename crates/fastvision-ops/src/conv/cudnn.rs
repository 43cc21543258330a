//! Convolution on CUDA through cuDNN, all three passes (forward, input gradient, weight gradient), as custom
//! ops with their own backward like the CPU ones: candle's CUDA backward would take the input gradient through
//! its naive `conv_transpose2d` kernel. f32 computes in strict f32 (no TF32, so it agrees with the CPU to f32
//! rounding); bf16/f16 on tensor cores with f32 accumulation. Algorithms come from cuDNN's heuristics, cached
//! per shape.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use candle::backend::BackendStorage;
use candle::cuda_backend::cudarc::cudnn::safe::{ConvBackwardData, ConvBackwardFilter, ConvForward, Cudnn};
use candle::cuda_backend::cudarc::cudnn::{sys, CudnnDataType};
use candle::cuda_backend::cudarc::driver::{CudaSlice, DeviceRepr, ValidAsZeroBits};
use candle::cuda_backend::CudaStorageSlice;
use candle::{CpuStorage, CudaDevice, CudaStorage, CustomOp2, DType, Layout, Shape, Tensor};

use super::Conv2dConfig;

/// Which of the three passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pass {
    Forward,
    InputGrad,
    WeightGrad,
}

/// What picks an algorithm: the pass, the element type and every size.
type AlgoKey = (Pass, DType, [usize; 4], [usize; 4], [usize; 4]);

thread_local! {
    // cuDNN handles are neither Send nor Sync: one per thread and device, as candle keeps its own.
    static HANDLES: RefCell<HashMap<candle::cuda_backend::DeviceId, Arc<Cudnn>>> = RefCell::new(HashMap::new());
    static ALGOS: RefCell<HashMap<AlgoKey, u32>> = RefCell::new(HashMap::new());
}

fn handle(dev: &CudaDevice) -> candle::Result<Arc<Cudnn>> {
    HANDLES.with(|handles| {
        if let Some(h) = handles.borrow().get(&dev.id()) {
            return Ok(h.clone());
        }
        let h = Cudnn::new(dev.cuda_stream()).map_err(candle::Error::wrap)?;
        handles.borrow_mut().insert(dev.id(), h.clone());
        Ok(h)
    })
}

/// The convolution through cuDNN (the caller checked shapes, device and dtype: f32, f16 or bf16 on CUDA).
pub(super) fn conv2d(input: &Tensor, weight: &Tensor, settings: Conv2dConfig) -> candle::Result<Tensor> {
    input.contiguous()?.apply_op2(&weight.contiguous()?, CudnnConv { settings, pass: Pass::Forward, out: [0; 4] })
}

/// Whether cuDNN takes these tensors.
pub(super) fn applies(input: &Tensor) -> bool {
    input.device().is_cuda()
        && matches!(input.dtype(), DType::F32 | DType::F16 | DType::BF16)
        && !crate::path::generic_forced()
}

/// One pass as a candle op. `out` is the shape of what the gradient passes produce (input or weight dims).
#[derive(Debug, Clone, Copy)]
struct CudnnConv {
    settings: Conv2dConfig,
    pass: Pass,
    out: [usize; 4],
}

impl CustomOp2 for CudnnConv {
    fn name(&self) -> &'static str {
        match self.pass {
            Pass::Forward => "cudnn-conv2d",
            Pass::InputGrad => "cudnn-conv2d-input-grad",
            Pass::WeightGrad => "cudnn-conv2d-weight-grad",
        }
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        candle::bail!("{} runs on CUDA tensors only", self.name())
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> candle::Result<(CudaStorage, Shape)> {
        let (a, b) = (l1.dims(), l2.dims());
        // The three passes' arguments: forward (x, w) → y; input grad (dy, w) → x; weight grad (x, dy) → w.
        let (x, w, dy) = match self.pass {
            Pass::Forward => (a, b, None),
            Pass::InputGrad => (&self.out[..], b, Some(a)),
            Pass::WeightGrad => (a, &self.out[..], Some(b)),
        };
        // The CPU op's shape checks and sizes.
        let g = super::geometry_of(x, w, &self.settings)?;
        let y = [g.batch, g.c_out, g.h_out, g.w_out];
        if dy.is_some_and(|dy| dy != y) {
            candle::bail!("{}: output gradient of shape {dy:?} does not match {g:?}", self.name());
        }
        let four = |d: &[usize]| <[usize; 4]>::try_from(d).map_err(candle::Error::wrap);
        let (x, w) = (four(x)?, four(w)?);
        let dev = s1.device().clone();
        let out_dims = match self.pass {
            Pass::Forward => y,
            Pass::InputGrad => x,
            Pass::WeightGrad => w,
        };
        let slice = match (&s1.slice, &s2.slice) {
            (CudaStorageSlice::F32(p), CudaStorageSlice::F32(q)) => {
                CudaStorageSlice::F32(self.launch(&dev, p, l1, q, l2, (x, w, y))?)
            }
            (CudaStorageSlice::F16(p), CudaStorageSlice::F16(q)) => {
                CudaStorageSlice::F16(self.launch(&dev, p, l1, q, l2, (x, w, y))?)
            }
            (CudaStorageSlice::BF16(p), CudaStorageSlice::BF16(q)) => {
                CudaStorageSlice::BF16(self.launch(&dev, p, l1, q, l2, (x, w, y))?)
            }
            _ => candle::bail!("{}: f32, f16 or bf16 of one type, got {:?}/{:?}", self.name(), s1.dtype(), s2.dtype()),
        };
        Ok((CudaStorage { slice, device: dev }, Shape::from_dims(&out_dims)))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        _output: &Tensor,
        grad: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
        if self.pass != Pass::Forward {
            candle::bail!("{} has no second derivative", self.name());
        }
        let grad = grad.contiguous()?;
        let settings = self.settings;
        super::tracked_grads(
            input,
            weight,
            || grad.apply_op2_no_bwd(weight, &CudnnConv { settings, pass: Pass::InputGrad, out: super::dims4(input)? }),
            || {
                input.apply_op2_no_bwd(
                    &grad,
                    &CudnnConv { settings, pass: Pass::WeightGrad, out: super::dims4(weight)? },
                )
            },
        )
    }
}

impl CudnnConv {
    /// Runs the pass on contiguous views of the two arguments; returns the new output buffer.
    #[allow(clippy::too_many_arguments)]
    fn launch<T: CudnnDataType + DeviceRepr + ValidAsZeroBits + candle::WithDType>(
        &self,
        dev: &CudaDevice,
        p: &CudaSlice<T>,
        l1: &Layout,
        q: &CudaSlice<T>,
        l2: &Layout,
        (x, w, y): ([usize; 4], [usize; 4], [usize; 4]),
    ) -> candle::Result<CudaSlice<T>> {
        let (Some((a0, a1)), Some((b0, b1))) = (l1.contiguous_offsets(), l2.contiguous_offsets()) else {
            candle::bail!("{}: arguments must be contiguous", self.name())
        };
        let (p, q) = (p.slice(a0..a1), q.slice(b0..b1));
        let cudnn = handle(dev)?;
        let i32s = |d: [usize; 4]| -> candle::Result<[i32; 4]> {
            let mut out = [0i32; 4];
            for (o, v) in out.iter_mut().zip(d) {
                *o = i32::try_from(v).map_err(candle::Error::wrap)?;
            }
            Ok(out)
        };
        let s = &self.settings;
        let setting = |v: usize| i32::try_from(v).map_err(candle::Error::wrap);
        let (pad, stride, dil) = (setting(s.padding)?, setting(s.stride)?, setting(s.dilation)?);
        let mut conv = cudnn
            .create_conv2d::<f32>(
                [pad, pad],
                [stride, stride],
                [dil, dil],
                sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
            )
            .map_err(candle::Error::wrap)?;
        conv.set_group_count(setting(s.groups)?).map_err(candle::Error::wrap)?;
        // Strict f32 (no TF32) for f32 data; tensor cores for half precision.
        let math = if T::DATA_TYPE == sys::cudnnDataType_t::CUDNN_DATA_FLOAT {
            sys::cudnnMathType_t::CUDNN_FMA_MATH
        } else {
            sys::cudnnMathType_t::CUDNN_TENSOR_OP_MATH
        };
        conv.set_math_type(math).map_err(candle::Error::wrap)?;
        let nchw = sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW;
        let x_desc = cudnn.create_4d_tensor::<T>(nchw, i32s(x)?).map_err(candle::Error::wrap)?;
        let w_desc = cudnn.create_4d_filter::<T>(nchw, i32s(w)?).map_err(candle::Error::wrap)?;
        let y_desc = cudnn.create_4d_tensor::<T>(nchw, i32s(y)?).map_err(candle::Error::wrap)?;
        let key: AlgoKey = (self.pass, T::DTYPE, x, w, y);
        let cached = ALGOS.with(|a| a.borrow().get(&key).copied());
        let stream = dev.cuda_stream();
        let one_zero = (T::one(), T::zero());
        match self.pass {
            Pass::Forward => {
                let op = ConvForward { conv: &conv, x: &x_desc, w: &w_desc, y: &y_desc };
                let algo = match cached {
                    Some(a) => fwd_algo(a),
                    None => op.pick_algorithm().map_err(candle::Error::wrap)?,
                };
                ALGOS.with(|a| a.borrow_mut().insert(key, algo as u32));
                let mut workspace = workspace(dev, op.get_workspace_size(algo).map_err(candle::Error::wrap)?)?;
                // SAFETY: cuDNN writes every element of the output (beta = 0).
                let mut out = unsafe { stream.alloc::<T>(y.iter().product()) }.map_err(candle::Error::wrap)?;
                // SAFETY: the descriptors describe exactly these contiguous buffers.
                unsafe { op.launch(algo, workspace.as_mut(), one_zero, &p, &q, &mut out) }
                    .map_err(candle::Error::wrap)?;
                Ok(out)
            }
            Pass::InputGrad => {
                let op = ConvBackwardData { conv: &conv, dx: &x_desc, w: &w_desc, dy: &y_desc };
                let algo = match cached {
                    Some(a) => bwd_data_algo(a),
                    None => op.pick_algorithm().map_err(candle::Error::wrap)?,
                };
                ALGOS.with(|a| a.borrow_mut().insert(key, algo as u32));
                let mut workspace = workspace(dev, op.get_workspace_size(algo).map_err(candle::Error::wrap)?)?;
                // SAFETY: as above; `p` is dy, `q` the weight.
                let mut out = unsafe { stream.alloc::<T>(x.iter().product()) }.map_err(candle::Error::wrap)?;
                unsafe { op.launch(algo, workspace.as_mut(), one_zero, &mut out, &q, &p) }
                    .map_err(candle::Error::wrap)?;
                Ok(out)
            }
            Pass::WeightGrad => {
                let op = ConvBackwardFilter { conv: &conv, x: &x_desc, dw: &w_desc, dy: &y_desc };
                let algo = match cached {
                    Some(a) => bwd_filter_algo(a),
                    None => op.pick_algorithm().map_err(candle::Error::wrap)?,
                };
                ALGOS.with(|a| a.borrow_mut().insert(key, algo as u32));
                let mut workspace = workspace(dev, op.get_workspace_size(algo).map_err(candle::Error::wrap)?)?;
                // SAFETY: as above; `p` is x, `q` is dy.
                let mut out = unsafe { stream.alloc::<T>(w.iter().product()) }.map_err(candle::Error::wrap)?;
                unsafe { op.launch(algo, workspace.as_mut(), one_zero, &p, &mut out, &q) }
                    .map_err(candle::Error::wrap)?;
                Ok(out)
            }
        }
    }
}

fn workspace(dev: &CudaDevice, bytes: usize) -> candle::Result<Option<CudaSlice<u8>>> {
    if bytes == 0 {
        return Ok(None);
    }
    // SAFETY: scratch memory; cuDNN initialises what it reads.
    Ok(Some(unsafe { dev.cuda_stream().alloc::<u8>(bytes) }.map_err(candle::Error::wrap)?))
}

// The algorithm enums round-trip through their discriminants for the per-shape cache.
fn fwd_algo(a: u32) -> sys::cudnnConvolutionFwdAlgo_t {
    use sys::cudnnConvolutionFwdAlgo_t as A;
    [
        A::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
        A::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
        A::CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
        A::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT,
        A::CUDNN_CONVOLUTION_FWD_ALGO_FFT,
        A::CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
        A::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD,
        A::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED,
    ]
    .into_iter()
    .find(|x| *x as u32 == a)
    .unwrap_or(A::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM)
}

fn bwd_data_algo(a: u32) -> sys::cudnnConvolutionBwdDataAlgo_t {
    use sys::cudnnConvolutionBwdDataAlgo_t as A;
    [
        A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
        A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
        A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
        A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
        A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
        A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED,
    ]
    .into_iter()
    .find(|x| *x as u32 == a)
    .unwrap_or(A::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1)
}

fn bwd_filter_algo(a: u32) -> sys::cudnnConvolutionBwdFilterAlgo_t {
    use sys::cudnnConvolutionBwdFilterAlgo_t as A;
    [
        A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
        A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
        A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT,
        A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3,
        A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED,
        A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
    ]
    .into_iter()
    .find(|x| *x as u32 == a)
    .unwrap_or(A::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1)
}
