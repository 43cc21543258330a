//! Seeded weight initialisation (PyTorch's schemes, drawn from fastvision_core's generator), so the same seed
//! gives the same model on every machine.

use candle::{DType, Device, Tensor, Var};
use fastvision_core::rng::Rng;
use rayon::prelude::*;

/// Values per independently seeded chunk: parameters fill in parallel, yet the values never depend on the
/// number of threads.
const CHUNK: usize = 1 << 16;

/// Where a new parameter's values come from.
pub(crate) enum Init {
    /// Seeded random draws: parameter `k` (in creation order) uses stream `k` of `seed`.
    Seeded { seed: u64, next_param: u64 },
    /// Zeros everywhere (BatchNorm scales and variances still 1): cheap, for models about to be loaded.
    Zeros,
}

/// The device and type every new tensor of a model gets.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub device: Device,
    pub dtype: DType,
}

impl Init {
    /// A seeded initialiser; `stream` separates models built from the same seed (body, head...).
    pub fn seeded(seed: u64, stream: u64) -> Self {
        Init::Seeded { seed: Rng::derive(seed, stream).next_u64(), next_param: 0 }
    }

    /// N(0, std²) values: `kaiming_normal_` with std = gain / sqrt(fan).
    pub fn normal(&mut self, shape: &[usize], std: f64, place: &Place) -> candle::Result<Var> {
        self.draw(shape, place, |rng, out| {
            // Marsaglia's polar method: two independent normals per accepted pair of uniforms, no trigonometry.
            for pair in out.chunks_mut(2) {
                let (u, v, s) = loop {
                    let (u, v) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
                    let s = u * u + v * v;
                    if s > 0.0 && s < 1.0 {
                        break (u, v, s);
                    }
                };
                let factor = std * (-2.0 * s.ln() / s).sqrt();
                pair[0] = (u * factor) as f32;
                if let Some(second) = pair.get_mut(1) {
                    *second = (v * factor) as f32;
                }
            }
        })
    }

    /// U(-bound, bound) values: PyTorch's default `Linear` weight and bias init uses bound = 1/sqrt(fan_in).
    pub fn uniform(&mut self, shape: &[usize], bound: f64, place: &Place) -> candle::Result<Var> {
        self.draw(shape, place, |rng, out| out.iter_mut().for_each(|v| *v = rng.uniform(-bound, bound) as f32))
    }

    fn draw(
        &mut self,
        shape: &[usize],
        place: &Place,
        fill: impl Fn(&mut Rng, &mut [f32]) + Sync,
    ) -> candle::Result<Var> {
        match self {
            Init::Zeros => Var::zeros(shape, place.dtype, &place.device),
            Init::Seeded { seed, next_param } => {
                let param_seed = Rng::derive(*seed, *next_param).next_u64();
                *next_param += 1;
                let mut values = vec![0f32; shape.iter().product()];
                values
                    .par_chunks_mut(CHUNK)
                    .enumerate()
                    .for_each(|(i, chunk)| fill(&mut Rng::derive(param_seed, i as u64), chunk));
                let t = Tensor::from_vec(values, shape, &place.device)?.to_dtype(place.dtype)?;
                Var::from_tensor(&t)
            }
        }
    }
}

/// A constant-filled variable (BatchNorm scale, shift and running statistics).
pub(crate) fn constant(shape: &[usize], value: f64, place: &Place) -> candle::Result<Var> {
    let t = Tensor::full(value as f32, shape, &place.device)?.to_dtype(place.dtype)?;
    Var::from_tensor(&t)
}
