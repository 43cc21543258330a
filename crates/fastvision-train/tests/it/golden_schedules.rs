//! fit_one_cycle and fine_tune schedules against fastai's per-iteration hypers (golden sections `fit_one_cycle`,
//! `fine_tune`).

use fastvision_train::{position, FineTuneConfig, LrRange, OneCycleConfig, Schedule};

use crate::golden::{floats, num, section};
use fastvision_core::testing::{assert_close, Tolerance};

#[test]
fn fit_one_cycle_matches_fastai() {
    let g = section("fit_one_cycle");
    let n = num(&g["n_iter"]) as usize;
    let schedule = Schedule::one_cycle(&LrRange::Single(1e-2).group_lrs(1), &OneCycleConfig::default());
    let hypers: Vec<_> = (0..n).map(|i| schedule.at(position(i, n))[0]).collect();
    let lrs: Vec<f64> = hypers.iter().map(|h| h.lr).collect();
    let moms: Vec<f64> = hypers.iter().map(|h| h.mom).collect();
    let lr_err = assert_close(&lrs, &floats(&g["lr"]), Tolerance { abs: 0.0, rel: 1e-12 }, "fit_one_cycle lr");
    let mom_err = assert_close(&moms, &floats(&g["mom"]), Tolerance { abs: 0.0, rel: 1e-12 }, "fit_one_cycle mom");
    println!("fit_one_cycle: max |lr err| {lr_err:e}, max |mom err| {mom_err:e}");
}

#[test]
fn fine_tune_matches_fastai_per_group_per_iteration() {
    let g = section("fine_tune");
    let iters_per_epoch = num(&g["train_iters_per_epoch"]) as usize;
    let phases = FineTuneConfig::default().phases(2, 3).expect("fastai's defaults are valid");
    assert_eq!(phases.len(), 2);
    // fastai's frozen_idx: 2 groups frozen, then 0.
    for (phase, golden) in phases.iter().zip(g["phases"].as_array().expect("phases")) {
        assert_eq!(phase.frozen_groups as f64, num(&golden["frozen_idx"]), "frozen groups of phase {golden}");
        assert_eq!(phase.n_epochs as f64, num(&golden["n_epoch"]));
    }
    let mut max_err = 0.0f64;
    for it in g["per_iteration"].as_array().expect("per_iteration") {
        let phase = &phases[num(&it["phase"]) as usize];
        let total = phase.n_epochs * iters_per_epoch;
        let train_iter = num(&it["train_iter"]) as usize;
        let schedule = Schedule::one_cycle(&phase.lr_max.group_lrs(3), &phase.one_cycle);
        let got = schedule.at(position(train_iter, total));
        let hypers = it["hypers"].as_array().expect("hypers");
        let what = format!("fine_tune phase {} iter {train_iter}", it["phase"]);
        let lrs: Vec<f64> = got.iter().map(|h| h.lr).collect();
        let moms: Vec<f64> = got.iter().map(|h| h.mom).collect();
        let exp_lrs: Vec<f64> = hypers.iter().map(|h| num(&h["lr"])).collect();
        let exp_moms: Vec<f64> = hypers.iter().map(|h| num(&h["mom"])).collect();
        max_err = max_err.max(assert_close(&lrs, &exp_lrs, Tolerance { abs: 0.0, rel: 1e-12 }, &format!("{what} lr")));
        max_err =
            max_err.max(assert_close(&moms, &exp_moms, Tolerance { abs: 0.0, rel: 1e-12 }, &format!("{what} mom")));
    }
    println!("fine_tune: max abs err {max_err:e}");
}
