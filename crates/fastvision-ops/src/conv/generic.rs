//! The convolution every device without a fastvision kernel runs (CUDA in f64, a CUDA build without cuDNN, the
//! forced generic path): candle's forward, with our own backward in candle ops. Candle's autograd derives the
//! input gradient's `output_padding` from the height alone, so an input whose two axes leave different
//! remainders under the stride (10×7 at stride 2) gets a gradient of the wrong width and the backward fails;
//! here each axis is sized on its own, and gradients are computed only for arguments that track one.

use candle::backend::BackendStorage;
use candle::{CpuStorage, CudaStorage, CustomOp3, Layout, Shape, Tensor};

use super::Conv2dConfig;

/// `conv2d` through candle, differentiable with [`GradHook`]'s backward (groups of one only; grouped
/// convolutions keep candle's own autograd, which rejects them in the backward).
pub(super) fn conv2d(input: &Tensor, weight: &Tensor, settings: Conv2dConfig) -> candle::Result<Tensor> {
    let Conv2dConfig { stride, padding, dilation, groups } = settings;
    if groups != 1 {
        return input.conv2d(weight, padding, stride, dilation, groups);
    }
    let y = input.detach().conv2d(&weight.detach(), padding, stride, dilation, 1)?;
    y.apply_op3(input, weight, GradHook(settings))
}

/// Forward: hands on the already computed output (argument 1). Backward: the gradients of the input and the
/// weight (arguments 2 and 3).
struct GradHook(Conv2dConfig);

impl CustomOp3 for GradHook {
    fn name(&self) -> &'static str {
        "conv2d-generic"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        pass_on(s1, l1)
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
    ) -> candle::Result<(CudaStorage, Shape)> {
        pass_on(s1, l1)
    }

    fn bwd(
        &self,
        _output: &Tensor,
        input: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Conv2dConfig { stride, padding, dilation, .. } = self.0;
        let grad = grad.contiguous()?;
        let input_grad = || {
            let (_, _, h, w) = input.dims4()?;
            let gh = grad.dim(2)?;
            let kh = weight.dim(2)?;
            // conv_transpose2d's output length is (g - 1)·stride - 2·padding + dilation·(k - 1) + 1 + output_padding;
            // candle takes one output_padding, so the width is cut or zero-extended to its own length (the cells
            // past the last window get no gradient).
            let base = |g: usize, k: usize| ((g - 1) * stride + dilation * (k - 1) + 1).saturating_sub(2 * padding);
            let out_padding = h.saturating_sub(base(gh, kh));
            let dx = grad.conv_transpose2d(&weight.detach(), padding, out_padding, stride, dilation)?;
            let dx_w = dx.dim(3)?;
            match dx_w.cmp(&w) {
                std::cmp::Ordering::Greater => dx.narrow(3, 0, w),
                std::cmp::Ordering::Less => dx.pad_with_zeros(3, 0, w - dx_w),
                std::cmp::Ordering::Equal => Ok(dx),
            }
        };
        let weight_grad = || {
            let (_, _, kh, kw) = weight.dims4()?;
            let dw = input
                .detach()
                .transpose(0, 1)?
                .conv2d(&grad.transpose(0, 1)?, padding, dilation, stride, 1)?
                .transpose(0, 1)?;
            dw.narrow(2, 0, kh)?.narrow(3, 0, kw)?.contiguous()
        };
        let (grad_input, grad_weight) = super::tracked_grads(input, weight, input_grad, weight_grad)?;
        Ok((None, grad_input, grad_weight))
    }
}

/// The storage of a contiguous tensor at offset 0 (a fresh convolution output), as it is.
fn pass_on<S: BackendStorage>(storage: &S, layout: &Layout) -> candle::Result<(S, Shape)> {
    match layout.contiguous_offsets() {
        Some((0, end)) if end == layout.shape().elem_count() => {
            Ok((storage.try_clone(layout)?, layout.shape().clone()))
        }
        _ => candle::bail!("conv2d-generic: the convolution's output must be contiguous"),
    }
}
