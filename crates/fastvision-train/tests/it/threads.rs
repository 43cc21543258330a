//! Issue 16 §4: the same seed trains the same model on 1, 2, 3 and 4 rayon threads, bit for bit.

use fastvision_train::LrFindConfig;

use crate::fixture::{learner, param_values, temp_dir};

/// What one run leaves behind: the lr_find losses, the training losses and every parameter, as bits.
#[derive(PartialEq)]
struct Run {
    lr_find_losses: Vec<u32>,
    train_losses: Vec<u32>,
    params: Vec<(String, Vec<u32>)>,
}

/// A short lr_find, then one epoch of `fit_one_cycle` on the fixture, in a fresh rayon pool of `threads` threads.
fn train(threads: usize) -> Run {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a rayon pool");
    pool.install(|| {
        let dir = temp_dir();
        let mut learn = learner(dir.path());
        let found = learn.lr_find(&LrFindConfig { num_it: 7, ..LrFindConfig::default() }).expect("lr_find");
        learn.fit_one_cycle(1, 1e-3).expect("fit_one_cycle");
        let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let losses: Vec<f32> = learn.recorder.iterations.iter().map(|it| it.loss).collect();
        Run {
            lr_find_losses: bits(&found.losses),
            train_losses: bits(&losses),
            params: param_values(&learn).into_iter().map(|(name, _, _, values)| (name, bits(&values))).collect(),
        }
    })
}

/// The parameters of `got` whose bits differ from `want`'s, with how many values and how far.
fn differing_params(got: &Run, want: &Run) -> Vec<String> {
    let value = f32::from_bits;
    got.params
        .iter()
        .zip(&want.params)
        .filter(|(g, w)| g.1 != w.1)
        .map(|((name, g), (_, w))| {
            let differing = g.iter().zip(w).filter(|(a, b)| a != b).count();
            let worst = g.iter().zip(w).map(|(&a, &b)| (value(a) - value(b)).abs()).fold(0.0f32, f32::max);
            format!("{name}: {differing} of {} values, largest difference {worst:e}", w.len())
        })
        .collect()
}

#[test]
fn r16_training_gives_the_same_bits_on_1_to_4_threads() {
    let reference = train(1);
    for threads in [2, 3, 4] {
        let run = train(threads);
        if run == reference {
            continue;
        }
        let params = differing_params(&run, &reference);
        let losses = |bits: &[u32]| bits.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>();
        panic!(
            "{threads} threads against 1:\nlr_find losses {:?}\n          vs 1 {:?}\ntraining losses {:?}\n           vs 1 {:?}\n\
             {} of {} parameters differ:\n{}",
            losses(&run.lr_find_losses),
            losses(&reference.lr_find_losses),
            losses(&run.train_losses),
            losses(&reference.train_losses),
            params.len(),
            reference.params.len(),
            params.join("\n")
        );
    }
}
