//! Which format a file is, from its first bytes (never its extension), and for a file that is none of them, what
//! it looks like instead: an HTML error page saved by a proxy, an archive still to unpack, an LFS pointer, text.

use crate::Format;

/// How many bytes [`format()`] looks at.
pub(crate) const HEAD_LEN: usize = 4096;

/// The first bytes of every legacy checkpoint: protocol 2, `LONG1` of torch's 10-byte magic number
/// `0x1950a86a20f9469cfc6c`, `STOP`.
pub(crate) const LEGACY_MAGIC: [u8; 15] =
    [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.'];

/// safetensors caps its JSON header at 100 MB; a larger "length" means the first bytes are something else.
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// The format of a file starting with `head` (its first [`HEAD_LEN`] bytes), or what it looks like instead.
pub(crate) fn format(head: &[u8]) -> Result<Format, String> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Format::TorchZip);
    }
    if head.starts_with(&LEGACY_MAGIC) {
        return Ok(Format::TorchLegacy);
    }
    if let Some(len_bytes) = head.get(..8) {
        let header_len = u64::from_le_bytes(len_bytes.try_into().unwrap_or_default());
        if head.get(8) == Some(&b'{') && header_len <= MAX_SAFETENSORS_HEADER {
            return Ok(Format::Safetensors);
        }
    }
    Err(looks_like(head))
}

/// A description of a file that is not weights, with what to do about it.
fn looks_like(head: &[u8]) -> String {
    if head.is_empty() {
        return "an empty file (0 bytes; an interrupted download? download it again)".into();
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let lower = trimmed.get(..trimmed.len().min(512)).unwrap_or(trimmed).to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.starts_with("<head") {
        return format!(
            "an HTML page{} (a proxy, login or error page saved instead of the file? download it again)",
            html_title(trimmed).map(|t| format!(" titled {t:?}")).unwrap_or_default()
        );
    }
    if let Some(kind) = archive(head) {
        return kind.into();
    }
    // torch's magic number pickled with another protocol (framed, so a few bytes further in).
    let magic = &LEGACY_MAGIC[4..14];
    if head[0] == 0x80 && head[..head.len().min(32)].windows(magic.len()).any(|w| w == magic) {
        return format!(
            "a legacy torch.save checkpoint pickled with protocol {}, which fastvision does not read (torch.save's \
             default is 2): load it in PyTorch and save it again without pickle_protocol",
            head.get(1).copied().unwrap_or_default()
        );
    }
    if head[0] == 0x80 {
        return "a Python pickle without torch's magic number (pickle.dump, not torch.save?): load it in Python and \
                save `model.state_dict()` with torch.save"
            .into();
    }
    if trimmed.starts_with("version https://git-lfs") {
        return "a Git LFS pointer, not the file itself (run `git lfs pull` in its repository)".into();
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return "JSON text (a config or metadata file, not the weights)".into();
    }
    if is_text(head) {
        let first_line = trimmed.lines().next().unwrap_or_default();
        let shown: String = first_line.chars().take(60).collect();
        return format!("text starting {shown:?}");
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "unrecognised binary data (first bytes {}); fastvision reads safetensors and torch.save checkpoints",
        hex.join(" ")
    )
}

/// Compressed files and archives that may hold a checkpoint once unpacked.
fn archive(head: &[u8]) -> Option<&'static str> {
    let magic: &[(&[u8], &str)] = &[
        (b"\x1f\x8b", "a gzip-compressed file (a .tar.gz or .gz? unpack it and pass the checkpoint inside)"),
        (b"BZh", "a bzip2-compressed file (unpack it and pass the checkpoint inside)"),
        (b"\xfd7zXZ\x00", "an xz-compressed file (unpack it and pass the checkpoint inside)"),
        (b"\x28\xb5\x2f\xfd", "a zstd-compressed file (unpack it and pass the checkpoint inside)"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it and pass the checkpoint inside)"),
        (b"\x93NUMPY", "a NumPy .npy array, not a checkpoint"),
        (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5 weights?), which fastvision cannot read"),
    ];
    if let Some((_, kind)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(kind);
    }
    // POSIX tar puts "ustar" at byte 257.
    (head.get(257..262) == Some(b"ustar"))
        .then_some("a tar archive (unpack it with `tar -xf` and pass the checkpoint inside)")
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower.get(start..)?.find("</title>")?;
    let title = text.get(start..end)?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then(|| title.chars().take(80).collect())
}

/// Valid UTF-8 (a cut last character allowed) without control bytes other than whitespace.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        Err(_) => return false,
    };
    !valid.is_empty() && valid.chars().all(|c| !c.is_control() || c.is_whitespace())
}
