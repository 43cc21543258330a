//! The PTX signature check of `cargo xtask kernels`: every `.entry` of the PTX nvcc wrote must take the
//! parameters `crates/fastvision-kernels/src/signatures.rs` lists, and every entry listed must be there.
//!
//! The Rust launch code passes its arguments in that table's kinds (fastvision-cuda-emu's tests check each launch
//! against it), so a `.cu` signature and the launches cannot drift apart unnoticed. PTX cannot tell a pointer from
//! a `long long` (both `.u64`), nor `int` from `unsigned` (`.u32`/`.s32`); the emulator's build, which sees the C++
//! types, tells those apart.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::signatures::{Param, SIGNATURES};

/// One `.entry` of a PTX file: its name and the type of each `.param` (`u64`, `u32`, `f32`, ...).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub params: Vec<String>,
}

/// Every `.entry NAME(.param .TYPE NAME_param_0, ...)` of a PTX text.
pub(crate) fn entries(ptx: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut rest = ptx;
    while let Some(at) = rest.find(".entry ") {
        rest = &rest[at + ".entry ".len()..];
        let open = rest.find('(').context("an .entry without a parameter list")?;
        let close = rest.find(')').context("an .entry whose parameter list does not close")?;
        let name = rest[..open].trim().to_string();
        let params = rest[open + 1..close]
            .split(',')
            .filter(|param| !param.trim().is_empty())
            .map(|param| param_type(param).with_context(|| format!("{name}: cannot read `{}`", param.trim())))
            .collect::<Result<Vec<_>>>()?;
        entries.push(Entry { name, params });
        rest = &rest[close..];
    }
    Ok(entries)
}

/// The type of one `.param` declaration: the first `.TYPE` after `.param`, skipping `.ptr`, `.align N` and
/// state spaces; a by-value aggregate (`.align 8 .b8 name[16]`) keeps its byte count (`b8[16]`).
fn param_type(param: &str) -> Option<String> {
    let mut tokens = param.split_whitespace();
    if tokens.next()? != ".param" {
        return None;
    }
    let mut skip_number = false;
    for token in tokens.by_ref() {
        if skip_number {
            skip_number = false;
            continue;
        }
        match token {
            ".align" => skip_number = true,
            ".ptr" | ".global" | ".const" | ".shared" | ".local" => {}
            ty if ty.starts_with('.') => {
                let ty = &ty[1..];
                let array = param.find('[').map(|at| &param[at..param.find(']').map_or(param.len(), |end| end + 1)]);
                return Some(format!("{ty}{}", array.unwrap_or("")));
            }
            _ => return None,
        }
    }
    None
}

/// The PTX types a parameter kind may have.
fn ptx_types(param: Param) -> &'static [&'static str] {
    match param {
        Param::Ptr | Param::I64 => &["u64", "s64", "b64"],
        Param::I32 => &["u32", "s32", "b32"],
        Param::F32 => &["f32"],
        Param::F64 => &["f64"],
    }
}

/// Compares the entries of `ptx_file` (compiled from `cu_file`, e.g. `losses.cu`) with the table; the error
/// lists every difference.
pub(crate) fn check(cu_file: &str, ptx_file: &Path) -> Result<()> {
    let ptx = std::fs::read_to_string(ptx_file).with_context(|| format!("reading {}", ptx_file.display()))?;
    let found = entries(&ptx).with_context(|| format!("parsing {}", ptx_file.display()))?;
    let expected: Vec<_> = SIGNATURES.iter().filter(|s| s.file == cu_file).collect();
    let mut problems = Vec::new();
    for entry in &found {
        let Some(signature) = expected.iter().find(|s| s.name == entry.name) else {
            problems
                .push(format!("{} is not in signatures.rs (add it, and launch it from a `launch` module)", entry.name));
            continue;
        };
        let fits = entry.params.len() == signature.params.len()
            && entry.params.iter().zip(signature.params).all(|(ty, &param)| ptx_types(param).contains(&ty.as_str()));
        if !fits {
            problems.push(format!(
                "{} takes ({}) in the PTX but signatures.rs says ({})",
                entry.name,
                entry.params.join(", "),
                signature.params.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for signature in expected {
        if !found.iter().any(|entry| entry.name == signature.name) {
            problems.push(format!("{} is in signatures.rs but not in the PTX", signature.name));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} and crates/fastvision-kernels/src/signatures.rs disagree (update the table, the `launch` module that \
             launches the kernel, and fastvision-cuda-emu's tests together):\n  {}",
            ptx_file.display(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of nvcc 13's output, with a pointer annotated as newer toolkits do.
    const PTX: &str = "
.version 9.0
.target sm_80
.address_size 64

	// .globl	sum_reduce_f32
.visible .entry sum_reduce_f32(
	.param .u64 .ptr .global .align 1 sum_reduce_f32_param_0,
	.param .u64 sum_reduce_f32_param_1,
	.param .f64 sum_reduce_f32_param_2,
	.param .u64 sum_reduce_f32_param_3
)
{
	.reg .pred 	%p<4>;
}
.visible .entry by_value(
	.param .align 8 .b8 by_value_param_0[16],
	.param .u32 by_value_param_1
)
{
}
";

    #[test]
    fn reads_every_entry_and_its_parameter_types() {
        let found = entries(PTX).expect("parses");
        assert_eq!(
            found,
            [
                Entry {
                    name: "sum_reduce_f32".into(),
                    params: vec!["u64".into(), "u64".into(), "f64".into(), "u64".into()]
                },
                Entry { name: "by_value".into(), params: vec!["b8[16]".into(), "u32".into()] },
            ]
        );
    }

    #[test]
    fn a_changed_signature_or_a_missing_entry_fails() {
        let dir = std::env::temp_dir().join(format!("xtask-ptx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("losses.ptx");
        std::fs::write(&file, PTX).expect("write");
        let err = check("losses.cu", &file).expect_err("the PTX holds one losses kernel of many").to_string();
        assert!(err.contains("by_value is not in signatures.rs"), "{err}");
        assert!(err.contains("softmax_fwd_f32 is in signatures.rs but not in the PTX"), "{err}");
        assert!(!err.contains("sum_reduce_f32 takes"), "sum_reduce_f32 matches the table: {err}");
        std::fs::write(&file, PTX.replace(".f64 sum_reduce_f32_param_2", ".f32 sum_reduce_f32_param_2"))
            .expect("write");
        let err = check("losses.cu", &file).expect_err("scale as a float").to_string();
        assert!(err.contains("sum_reduce_f32 takes (u64, u64, f32, u64) in the PTX"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_table_names_every_kernel_once() {
        let mut names: Vec<&str> = SIGNATURES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SIGNATURES.len(), "a kernel listed twice in signatures.rs");
    }
}
