//! Integration tests of fastvision-interpret: one binary, one module per concern.

mod edge_cases;
mod golden;
mod plots;
mod report;
mod support;
