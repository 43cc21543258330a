//! Unit tests of the optimisers (fastai's Adam golden steps are in tests/it/golden_adam.rs).

use candle::{Device, Tensor, Var};

use super::*;

fn param(values: &[f32], do_wd: bool) -> OptParam {
    let var = Var::from_slice(values, values.len(), &Device::Cpu).expect("creating a Var");
    OptParam { name: "w".into(), var, do_wd }
}

fn values(p: &OptParam) -> Vec<f32> {
    p.var.as_tensor().to_vec1::<f32>().expect("reading a Var")
}

fn constant_grad(values: &[f32]) -> impl FnMut(&Var) -> Option<Tensor> + '_ {
    move |_| Tensor::from_slice(values, values.len(), &Device::Cpu).ok()
}

#[test]
fn sgd_with_momentum_accumulates_without_dampening() -> Result<()> {
    let p = param(&[1.0, 2.0], false);
    let mut opt = Optimizer::new(vec![vec![p.clone()]], OptimizerConfig { lr: 0.1, ..OptimizerConfig::sgd(0.5) })?;
    opt.step_with(constant_grad(&[1.0, -1.0]))?;
    opt.step_with(constant_grad(&[1.0, -1.0]))?;
    // avg: g, then 0.5 g + g = 1.5 g; p = p - 0.1 g - 0.15 g.
    let got = values(&p);
    let expected = [0.75f32, 2.25];
    for (a, e) in got.iter().zip(expected) {
        assert!((a - e).abs() < 1e-6, "expected {expected:?}, got {got:?}");
    }
    Ok(())
}

#[test]
fn params_without_gradient_are_left_alone() -> Result<()> {
    let p = param(&[1.0], true);
    let mut opt = Optimizer::new(vec![vec![p.clone()]], OptimizerConfig::default())?;
    let n = opt.step_with(|_| None)?;
    assert_eq!(n, 0);
    assert_eq!(values(&p), vec![1.0]);
    Ok(())
}

#[test]
fn clear_state_restarts_debiasing() -> Result<()> {
    // The first Adam step moves every coordinate by about lr (debiased), whatever the gradient's scale.
    let p = param(&[0.0], false);
    let mut opt = Optimizer::new(vec![vec![p.clone()]], OptimizerConfig { lr: 0.01, ..OptimizerConfig::default() })?;
    opt.step_with(constant_grad(&[3.0]))?;
    opt.clear_state();
    opt.step_with(constant_grad(&[-3.0]))?;
    let got = values(&p)[0];
    assert!(got.abs() < 1e-6, "two opposite first steps should cancel, got {got}");
    Ok(())
}

#[test]
fn export_import_round_trips() -> Result<()> {
    let p = param(&[1.0, 2.0], true);
    let mut opt = Optimizer::new(vec![vec![p.clone()]], OptimizerConfig::default())?;
    opt.step_with(constant_grad(&[0.5, 0.25]))?;
    let (tensors, meta) = opt.export_state()?;
    assert_eq!(tensors.len(), 2, "grad_avg and sqr_avg of one parameter: {:?}", tensors.keys());
    let mut other = Optimizer::new(vec![vec![p.clone()]], OptimizerConfig::default())?;
    other.import_state(&tensors, &meta)?;
    let (again, meta_again) = other.export_state()?;
    assert_eq!(meta, meta_again);
    assert_eq!(again.keys().collect::<Vec<_>>(), tensors.keys().collect::<Vec<_>>());
    Ok(())
}

#[test]
fn wrong_group_counts_are_errors() -> Result<()> {
    let mut opt = Optimizer::new(vec![vec![param(&[1.0], true)]], OptimizerConfig::default())?;
    assert!(opt.set_lrs(&[0.1, 0.2]).is_err());
    assert!(Optimizer::new(vec![], OptimizerConfig::default()).is_err());
    Ok(())
}

#[test]
fn fused_cpu_adam_matches_the_tensor_path() -> Result<()> {
    // f32 parameters take the fused CPU loop; f64 ones take the tensor-op path. Both implement fastai's Adam.
    let p0 = [1.0f32, -2.0, 0.5, 0.0, 3.0];
    let grads = [[0.1f32, -0.2, 0.3, 0.0, 1.0], [-0.5, 0.5, 0.0, 0.2, 0.1], [1.0; 5]];
    let p32 = param(&p0, true);
    let values64: Vec<f64> = p0.iter().map(|&v| v as f64).collect();
    let var64 = Var::from_slice(&values64, 5, &Device::Cpu).expect("f64 Var");
    let p64 = OptParam { name: "w64".into(), var: var64.clone(), do_wd: true };
    let config = OptimizerConfig { lr: 1e-2, ..OptimizerConfig::default() };
    let mut opt = Optimizer::new(vec![vec![p32.clone(), p64]], config)?;
    for g in &grads {
        let g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
        opt.step_with(|v| {
            let t = if v.dtype() == candle::DType::F64 {
                Tensor::from_slice(&g64, 5, &Device::Cpu)
            } else {
                Tensor::from_slice(g, 5, &Device::Cpu)
            };
            t.ok()
        })?;
    }
    let fused = values(&p32);
    let tensor_path = var64.as_tensor().to_vec1::<f64>().expect("reading");
    for (a, b) in fused.iter().zip(&tensor_path) {
        assert!((*a as f64 - b).abs() < 1e-6, "fused {fused:?} vs tensor path {tensor_path:?}");
    }
    Ok(())
}

/// The fused CPU loop as it was before it ran in place: the reference the in-place parallel one must match bit for bit.
fn reference_adam(
    p: &mut [f32],
    avg: &mut Option<Vec<f32>>,
    sqr: &mut Option<Vec<f32>>,
    g: &[f32],
    h: &Hypers,
    step: u64,
) {
    let wd = (1.0 - h.lr * h.wd) as f32;
    let (mom, damp) = (h.mom as f32, (1.0 - h.mom) as f32);
    let (sqr_mom, sqr_damp) = (h.sqr_mom as f32, (1.0 - h.sqr_mom) as f32);
    let debias2 = debias(h.sqr_mom, 1.0 - h.sqr_mom, step) as f32;
    let step_size = (-h.lr / debias(h.mom, 1.0 - h.mom, step)) as f32;
    let eps = h.eps as f32;
    let (mut new_avg, mut new_sqr) = (Vec::new(), Vec::new());
    for i in 0..p.len() {
        let a = avg.as_ref().map_or(0.0, |v| v[i] * mom) + g[i] * damp;
        let s = sqr.as_ref().map_or(0.0, |v| v[i] * sqr_mom) + g[i] * g[i] * sqr_damp;
        p[i] = p[i] * wd + step_size * (a / ((s / debias2).sqrt() + eps));
        new_avg.push(a);
        new_sqr.push(s);
    }
    (*avg, *sqr) = (Some(new_avg), Some(new_sqr));
}

#[test]
fn in_place_parallel_adam_matches_the_serial_loop_bit_for_bit() -> Result<()> {
    // Larger than one parallel chunk, and not a multiple of it.
    let n = 3 * ADAM_CHUNK + 17;
    let wave = |k: usize, i: usize| ((i * 7919 + k * 104_729) % 2001) as f32 / 1000.0 - 1.0;
    let p0: Vec<f32> = (0..n).map(|i| wave(0, i)).collect();
    let p = param(&p0, true);
    let config = OptimizerConfig { lr: 3e-3, ..OptimizerConfig::default() };
    let mut opt = Optimizer::new(vec![vec![p.clone()]], config)?;
    let h = opt.hypers()[0];
    let (mut expected, mut avg, mut sqr) = (p0.clone(), None, None);
    for step in 1..=4 {
        let g: Vec<f32> = (0..n).map(|i| wave(step as usize, i) * 0.1).collect();
        opt.step_with(constant_grad(&g))?;
        reference_adam(&mut expected, &mut avg, &mut sqr, &g, &h, step);
        let got = values(&p);
        assert!(got.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()), "step {step} differs");
    }
    Ok(())
}

#[test]
fn snapshots_and_exports_are_not_changed_by_later_steps() -> Result<()> {
    let p = param(&[1.0, -2.0, 0.5], true);
    let mut opt = Optimizer::new(vec![vec![p.clone()]], OptimizerConfig::default())?;
    opt.step_with(constant_grad(&[0.5, 0.25, -1.0]))?;
    let snapshot = opt.snapshot()?;
    let (exported, _) = opt.export_state()?;
    let exported_values: Vec<Vec<f32>> =
        exported.values().map(|t| t.to_vec1::<f32>()).collect::<candle::Result<_>>().expect("reading");
    let p_at_snapshot = values(&p);
    let replay = |opt: &mut Optimizer| -> Result<Vec<f32>> {
        p.var.set(&Tensor::from_slice(&p_at_snapshot, 3, &Device::Cpu).expect("tensor")).expect("set");
        opt.restore(&snapshot)?;
        opt.step_with(constant_grad(&[-0.5, 2.0, 0.125]))?;
        opt.step_with(constant_grad(&[0.3, -0.1, 0.7]))?;
        Ok(values(&p))
    };
    // Restoring the same snapshot twice replays the same steps: the first replay did not change it.
    let first = replay(&mut opt)?;
    let second = replay(&mut opt)?;
    assert_eq!(first, second);
    let again: Vec<Vec<f32>> =
        exported.values().map(|t| t.to_vec1::<f32>()).collect::<candle::Result<_>>().expect("reading");
    assert_eq!(exported_values, again, "exported tensors changed after later steps");
    Ok(())
}
