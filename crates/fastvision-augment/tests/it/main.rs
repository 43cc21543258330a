//! The integration tests of fastvision-augment, one binary: golden parity with fastai, properties, bad input,
//! and the quality of one resample against fastai's two.

mod errors;
mod golden;
mod properties;
mod quality;
mod support;
