//! lr_find against fastai: the four suggestion functions on fixed curves (golden `lr_find_suggestions`) and a real
//! sweep's recorder smoothing, learning rates and suggestions (golden `lr_find_run`).

use fastvision_train::lr_find::{suggest, suggest_from_recorder, LrFindStop};
use fastvision_train::{LrFindConfig, LrFinder, Suggestion};

use crate::golden::{floats, num, section};
use fastvision_core::testing::{assert_close, Tolerance};

fn check(what: &str, got: Suggestion, golden: &serde_json::Value) {
    let actual = [got.lr, got.point_lr, got.point_loss];
    let expected = [num(&golden["suggestion"]), num(&golden["point_lr"]), num(&golden["point_loss"])];
    assert_close(&actual, &expected, Tolerance { abs: 0.0, rel: 1e-6 }, what);
}

#[test]
fn suggestions_match_fastai_on_clean_and_noisy_curves() {
    let g = section("lr_find_suggestions");
    let num_it = num(&g["num_it"]) as usize;
    let lrs: Vec<f32> = floats(&g["lrs_full"]).iter().map(|&v| v as f32).collect();
    let lrs64: Vec<f64> = lrs.iter().map(|&v| v as f64).collect();
    // The sweep's own learning rates equal fastai's (float32) ones.
    let finder = LrFinder::new(LrFindConfig { num_it, ..LrFindConfig::default() }).expect("finder");
    let ours: Vec<f64> = (0..num_it).map(|i| finder.lr_at(i) as f32 as f64).collect();
    assert_close(&ours, &lrs64, Tolerance { abs: 0.0, rel: 0.0 }, "lr_find lrs");
    for prefix in ["", "noisy/"] {
        let losses: Vec<f32> = floats(&g[format!("{prefix}losses_full")]).iter().map(|&v| v as f32).collect();
        let s = suggest_from_recorder(&lrs64, &losses, num_it).expect("suggestions");
        if prefix.is_empty() {
            let sliced = suggest(
                &floats(&g["lrs_sliced"]).iter().map(|&v| v as f32).collect::<Vec<_>>(),
                &floats(&g["losses_sliced"]).iter().map(|&v| v as f32).collect::<Vec<_>>(),
            )
            .expect("sliced suggestions");
            assert_eq!(s, sliced, "slicing [num_it/10 .. -5] differs from fastai's slices");
        }
        for (name, got) in s.named() {
            check(&format!("{prefix}{name}"), got, &g[format!("{prefix}{name}")]);
        }
    }
}

#[test]
fn recorder_smoothing_and_sweep_match_a_real_fastai_run() {
    let g = section("lr_find_run");
    let raw = floats(&g["raw_loss"]);
    let mut finder = LrFinder::new(LrFindConfig { num_it: 40, ..LrFindConfig::default() }).expect("finder");
    let mut stop = None;
    for (i, &loss) in raw.iter().enumerate() {
        assert!(stop.is_none(), "stopped before iteration {i}: {stop:?}");
        stop = finder.record(finder.lr_at(i), loss as f32);
    }
    assert_eq!(stop, Some(LrFindStop::Finished));
    assert_eq!(finder.lrs().len() as f64, num(&g["iterations_run"]));
    let lr_err =
        assert_close(finder.lrs(), &floats(&g["recorder_lrs"]), Tolerance { abs: 0.0, rel: 1e-15 }, "recorder lrs");
    let smooth: Vec<f64> = finder.losses().iter().map(|&v| v as f64).collect();
    let loss_err = assert_close(
        &smooth,
        &floats(&g["recorder_losses"]),
        Tolerance { abs: 0.0, rel: 1e-7 },
        "recorder smooth losses",
    );
    let s = finder.suggestions().expect("suggestions");
    let expected = &g["suggestions"];
    for (name, got) in s.named() {
        assert_close(
            &[got.lr],
            &[num(&expected[name])],
            Tolerance { abs: 0.0, rel: 1e-6 },
            &format!("run suggestion {name}"),
        );
    }
    println!("lr_find_run: max lr err {lr_err:e}, max smooth-loss err {loss_err:e}");
}
