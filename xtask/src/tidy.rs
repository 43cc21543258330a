//! Code invariants checked as tests (rust-analyzer's tidy): every source file says why it exists, only programs
//! set the allocator, and the crate map in `docs/ARCHITECTURE.md` is the one the manifests draw.

#[cfg(test)]
mod crate_map;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::project_root;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                rust_files(&path, out);
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_source_file_opens_with_a_module_doc() {
        let root = project_root();
        let mut files = Vec::new();
        for dir in ["crates", "xtask", "tests"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 10, "found only {} .rs files under {}", files.len(), root.display());
        let missing: Vec<String> = files
            .iter()
            .filter(|path| {
                // Unit-test files (`src/<module>/tests.rs`) are part of their module and need no doc of their own.
                if path.file_name().is_some_and(|n| n == "tests.rs") {
                    return false;
                }
                let text = std::fs::read_to_string(path).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
            .collect();
        assert!(
            missing.is_empty(),
            "these files do not open with a `//!` line saying why they exist:\n{}",
            missing.join("\n")
        );
    }

    /// The allocator setting is process-wide, so only programs make it (docs/ARCHITECTURE.md, fastvision-ops): no
    /// library crate's `src/` calls `malloc::retain_freed_memory` outside its docs.
    #[test]
    fn only_programs_call_retain_freed_memory() {
        let root = project_root();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(root.join("crates")).expect("crates/").flatten() {
            if entry.file_name() != "fastvision-cli" {
                rust_files(&entry.path().join("src"), &mut files);
            }
        }
        let callers: Vec<String> = files
            .iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                text.lines().any(|line| {
                    let line = line.trim_start();
                    !line.starts_with("//") && line.contains("retain_freed_memory(") && !line.contains("fn retain_")
                })
            })
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
            .collect();
        assert!(
            callers.is_empty(),
            "library code calls retain_freed_memory (leave it to main):\n{}",
            callers.join("\n")
        );
    }

    /// The README promises two commands on a fresh machine; CI must run the test one, and both must exist here.
    #[test]
    fn readme_commands_are_the_ones_ci_and_xtask_run() {
        let root = project_root();
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let commands: Vec<&str> = readme
            .split("```sh")
            .skip(1)
            .filter_map(|block| block.split("```").next())
            .flat_map(str::lines)
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        let run = commands.first().expect("README: the first sh block is the main job");
        let test = commands.get(1).expect("README: the second sh block is the test command");
        assert_eq!(*run, "cargo xtask train", "README's main command");
        assert!(test.ends_with("cargo xtask ci"), "README's test command: {test}");
        let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
        assert!(ci.lines().any(|l| l.trim() == "cargo xtask ci"), ".ci/run must run the README's test command");
        assert!(ci.contains("FASTVISION_SHARED"), ".ci/run must set FASTVISION_SHARED as the README says");
        let main = std::fs::read_to_string(root.join("xtask/src/main.rs")).unwrap();
        for task in ["Train(", "Ci =>"] {
            assert!(main.contains(task), "xtask has no {task} task");
        }
    }
}
