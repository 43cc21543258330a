//! fastai's Adam against 3 golden steps, with and without weight decay (golden section `adam_step`).

use candle::{Device, Tensor, Var};
use fastvision_train::{OptParam, Optimizer, OptimizerConfig};

use crate::golden::{floats, section};
use fastvision_core::testing::{assert_close, Tolerance};

fn run(p0: &[f64], grads: &serde_json::Value, do_wd: bool) -> Vec<Vec<f64>> {
    let values: Vec<f32> = p0.iter().map(|&v| v as f32).collect();
    let var = Var::from_slice(&values, values.len(), &Device::Cpu).expect("Var");
    let param = OptParam { name: "p".into(), var: var.clone(), do_wd };
    let config = OptimizerConfig { lr: 1e-2, ..OptimizerConfig::default() };
    let mut opt = Optimizer::new(vec![vec![param]], config).expect("optimizer");
    let mut after = Vec::new();
    for g in grads.as_array().expect("grads") {
        let g: Vec<f32> = floats(g).iter().map(|&v| v as f32).collect();
        let n = opt.step_with(|_| Tensor::from_slice(&g, g.len(), &Device::Cpu).ok()).expect("step");
        assert_eq!(n, 1);
        after.push(var.as_tensor().to_vec1::<f32>().expect("read").iter().map(|&v| v as f64).collect());
    }
    after
}

#[test]
fn adam_matches_fastai_with_and_without_weight_decay() {
    let g = section("adam_step");
    let h = &g["hypers"];
    let defaults = OptimizerConfig::default();
    assert_eq!((defaults.mom, defaults.sqr_mom, defaults.eps, defaults.wd), (0.9, 0.99, 1e-5, 0.01), "{h}");
    let cases = [
        ("with wd", "p0", "grads", "p_after_each_step", true),
        ("no wd", "nowd_p0", "nowd_grads", "nowd_p_after_each_step", false),
    ];
    for (what, p0, grads, expected, do_wd) in cases {
        let got = run(&floats(&g[p0]), &g[grads], do_wd);
        let mut max_err = 0.0f64;
        for (step, (a, e)) in got.iter().zip(g[expected].as_array().expect("steps")).enumerate() {
            max_err = max_err.max(assert_close(
                a,
                &floats(e),
                Tolerance { abs: 2e-7, rel: 1e-6 },
                &format!("adam {what} step {step}"),
            ));
        }
        println!("adam {what}: max abs err {max_err:e}");
    }
}
