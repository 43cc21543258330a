//! Nothing lost: a fit stopped by an interrupt (Ctrl-C, SIGTERM) or killed after an epoch checkpoint resumes, in a
//! fresh learner as a new process would build it, to exactly the weights of an uninterrupted run — dropout masks,
//! data order, optimiser state and the smoothed loss included.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use fastvision_models::Arch;
use fastvision_train::{
    vision_learner_with, Callback, Error, FitState, Flow, Learner, LearnerConfig, LrFindConfig, Metric, Phase,
};

use crate::fixture::{dataloaders, param_values, temp_dir};

/// A resnet18 learner on the fixture images with dropout in the head and epoch checkpoints named `last`.
fn learner(dir: &Path) -> Learner {
    let config = LearnerConfig {
        checkpoint_dir: dir.join("models"),
        epoch_checkpoint: Some("last".into()),
        ..LearnerConfig::default()
    };
    vision_learner_with(dataloaders(&dir.join("images")), Arch::ResNet18, None, vec![Metric::ErrorRate], config)
        .expect("vision_learner")
}

/// Raises the interrupt flag after training iteration `at` of fit phase `phase`, as the Ctrl-C handler would.
struct InterruptAt {
    phase: Phase,
    at: usize,
    flag: Arc<AtomicBool>,
}

impl Callback for InterruptAt {
    fn name(&self) -> &str {
        "InterruptAt"
    }

    fn after_batch(&mut self, state: &FitState) -> fastvision_train::Result<Flow> {
        if state.phase == self.phase && state.iteration == self.at {
            self.flag.store(true, Ordering::SeqCst);
        }
        Ok(Flow::Continue)
    }
}

fn weights(learn: &Learner) -> Vec<(String, Vec<u32>)> {
    param_values(learn).into_iter().map(|(name, _, _, v)| (name, v.iter().map(|x| x.to_bits()).collect())).collect()
}

fn uninterrupted(dir: &Path) -> (Vec<(String, Vec<u32>)>, usize) {
    let mut learn = learner(dir);
    learn.fine_tune(2, 2e-3).expect("fine_tune");
    (weights(&learn), learn.recorder.epochs.len())
}

#[test]
fn an_interrupted_fine_tune_resumes_to_the_same_bits() {
    let reference = uninterrupted(temp_dir().path());
    // Mid-epoch in the frozen phase, at the end of an epoch (the stop waits for validation), and mid-epoch in
    // the unfrozen phase (3 batches per epoch).
    for (phase, at) in [(Phase::Frozen, 1), (Phase::Unfrozen, 2), (Phase::Unfrozen, 4)] {
        let dir = temp_dir();
        let mut first = learner(dir.path());
        let flag = first.interrupt_handle();
        first.callbacks.push(Box::new(InterruptAt { phase, at, flag }));
        match first.fine_tune(2, 2e-3) {
            Err(Error::Interrupted { .. }) => {}
            other => panic!("{phase} {at}: expected an interruption, got {other:?}"),
        }
        drop(first);
        let mut second = learner(dir.path());
        second.resume("interrupted").expect("resume");
        assert!(weights(&second) == reference.0, "{phase} iteration {at}: the resumed weights differ");
        assert_eq!(second.recorder.epochs.len(), reference.1, "{phase} {at}: every epoch's row is there once");
    }
}

#[test]
fn a_killed_run_resumes_from_its_last_epoch_checkpoint() {
    let reference = uninterrupted(temp_dir().path());
    let dir = temp_dir();
    let mut first = learner(dir.path());
    let flag = first.interrupt_handle();
    // Stop mid-way through the second unfrozen epoch; then throw away what a kill -9 would lose: the
    // interrupt checkpoint. The epoch checkpoint is from the end of the first unfrozen epoch.
    first.callbacks.push(Box::new(InterruptAt { phase: Phase::Unfrozen, at: 4, flag }));
    assert!(matches!(first.fine_tune(2, 2e-3), Err(Error::Interrupted { .. })));
    drop(first);
    std::fs::remove_file(dir.path().join("models/interrupted.safetensors")).expect("removing");
    let mut second = learner(dir.path());
    second.resume("last").expect("resume from the epoch checkpoint");
    assert!(weights(&second) == reference.0, "the weights resumed from the epoch checkpoint differ");
}

#[test]
fn ctrl_c_stops_lr_find_and_leaves_the_learner_as_it_was() {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    let before = weights(&learn);
    let flag = learn.interrupt_handle();
    flag.store(true, Ordering::SeqCst);
    let result = learn.lr_find(&LrFindConfig { num_it: 50, ..LrFindConfig::default() });
    match result {
        Err(Error::Interrupted { iteration, what, .. }) => {
            assert_eq!(iteration, 0, "it stops after the batch under way");
            assert!(what.contains("lr_find"), "{what}");
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
    assert!(weights(&learn) == before, "lr_find restored the model");
    assert!(!flag.load(Ordering::SeqCst), "the flag is consumed");
}
