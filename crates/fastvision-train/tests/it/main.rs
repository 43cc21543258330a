//! Integration tests of fastvision-train: fastai parity (golden values) and the training loop.

// The golden tests print their measured max errors (seen with --nocapture); printing is fine in tests.
#![allow(clippy::print_stdout)]

mod evaluate;
mod fixture;
mod generic_path;
mod golden;
mod golden_adam;
mod golden_lr_find;
mod golden_metrics;
mod golden_schedules;
mod learner;
mod learning;
mod mixed_precision;
mod resume;
mod threads;
