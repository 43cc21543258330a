//! Reads sections of `shared/golden/golden.json`.

use serde_json::Value;

use crate::support::shared;

/// One section of golden.json.
pub fn section(name: &str) -> Value {
    let text = std::fs::read_to_string(shared().join("golden/golden.json")).expect("reading golden.json");
    let mut all: Value = serde_json::from_str(&text).expect("golden.json is JSON");
    all.get_mut(name).unwrap_or_else(|| panic!("golden.json has no section {name:?}")).take()
}

/// A JSON array of non-negative integers.
pub fn usizes(value: &Value) -> Vec<usize> {
    value.as_array().expect("an array").iter().map(|v| v.as_u64().expect("an integer") as usize).collect()
}

/// A nested H×W×C JSON array of bytes, flattened.
pub fn hwc_bytes(value: &Value) -> (usize, usize, Vec<u8>) {
    let rows = value.as_array().expect("rows");
    let w = rows[0].as_array().expect("columns").len();
    let bytes = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter())
        .flat_map(|px| px.as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as u8))
        .collect();
    (rows.len(), w, bytes)
}
