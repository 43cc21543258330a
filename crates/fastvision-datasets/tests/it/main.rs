//! Integration tests of fastvision-datasets: the rendered default data set, and `untar_data` and the pretrained
//! weights cache against a loopback HTTP server (no internet needed).

mod datablock;
mod default_set;
mod pretrained;
mod server;
mod untar;
