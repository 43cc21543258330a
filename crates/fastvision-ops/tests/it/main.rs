//! Integration tests of fastvision-ops: every op and both gradients against candle's own operations (autograd
//! through the unfused composition) and against central finite differences in f64.

mod add_relu;
mod batchnorm;
mod common;
mod conv;
mod launch;
mod profile;
mod threads;
