//! Weight files read by content, never running pickled code: safetensors, and PyTorch checkpoints in torch.save's
//! zip format (torch ≥ 1.6, torchvision's `.pth`) and legacy format (torch < 1.6, e.g. a paper's `.th`).
//!
//! # Brief overview
//! - [`StateDict::read`] detects the format from the file's first bytes (not its name), picks the state dict out of
//!   a wrapper such as `{'state_dict': …, 'epoch': …}` or `{'model': …}` (or the one [`ReadOptions::key`] names),
//!   removes DataParallel's `module.` prefix and returns the tensors on the CPU in file order, in their own types.
//! - A file that is none of these says what it looks like instead (an HTML error page, an archive to unpack…).
//! - Pickles go through candle's restricted unpickler, which builds objects and calls nothing, behind an
//!   allow-list of the names a state dict needs (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`,
//!   `collections.OrderedDict`…); any other name is an error naming it. Sizes, nesting and memo copies are bounded,
//!   so a damaged or crafted file is an [`Error`], never a panic.
//! - [`StateDict::save_safetensors`] writes the tensors atomically (`cargo xtask convert IN OUT.safetensors`).
//!
//! ```no_run
//! use fastvision_weights::{ReadOptions, StateDict};
//! # fn main() -> Result<(), fastvision_weights::Error> {
//! let state = StateDict::read("resnet32-d509ac18.th".as_ref(), &ReadOptions::default())?;
//! println!("{}: {} tensors under {:?}", state.format(), state.len(), state.key());
//! state.save_safetensors("resnet32.safetensors".as_ref())?;
//! # Ok(()) }
//! ```

mod detect;
mod error;
mod gather;
mod globals;
mod pickle;
mod safetensors_file;
mod state_dict;
mod tensors;
mod torch_legacy;
mod torch_zip;

pub use error::{Error, Result};
pub use safetensors_file::write as write_safetensors;
pub use state_dict::{Format, ReadOptions, StateDict};
