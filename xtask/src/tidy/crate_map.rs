//! The crate map in `docs/ARCHITECTURE.md` checked against `cargo metadata`: every arrow is a dependency, every
//! dependency an arrow, and every dependency points to a lower layer.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{cargo, project_root};

/// One crate's line of the map.
#[derive(Debug)]
struct Entry {
    /// `None` for the `tools` section, which has no layer.
    layer: Option<u32>,
    /// Full package names, with whether the arrow is bracketed (an optional dependency).
    deps: BTreeMap<String, bool>,
}

/// A crate's normal dependencies on fastvision crates: package name to whether it is optional.
type Manifest = BTreeMap<String, BTreeMap<String, bool>>;

/// The workspace's crates and their normal (not dev, not build) dependencies on other fastvision crates.
fn manifests() -> Manifest {
    let output = cargo().args(["metadata", "--format-version", "1", "--no-deps"]).output().expect("cargo metadata");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let mut crates = Manifest::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let deps = crates.entry(package["name"].as_str().expect("name").to_owned()).or_default();
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let name = dep["name"].as_str().expect("dependency name");
            if dep["kind"].is_null() && name.starts_with("fastvision") {
                *deps.entry(name.to_owned()).or_default() |= dep["optional"].as_bool().unwrap_or(false);
            }
        }
    }
    crates
}

/// The first fenced block after `## Code Map`.
fn code_map_block(doc: &str) -> &str {
    let section = &doc[doc.find("## Code Map").expect("ARCHITECTURE.md has a `## Code Map` section")..];
    let block = section.split("```").nth(1).expect("the Code Map section has a fenced block");
    block.split_once('\n').map_or(block, |(_, rest)| rest)
}

/// Parses `layer N  crate (note) ──> a, [b], external`, its continuation lines (indented, same layer) and the
/// `tools` section. Short names stand for `fastvision-<name>` when that is a fastvision crate.
fn parse(block: &str, known: &BTreeSet<String>) -> BTreeMap<String, Entry> {
    let full =
        |short: &str| [short.to_owned(), format!("fastvision-{short}")].into_iter().find(|name| known.contains(name));
    let mut layer = None;
    let mut map = BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let mut rest = line.trim_start();
        if let Some(after) = rest.strip_prefix("layer ") {
            let (n, after) = after.split_once(' ').expect("`layer N  crate …`");
            layer = Some(n.parse().unwrap_or_else(|_| panic!("ARCHITECTURE.md: bad layer number in {line:?}")));
            rest = after.trim_start();
        } else if let Some(after) = rest.strip_prefix("tools ") {
            layer = None;
            rest = after.trim_start();
        }
        let name = rest.split_whitespace().next().expect("a crate name");
        assert!(known.contains(name), "ARCHITECTURE.md's crate map names {name:?}, which is no fastvision crate");
        let mut deps = BTreeMap::new();
        if let Some((_, list)) = rest.split_once("──>") {
            for item in list.split(',').map(str::trim) {
                let optional = item.starts_with('[') && item.ends_with(']');
                if let Some(dep) = full(item.trim_matches(['[', ']'])) {
                    deps.insert(dep, optional);
                }
            }
        }
        let previous = map.insert(name.to_owned(), Entry { layer, deps });
        assert!(previous.is_none(), "ARCHITECTURE.md's crate map lists {name} twice");
    }
    map
}

/// Every way the map and the manifests disagree, one line each.
fn disagreements(map: &BTreeMap<String, Entry>, crates: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, deps) in crates {
        let Some(entry) = map.get(name) else {
            problems.push(format!("{name} is a workspace crate missing from the map"));
            continue;
        };
        for (dep, &optional) in deps {
            match entry.deps.get(dep) {
                None => problems.push(format!("missing arrow: {name} ──> {dep} (Cargo.toml has it)")),
                Some(&drawn) if drawn != optional => problems.push(format!(
                    "{name} ──> {dep}: {} in Cargo.toml, drawn {}",
                    if optional { "optional" } else { "not optional" },
                    if drawn { "[bracketed]" } else { "unbracketed" },
                )),
                Some(_) => {}
            }
            let below = match (entry.layer, map.get(dep).and_then(|d| d.layer)) {
                (Some(own), Some(theirs)) => theirs < own,
                (None, Some(_)) => true,
                _ => false,
            };
            if !below {
                problems.push(format!("{name} ──> {dep} does not point to a lower layer"));
            }
        }
        for dep in entry.deps.keys().filter(|dep| !deps.contains_key(*dep)) {
            problems.push(format!("extra arrow: {name} ──> {dep} (Cargo.toml has no such dependency)"));
        }
    }
    problems
}

#[test]
fn architecture_crate_map_matches_cargo_metadata() {
    let crates = manifests();
    assert!(crates.len() > 10, "cargo metadata found only {} crates", crates.len());
    let known: BTreeSet<String> = crates.keys().chain(crates.values().flat_map(BTreeMap::keys)).cloned().collect();
    let doc = std::fs::read_to_string(project_root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let map = parse(code_map_block(&doc), &known);
    let problems = disagreements(&map, &crates);
    assert!(
        problems.is_empty(),
        "docs/ARCHITECTURE.md's crate map disagrees with the manifests:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_names_missing_extra_and_upward_arrows() {
    let known: BTreeSet<String> = ["fastvision-core", "fastvision-data", "fastvision-plot"].map(String::from).into();
    let block = "layer 1  fastvision-data ──> plot, core\nlayer 0  fastvision-core ──> candle-core\n         \
                 fastvision-plot ──> core\n";
    let map = parse(block, &known);
    let crates: Manifest = [
        ("fastvision-data", vec![("fastvision-core", false)]),
        ("fastvision-core", vec![("fastvision-plot", true)]),
        ("fastvision-plot", vec![("fastvision-core", false)]),
    ]
    .into_iter()
    .map(|(name, deps)| (name.to_owned(), deps.into_iter().map(|(d, o)| (d.to_owned(), o)).collect()))
    .collect();
    assert_eq!(
        disagreements(&map, &crates),
        [
            "missing arrow: fastvision-core ──> fastvision-plot (Cargo.toml has it)",
            "fastvision-core ──> fastvision-plot does not point to a lower layer",
            "extra arrow: fastvision-data ──> fastvision-plot (Cargo.toml has no such dependency)",
            "fastvision-plot ──> fastvision-core does not point to a lower layer",
        ]
    );
}
