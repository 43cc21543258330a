//! Integration tests of fastvision-models: one binary, one module per topic.
#![allow(clippy::print_stdout)] // the fixture tests print the measured errors (run with --nocapture to see them)

mod batchnorm;
mod cifar;
mod common;
mod fixtures;
mod freeze;
mod pooling;
mod pytorch_formats;
mod weights_io;
