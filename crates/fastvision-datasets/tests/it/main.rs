//! Integration tests of fastvision-datasets: the rendered default data set and `untar_data` against a loopback
//! HTTP server (no internet needed).

mod default_set;
mod server;
mod untar;
