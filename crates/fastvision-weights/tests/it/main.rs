//! Integration tests of fastvision-weights: one binary, one module per topic.
#![allow(clippy::print_stderr)] // load times and fuzz counts are printed (run with --nocapture to see them)

mod bad_input;
mod common;
mod fuzz;
mod real_files;
mod synthetic;
