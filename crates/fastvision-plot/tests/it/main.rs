//! Integration tests of fastvision-plot: one binary, one module per drawing kind.

mod grid;
mod heatmap;
mod line;
mod png;
mod support;
mod text;
