//! Shared helpers: the golden file (found through FASTVISION_SHARED), tensors from values, and comparisons that
//! print expected and actual values on failure.

use std::path::PathBuf;
use std::sync::OnceLock;

use candle::{Device, Tensor};
use serde_json::Value;

/// The shared folder; fails the test with what to do when FASTVISION_SHARED is not set.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("FASTVISION_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => panic!("set FASTVISION_SHARED to the absolute path of the shared/ folder (golden values live there)"),
    }
}

/// `golden/golden.json`, parsed once.
pub fn golden() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let path = shared_dir().join("golden").join("golden.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    })
}

/// Entry `name` of golden section `section`.
pub fn entry(section: &str, name: &str) -> &'static Value {
    golden().get(section).and_then(|s| s.get(name)).unwrap_or_else(|| panic!("golden.json has no {section}/{name}"))
}

/// A nested list of numbers as (flat values, shape).
pub fn array(section: &str, name: &str) -> (Vec<f64>, Vec<usize>) {
    let mut values = Vec::new();
    let mut shape = Vec::new();
    flatten(entry(section, name), 0, &mut values, &mut shape);
    (values, shape)
}

fn flatten(value: &Value, depth: usize, values: &mut Vec<f64>, shape: &mut Vec<usize>) {
    match value {
        Value::Array(items) => {
            if shape.len() == depth {
                shape.push(items.len());
            }
            items.iter().for_each(|item| flatten(item, depth + 1, values, shape));
        }
        Value::Number(n) => values.push(n.as_f64().expect("a finite number")),
        other => panic!("unexpected golden value {other}"),
    }
}

/// The values of entry `name` in section `affine`, as f32.
pub fn affine_f32(name: &str) -> (Vec<f32>, Vec<usize>) {
    let (values, shape) = array("affine", name);
    (values.into_iter().map(|v| v as f32).collect(), shape)
}

/// A CPU tensor of the given shape.
pub fn tensor_f32(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).expect("tensor")
}

/// A tensor's values as f32.
pub fn values(tensor: &Tensor) -> Vec<f32> {
    tensor.to_dtype(candle::DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1()).expect("values")
}

/// Deterministic pseudo-random u8 pixels (a cheap LCG; the values only need to look like texture).
pub fn noise_u8(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}
