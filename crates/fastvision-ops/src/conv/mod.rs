//! 2-D convolution as a candle custom op whose forward and both gradients run as packed matrix products on the
//! CPU, replacing candle's tiled forward and its naive `conv_transpose2d` input gradient.

#[cfg(feature = "cuda")]
mod cudnn;
mod generic;
mod geometry;
mod im2col;
mod kernels;
mod winograd;

use candle::backend::BackendStorage;
use candle::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};

use crate::context::CandleContext;
use crate::custom_op::cpu_slice;
use crate::error::{Error, Result};
use geometry::{out_len, Geometry, Plan};

const OP: &str = "conv2d";

/// The settings of a [`conv2d`]: square stride, padding and dilation, and the number of groups, as in
/// `torch.nn.Conv2d`.
///
/// [`Default`] is PyTorch's defaults: stride 1, padding 0, dilation 1, one group. Set the fields that differ with
/// the `with_*` methods or struct-update syntax:
///
/// ```
/// use fastvision_ops::Conv2dConfig;
/// let config = Conv2dConfig::default().with_stride(2).with_padding(1);
/// assert_eq!(config, Conv2dConfig { stride: 2, padding: 1, ..Conv2dConfig::default() });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Step between output positions, in input pixels (PyTorch's default 1).
    pub stride: usize,
    /// Zeros added on every side of the input (default 0).
    pub padding: usize,
    /// Spacing between kernel taps (default 1: adjacent pixels).
    pub dilation: usize,
    /// Input and output channels are split into this many independent groups (default 1).
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Self { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

impl Conv2dConfig {
    /// This config with `stride`.
    pub const fn with_stride(self, stride: usize) -> Self {
        Self { stride, ..self }
    }

    /// This config with `padding`.
    pub const fn with_padding(self, padding: usize) -> Self {
        Self { padding, ..self }
    }

    /// This config with `dilation`.
    pub const fn with_dilation(self, dilation: usize) -> Self {
        Self { dilation, ..self }
    }

    /// This config with `groups`.
    pub const fn with_groups(self, groups: usize) -> Self {
        Self { groups, ..self }
    }
}

/// 2-D convolution of `input` (N×C×H×W) with `weight` (O×C/groups×KH×KW), without bias, differentiable in both
/// arguments.
///
/// On the CPU in f32 or f64 this runs fastvision's packed-GEMM kernels (forward, input gradient and weight gradient;
/// a gradient is only computed for an argument that tracks one, so detached frozen weights cost nothing); other
/// devices and dtypes go through candle's own `conv2d`.
///
/// ```
/// use candle::{Device, Tensor};
/// let x = Tensor::ones((1, 2, 5, 5), candle::DType::F32, &Device::Cpu)?;
/// let w = Tensor::ones((4, 2, 3, 3), candle::DType::F32, &Device::Cpu)?;
/// let config = fastvision_ops::Conv2dConfig::default().with_stride(2).with_padding(1);
/// let y = fastvision_ops::conv2d(&x, &w, &config)?;
/// assert_eq!(y.dims(), &[1, 4, 3, 3]);
/// // The centre pixel sees all 2·3·3 ones.
/// assert_eq!(y.get(0)?.get(0)?.get(1)?.get(1)?.to_scalar::<f32>()?, 18.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn conv2d(input: &Tensor, weight: &Tensor, config: &Conv2dConfig) -> Result<Tensor> {
    let settings = *config;
    geometry_of(input.dims(), weight.dims(), &settings)?;
    if input.device().location() != weight.device().location() || input.dtype() != weight.dtype() {
        return Err(Error::Mismatch {
            op: OP,
            what: format!(
                "input is {:?} on {:?} but weight is {:?} on {:?}",
                input.dtype(),
                input.device().location(),
                weight.dtype(),
                weight.device().location()
            ),
        });
    }
    if crate::path::autocast_dtype(input).is_some() {
        // Mixed precision: computed in half precision (tensor cores), handed on in f32.
        return Ok(crate::path::autocast_binary(input, weight, |x, w| device_conv2d(x, w, settings))
            .op_ctx(OP, "running the convolution in half precision")?);
    }
    if !native(input) {
        return Ok(device_conv2d(input, weight, settings).op_ctx(OP, "running the convolution")?);
    }
    let input = input.contiguous().op_ctx(OP, "making the input contiguous")?;
    let weight = weight.contiguous().op_ctx(OP, "making the weight contiguous")?;
    Ok(crate::profile::timed("conv2d.forward", || input.apply_op2(&weight, Conv2dOp(settings)))
        .op_ctx(OP, "running the convolution")?)
}

/// Off the CPU: cuDNN (all three passes) on CUDA in f32/f16/bf16 when built with `cuda`, else candle's conv2d
/// with [`generic`]'s backward.
fn device_conv2d(input: &Tensor, weight: &Tensor, settings: Conv2dConfig) -> candle::Result<Tensor> {
    #[cfg(feature = "cuda")]
    if cudnn::applies(input) {
        return cudnn::conv2d(input, weight, settings);
    }
    generic::conv2d(input, weight, settings)
}

/// Whether the fastvision kernels handle this tensor (CPU, f32 or f64).
fn native(t: &Tensor) -> bool {
    crate::path::cpu_native(t) && matches!(t.dtype(), DType::F32 | DType::F64)
}

/// Checks the shapes and settings and derives every size.
fn geometry_of(input: &[usize], weight: &[usize], s: &Conv2dConfig) -> Result<Geometry> {
    let positive = |name, value: usize| {
        if value == 0 {
            Err(Error::Parameter { op: OP, name, value: "0".into(), reason: "must be at least 1" })
        } else {
            Ok(())
        }
    };
    positive("stride", s.stride)?;
    positive("dilation", s.dilation)?;
    positive("groups", s.groups)?;
    let &[batch, c_in, h_in, w_in] = input else {
        return Err(shape_error("input", input, "it must be N×C×H×W".into()));
    };
    let &[c_out, c_in_g, k_h, k_w] = weight else {
        return Err(shape_error("weight", weight, "it must be O×C/groups×KH×KW".into()));
    };
    if c_in_g * s.groups != c_in || c_out % s.groups != 0 || c_out == 0 || k_h == 0 || k_w == 0 {
        let expected = format!(
            "with {c_in} input channels and {} groups it must be O×{}×KH×KW with O a positive multiple of the groups",
            s.groups,
            c_in / s.groups.max(1)
        );
        return Err(shape_error("weight", weight, expected));
    }
    let h_out = out_len(h_in, k_h, s.stride, s.padding, s.dilation);
    let w_out = out_len(w_in, k_w, s.stride, s.padding, s.dilation);
    let (Some(h_out), Some(w_out)) = (h_out, w_out) else {
        let expected = format!("the padded input must be at least as large as the {k_h}×{k_w} kernel (dilated)");
        return Err(shape_error("input", input, expected));
    };
    let (stride, padding, dilation, groups) = (s.stride, s.padding, s.dilation, s.groups);
    Ok(Geometry { batch, c_in, h_in, w_in, c_out, k_h, k_w, stride, padding, dilation, groups, h_out, w_out })
}

fn shape_error(what: &'static str, shape: &[usize], expected: String) -> Error {
    Error::Shape { op: OP, what, shape: shape.to_vec(), expected }
}

/// Runs `f` on the two storages as slices of one float type.
fn dispatch2(
    op: &str,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
    f32_fn: impl FnOnce(&[f32], &[f32]) -> Vec<f32>,
    f64_fn: impl FnOnce(&[f64], &[f64]) -> Vec<f64>,
) -> candle::Result<CpuStorage> {
    match (s1, s2) {
        (CpuStorage::F32(_), CpuStorage::F32(_)) => {
            Ok(CpuStorage::F32(f32_fn(cpu_slice(s1, l1, op)?, cpu_slice(s2, l2, op)?)))
        }
        (CpuStorage::F64(_), CpuStorage::F64(_)) => {
            Ok(CpuStorage::F64(f64_fn(cpu_slice(s1, l1, op)?, cpu_slice(s2, l2, op)?)))
        }
        _ => candle::bail!("{op}: only f32 and f64 tensors of one dtype are supported, got {:?}", s1.dtype()),
    }
}

/// The forward op: (input, weight) → output.
struct Conv2dOp(Conv2dConfig);

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "fastvision-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let g = geometry_of(l1.dims(), l2.dims(), &self.0)?;
        let out = dispatch2(
            self.name(),
            (s1, l1),
            (s2, l2),
            // Winograd in f32 only: f64 is the precision reference, and its products are exact to the last bit.
            |x, w| {
                if winograd::applies(&g) {
                    winograd::forward(x, w, &g)
                } else {
                    kernels::forward(x, w, &g, &Plan::new(&g))
                }
            },
            |x, w| kernels::forward(x, w, &g, &Plan::new(&g)),
        )?;
        Ok((out, Shape::from((g.batch, g.c_out, g.h_out, g.w_out))))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        _output: &Tensor,
        grad: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        tracked_grads(
            input,
            weight,
            || {
                let op = InputGradOp { settings: self.0, input_dims: dims4(input)? };
                crate::profile::timed("conv2d.input_grad", || grad.apply_op2_no_bwd(weight, &op))
            },
            || {
                let op = WeightGradOp { settings: self.0, weight_dims: dims4(weight)? };
                crate::profile::timed("conv2d.weight_grad", || input.apply_op2_no_bwd(&grad, &op))
            },
        )
    }
}

/// A convolution's two gradients, each computed only when its argument tracks one (images never do, frozen
/// weights do not): every backward of the crate's convolutions, on every device.
fn tracked_grads(
    input: &Tensor,
    weight: &Tensor,
    input_grad: impl FnOnce() -> candle::Result<Tensor>,
    weight_grad: impl FnOnce() -> candle::Result<Tensor>,
) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
    let grad_input = if input.track_op() { Some(input_grad()?) } else { None };
    let grad_weight = if weight.track_op() { Some(weight_grad()?) } else { None };
    Ok((grad_input, grad_weight))
}

fn dims4(t: &Tensor) -> candle::Result<[usize; 4]> {
    let (a, b, c, d) = t.dims4()?;
    Ok([a, b, c, d])
}

/// The input gradient: (output gradient, weight) → input gradient of shape `input_dims`.
struct InputGradOp {
    settings: Conv2dConfig,
    input_dims: [usize; 4],
}

impl CustomOp2 for InputGradOp {
    fn name(&self) -> &'static str {
        "fastvision-conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let g = geometry_of(&self.input_dims, l2.dims(), &self.settings)?;
        if l1.dims() != [g.batch, g.c_out, g.h_out, g.w_out] {
            candle::bail!("{}: output gradient of shape {:?} does not match {g:?}", self.name(), l1.dims());
        }
        let out = dispatch2(
            self.name(),
            (s1, l1),
            (s2, l2),
            |dy, w| {
                if winograd::applies(&g) {
                    winograd::input_grad(dy, w, &g)
                } else {
                    kernels::input_grad(dy, w, &g, &Plan::new(&g))
                }
            },
            |dy, w| kernels::input_grad(dy, w, &g, &Plan::new(&g)),
        )?;
        Ok((out, Shape::from(self.input_dims.to_vec())))
    }
}

/// The weight gradient: (input, output gradient) → weight gradient of shape `weight_dims`.
struct WeightGradOp {
    settings: Conv2dConfig,
    weight_dims: [usize; 4],
}

impl CustomOp2 for WeightGradOp {
    fn name(&self) -> &'static str {
        "fastvision-conv2d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let g = geometry_of(l1.dims(), &self.weight_dims, &self.settings)?;
        if l2.dims() != [g.batch, g.c_out, g.h_out, g.w_out] {
            candle::bail!("{}: output gradient of shape {:?} does not match {g:?}", self.name(), l2.dims());
        }
        let out = dispatch2(
            self.name(),
            (s1, l1),
            (s2, l2),
            |x, dy| {
                if winograd::applies_to_weight_grad(&g) {
                    winograd::weight_grad(x, dy, &g)
                } else {
                    kernels::weight_grad(x, dy, &g, &Plan::new(&g))
                }
            },
            |x, dy| kernels::weight_grad(x, dy, &g, &Plan::new(&g)),
        )?;
        Ok((out, Shape::from(self.weight_dims.to_vec())))
    }
}

/// Which gradients [`conv2d_backward`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvGrads {
    /// Only the input gradient (a frozen weight).
    Input,
    /// Only the weight gradient (the first layer, whose input needs none).
    Weight,
    /// Both gradients.
    Both,
}

/// Input and weight gradients of [`conv2d`] given the output gradient, computed directly (without autograd); for
/// benchmarks and tests. `None` where `wanted` leaves it out.
pub fn conv2d_backward(
    input: &Tensor,
    weight: &Tensor,
    grad_output: &Tensor,
    config: &Conv2dConfig,
    wanted: ConvGrads,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let settings = *config;
    let want_input = matches!(wanted, ConvGrads::Input | ConvGrads::Both);
    let want_weight = matches!(wanted, ConvGrads::Weight | ConvGrads::Both);
    geometry_of(input.dims(), weight.dims(), &settings)?;
    if !native(input) || !native(weight) || !native(grad_output) {
        return Err(Error::Mismatch { op: OP, what: "conv2d_backward runs only on CPU f32/f64 tensors".into() });
    }
    let input = input.contiguous().op_ctx(OP, "making the input contiguous")?;
    let grad = grad_output.contiguous().op_ctx(OP, "making the output gradient contiguous")?;
    let weight = weight.contiguous().op_ctx(OP, "making the weight contiguous")?;
    let grad_input = if want_input {
        let op = InputGradOp { settings, input_dims: dims4(&input).op_ctx(OP, "reading the input shape")? };
        Some(grad.apply_op2_no_bwd(&weight, &op).op_ctx(OP, "computing the input gradient")?)
    } else {
        None
    };
    let grad_weight = if want_weight {
        let op = WeightGradOp { settings, weight_dims: dims4(&weight).op_ctx(OP, "reading the weight shape")? };
        Some(input.apply_op2_no_bwd(&grad, &op).op_ctx(OP, "computing the weight gradient")?)
    } else {
        None
    };
    Ok((grad_input, grad_weight))
}
