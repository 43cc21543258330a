//! One training step's gradients, and how far two sets of them differ: the evidence that a device (or the
//! generic path every non-CPU tensor takes) trains the same model as the CPU kernels.

use candle::{DType, Device, Tensor};
use fastvision_losses::{cross_entropy, Reduction};
use fastvision_models::VisionModel;
use fastvision_ops::CandleContext;

use crate::error::{Error, Result};

/// Every parameter's gradient after one training-mode forward pass, cross-entropy (mean) and backward, by
/// parameter name, as f32 on the CPU. Dropout draws from `dropout_seed`, so two calls can see the same masks.
pub fn step_gradients(
    model: &VisionModel,
    images: &Tensor,
    targets: &Tensor,
    dropout_seed: u64,
) -> Result<Vec<(String, Tensor)>> {
    model.reseed_dropout(dropout_seed);
    let logits = model
        .forward_t(images, true)
        .map_err(|source| Error::Model { context: "forward pass of the gradient check".into(), source })?;
    let loss = cross_entropy(&logits, targets, Reduction::Mean)
        .map_err(|source| Error::Loss { context: "loss of the gradient check".into(), source })?;
    let grads = loss.backward().ctx("backward pass of the gradient check")?;
    model
        .params()
        .into_iter()
        .map(|p| {
            let grad = grads
                .get(p.var.as_tensor())
                .ok_or_else(|| Error::Candle {
                    context: format!("gradient check: {} got no gradient", p.name),
                    source: candle::Error::Msg("the parameter is not in the graph".into()),
                })?
                .to_dtype(DType::F32)
                .and_then(|g| g.to_device(&Device::Cpu))
                .ctx(&format!("copying the gradient of {}", p.name))?;
            Ok((p.name, grad))
        })
        .collect()
}

/// How far one set of gradients is from a reference set.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientDiff {
    /// Parameters compared.
    pub n_params: usize,
    /// The largest relative difference, `max|a - b| / max|b|` of one parameter.
    pub max_rel: f64,
    /// The median of the per-parameter relative differences.
    pub median_rel: f64,
    /// The parameter with the largest relative difference.
    pub worst: String,
}

/// Compares `got` with `reference` parameter by parameter (same names, same order, same shapes).
pub fn compare_gradients(got: &[(String, Tensor)], reference: &[(String, Tensor)]) -> Result<GradientDiff> {
    if got.len() != reference.len() {
        return Err(Error::InvalidParameter {
            name: "gradients",
            value: format!("{} vs {}", got.len(), reference.len()),
            why: "the two sets must hold the same parameters",
        });
    }
    let mut rels = Vec::with_capacity(got.len());
    for ((name, a), (ref_name, b)) in got.iter().zip(reference) {
        if name != ref_name || a.dims() != b.dims() {
            return Err(Error::InvalidParameter {
                name: "gradients",
                value: format!("{name} {:?} vs {ref_name} {:?}", a.dims(), b.dims()),
                why: "the two sets must hold the same parameters",
            });
        }
        let diff = (a - b).and_then(|d| d.abs()).and_then(|d| d.flatten_all()).and_then(|d| d.max(0));
        let diff = diff.and_then(|d| d.to_scalar::<f32>()).ctx("comparing gradients")?;
        let scale = b.abs().and_then(|d| d.flatten_all()).and_then(|d| d.max(0)).and_then(|d| d.to_scalar::<f32>());
        let scale = scale.ctx("comparing gradients")?;
        let rel = if scale > 0.0 { f64::from(diff) / f64::from(scale) } else { f64::from(diff) };
        // NaN compares as the worst difference.
        rels.push((if rel.is_nan() { f64::INFINITY } else { rel }, name.clone()));
    }
    let worst = rels.iter().max_by(|a, b| a.0.total_cmp(&b.0)).cloned().unwrap_or((0.0, String::new()));
    let mut sorted: Vec<f64> = rels.iter().map(|r| r.0).collect();
    sorted.sort_by(f64::total_cmp);
    let median_rel = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    Ok(GradientDiff { n_params: rels.len(), max_rel: worst.0, median_rel, worst: worst.1 })
}
