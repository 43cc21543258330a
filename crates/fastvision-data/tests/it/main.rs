//! Integration tests of fastvision-data: one binary, one module per concern.

mod bad_input;
mod category;
mod errors_r16;
mod files;
mod golden;
mod jpeg;
mod labelling;
mod limits;
mod loader;
mod pets;
mod resize;
mod special_files;
mod splitters;
mod summary;
mod support;
