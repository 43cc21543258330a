//! Loads `$FASTVISION_SHARED/golden/golden.json` and compares numbers with explicit tolerances.

use serde_json::Value;

/// The golden section `name`; panics with instructions when FASTVISION_SHARED is not set.
pub fn section(name: &str) -> Value {
    let Ok(shared) = std::env::var("FASTVISION_SHARED") else {
        panic!("FASTVISION_SHARED is not set: export FASTVISION_SHARED=/absolute/path/to/shared to run golden tests");
    };
    let path = std::path::Path::new(&shared).join("golden/golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let all: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    all.get(name).cloned().unwrap_or_else(|| panic!("golden.json has no section {name:?}"))
}

/// A JSON array of numbers as f64.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap_or_else(|| panic!("expected an array, got {v}")).iter().map(num).collect()
}

/// A JSON number as f64.
pub fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("expected a number, got {v}"))
}
