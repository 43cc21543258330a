//! candle's restricted unpickler (`candle::pickle::Stack`, which builds `Object`s and calls nothing), driven one
//! opcode at a time behind the checks it lacks, so a damaged or crafted pickle is an error, never a panic, an abort
//! or an exhausted memory.
//!
//! Each opcode is decoded here first and handed to candle only once it is known to be well formed: its argument
//! lies inside the pickle (candle allocates a string's declared length before reading it), a `GLOBAL` is on the
//! allow-list of `globals.rs`, and a `LONG1` wider than 8 bytes (candle's shift overflows) is narrowed or
//! refused. A shadow stack mirrors candle's with each object's kind, nesting depth and size, so that an opcode
//! applied to the wrong kind of object (candle would format the whole object into its error), nesting deep enough
//! to overflow the thread's stack when dropped, or memo copies (candle clones the object on every `BINGET`) beyond
//! a budget are refused before candle acts.

use std::collections::BTreeMap;
use std::path::Path;

use candle::pickle::{Object, Stack};

use crate::{globals, Error, Format};

/// Nesting no state dict comes near (a wrapped tensor is about 9 deep).
const MAX_DEPTH: usize = 100;
/// Bytes of objects built or copied from the memo; a 150-tensor state dict uses well under 1 MiB.
const MAX_OBJECT_BYTES: usize = 256 << 20;
/// What one object costs in that budget, besides its text.
const NODE_BYTES: usize = 64;
/// Longest `module` or `name` line of a `GLOBAL`.
const MAX_GLOBAL_LINE: usize = 256;

/// A pickle that did not unpickle, at the byte offset of the opcode that failed.
#[derive(Debug)]
pub(crate) struct PickleError {
    offset: usize,
    problem: Problem,
}

#[derive(Debug)]
enum Problem {
    Damaged(String),
    UnknownGlobal { global: String, hint: &'static str },
    Unsupported(String),
    Limit(String),
}

impl PickleError {
    /// The crate's error for `path`; `pickle` says which pickle of the file it was (e.g. `data.pkl`).
    pub(crate) fn into_error(self, path: &Path, format: Format, pickle: &str) -> Error {
        let path = path.to_path_buf();
        let at = format!("byte {} of {pickle}", self.offset);
        match self.problem {
            Problem::Damaged(detail) => Error::Damaged { path, format, detail: format!("{detail} at {at}") },
            Problem::UnknownGlobal { global, hint } => Error::UnknownGlobal { path, global, hint },
            Problem::Unsupported(what) => Error::Unsupported { path, what: format!("{what} (at {at})") },
            Problem::Limit(detail) => Error::Limit { path, detail: format!("{detail} (at {at})") },
        }
    }
}

/// The object a pickle describes, and the offset just past its `STOP`.
pub(crate) struct Unpickled {
    pub object: Object,
    pub end: usize,
}

/// Unpickles the pickle that starts at `data[start]`.
pub(crate) fn unpickle(data: &[u8], start: usize) -> Result<Unpickled, PickleError> {
    let mut stack = Stack::empty();
    let mut shadow = Shadow::default();
    let mut pos = start;
    loop {
        let at = pos;
        let fail = move |problem| PickleError { offset: at, problem };
        let op = decode(data, pos).map_err(fail)?;
        shadow.apply(&op).map_err(fail)?;
        let mut bytes: &[u8] = match &op.narrowed {
            Some(long) => long,
            None => data.get(pos..op.end).unwrap_or_default(),
        };
        let stop = stack.read(&mut bytes).map_err(|e| fail(Problem::Damaged(e.to_string())))?;
        if !bytes.is_empty() || !shadow.agrees_with(stack.stack()) {
            return Err(fail(Problem::Damaged(
                "the unpickler lost step (a bug: please report it with the file)".into(),
            )));
        }
        pos = op.end;
        if stop {
            let object = stack.finalize().map_err(|e| fail(Problem::Damaged(e.to_string())))?;
            return Ok(Unpickled { object, end: pos });
        }
    }
}

/// One decoded opcode.
struct Op<'a> {
    code: u8,
    arg: Arg<'a>,
    /// Offset just past the opcode and its argument.
    end: usize,
    /// A `LONG1` re-encoded in 8 bytes, which candle decodes without overflow.
    narrowed: Option<[u8; 10]>,
}

enum Arg<'a> {
    None,
    Memo(u32),
    Global(&'a str, &'a str),
    Text(usize),
}

fn decode(data: &[u8], pos: usize) -> Result<Op<'_>, Problem> {
    let code = *data.get(pos).ok_or_else(|| Problem::Damaged("the pickle ends before its STOP (truncated)".into()))?;
    let at = pos + 1;
    let fixed = |len: usize, arg| Ok(Op { code, arg, end: take(data, at, len)?.1, narrowed: None });
    match code {
        b'(' | b')' | b'R' | b't' | b'Q' | 0x85 | 0x86 | 0x87 | 0x88 | 0x89 | b'N' | b's' | b'u' | b'}' | b'b'
        | b'.' | 0x81 | b']' | b'a' | b'e' => fixed(0, Arg::None),
        0x80 => match take(data, at, 1)?.0[0] {
            version @ 6.. => Err(Problem::Damaged(format!("pickle protocol {version} does not exist"))),
            _ => fixed(1, Arg::None),
        },
        b'K' => fixed(1, Arg::None),
        b'M' => fixed(2, Arg::None),
        b'J' => fixed(4, Arg::None),
        b'G' => fixed(8, Arg::None),
        b'q' | b'h' => fixed(1, Arg::Memo(u32::from(take(data, at, 1)?.0[0]))),
        b'r' | b'j' => fixed(4, Arg::Memo(u32_at(data, at)?)),
        b'X' => {
            let len = u32_at(data, at)? as usize;
            let (text, end) = take(data, at + 4, len)?;
            std::str::from_utf8(text).map_err(|e| Problem::Damaged(format!("a string that is not UTF-8 ({e})")))?;
            Ok(Op { code, arg: Arg::Text(len), end, narrowed: None })
        }
        b'c' => {
            let (module, after_module) = line(data, at)?;
            let (name, end) = line(data, after_module)?;
            Ok(Op { code, arg: Arg::Global(module, name), end, narrowed: None })
        }
        0x8a => {
            let len = usize::from(take(data, at, 1)?.0[0]);
            let (digits, end) = take(data, at + 1, len)?;
            let mut narrowed = [0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0];
            narrowed[2..].copy_from_slice(&long_to_i64(digits)?.to_le_bytes());
            Ok(Op { code, arg: Arg::None, end, narrowed: Some(narrowed) })
        }
        other => Err(unsupported(other)),
    }
}

/// `len` bytes at `at` and the offset after them.
fn take(data: &[u8], at: usize, len: usize) -> Result<(&[u8], usize), Problem> {
    let end = at.checked_add(len).filter(|&end| end <= data.len()).ok_or_else(|| {
        let left = data.len().saturating_sub(at);
        Problem::Damaged(format!("an opcode needs {len} bytes but the pickle has {left} left (truncated?)"))
    })?;
    Ok((&data[at..end], end))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, Problem> {
    let (bytes, _) = take(data, at, 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// A `GLOBAL` argument line (ASCII up to `\n`) and the offset after its newline.
fn line(data: &[u8], at: usize) -> Result<(&str, usize), Problem> {
    let window = data.get(at..).unwrap_or_default();
    let window = &window[..window.len().min(MAX_GLOBAL_LINE + 1)];
    let len = window.iter().position(|&b| b == b'\n').ok_or_else(|| {
        Problem::Damaged(format!("a GLOBAL name without a newline in its first {MAX_GLOBAL_LINE} bytes"))
    })?;
    let text = std::str::from_utf8(&window[..len])
        .ok()
        .filter(|t| t.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| Problem::Damaged("a GLOBAL name that is not a Python identifier".into()))?;
    Ok((text, at + len + 1))
}

/// A little-endian two's-complement `LONG1` as an i64, if it fits.
fn long_to_i64(digits: &[u8]) -> Result<i64, Problem> {
    let negative = digits.last().is_some_and(|&b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0x00 };
    if digits.len() > 8 && (digits[8..].iter().any(|&b| b != fill) || (digits[7] & 0x80 != 0) != negative) {
        return Err(Problem::Unsupported(format!(
            "a {}-byte integer, wider than 64 bits; a state dict's numbers fit in 64",
            digits.len()
        )));
    }
    let mut bytes = [fill; 8];
    let n = digits.len().min(8);
    bytes[..n].copy_from_slice(&digits[..n]);
    Ok(i64::from_le_bytes(bytes))
}

fn unsupported(code: u8) -> Problem {
    let name = match code {
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'L' => "LONG",
        b'P' => "PERSID",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'g' => "GET",
        b'p' => "PUT",
        b'i' => "INST",
        b'o' => "OBJ",
        b'l' => "LIST",
        // candle decodes DICT as EMPTY_DICT, which would leave its items on the stack.
        b'd' => "DICT",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        other => return Problem::Damaged(format!("byte 0x{other:02x} is not a pickle opcode")),
    };
    Problem::Unsupported(format!(
        "the pickle uses opcode {name}, which torch.save's default protocol 2 does not write; save it again with \
         torch.save(model.state_dict(), path) and no pickle_protocol"
    ))
}

/// What the shadow stack knows of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mark,
    List,
    Dict,
    /// `collections.OrderedDict`, which candle's `REDUCE` turns into an empty dict.
    DictClass,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    kind: Kind,
    depth: usize,
    bytes: usize,
}

impl Meta {
    fn leaf(kind: Kind, text: usize) -> Self {
        Self { kind, depth: 1, bytes: NODE_BYTES + text }
    }

    /// An object holding `parts`.
    fn holding(kind: Kind, parts: &[Meta]) -> Self {
        let depth = 1 + parts.iter().map(|p| p.depth).max().unwrap_or(0);
        Self { kind, depth, bytes: NODE_BYTES + parts.iter().map(|p| p.bytes).sum::<usize>() }
    }
}

/// candle's stack and memo, as kinds, depths and sizes.
#[derive(Default)]
struct Shadow {
    stack: Vec<Meta>,
    /// Positions of the marks in `stack`, innermost last.
    marks: Vec<usize>,
    memo: BTreeMap<u32, Meta>,
    /// Bytes built or copied so far.
    spent: usize,
}

impl Shadow {
    /// Checks `op` against the stack and applies its effect, as candle is about to.
    fn apply(&mut self, op: &Op) -> Result<(), Problem> {
        match (op.code, &op.arg) {
            (b'c', Arg::Global(module, name)) => {
                globals::check(module, name)
                    .map_err(|hint| Problem::UnknownGlobal { global: format!("{module}.{name}"), hint })?;
                let kind =
                    if (*module, *name) == ("collections", "OrderedDict") { Kind::DictClass } else { Kind::Other };
                self.push_new(Meta::leaf(kind, module.len() + name.len()))
            }
            (b'X', Arg::Text(len)) => self.push_new(Meta::leaf(Kind::Other, *len)),
            (b'(', _) => self.push_new(Meta::leaf(Kind::Mark, 0)),
            (b']', _) => self.push_new(Meta::leaf(Kind::List, 0)),
            (b'}', _) => self.push_new(Meta::leaf(Kind::Dict, 0)),
            (b')' | b'K' | b'M' | b'J' | b'G' | b'N' | 0x88 | 0x89 | 0x8a, _) => {
                self.push_new(Meta::leaf(Kind::Other, 0))
            }
            (0x80, _) => Ok(()),
            (b'h' | b'j', Arg::Memo(id)) => {
                let meta = *self.memo.get(id).ok_or_else(|| damaged(format!("memo entry {id} was never stored")))?;
                self.push_new(meta)
            }
            (b'q' | b'r', Arg::Memo(id)) => {
                let top =
                    *self.stack.last().filter(|m| m.kind != Kind::Mark).ok_or_else(|| damaged("PUT of nothing"))?;
                self.spend(top.bytes)?;
                self.memo.insert(*id, top);
                Ok(())
            }
            (b'Q', _) => {
                let id = self.pop_value()?;
                self.push_holding(&[id])
            }
            (b't', _) => {
                let items = self.pop_to_mark()?;
                self.push_holding(&items)
            }
            (0x85..=0x87, _) => {
                let n = usize::from(op.code - 0x84);
                let mut items = (0..n).map(|_| self.pop_value()).collect::<Result<Vec<_>, _>>()?;
                items.reverse();
                self.push_holding(&items)
            }
            (b'R', _) => {
                let (callable, args) = self.pop_pair()?;
                if callable.kind == Kind::DictClass {
                    self.push_new(Meta::leaf(Kind::Dict, 0))
                } else {
                    self.push_holding(&[callable, args])
                }
            }
            (0x81, _) => {
                let (class, args) = self.pop_pair()?;
                self.push_holding(&[class, args])
            }
            (b'b', _) => {
                let (object, state) = self.pop_pair()?;
                if object.kind == Kind::Dict && state.kind == Kind::Dict {
                    // candle appends the state's items to the dict.
                    let depth = object.depth.max(state.depth);
                    self.push(Meta { kind: Kind::Dict, depth, bytes: object.bytes + state.bytes })
                } else {
                    self.push_holding(&[object, state])
                }
            }
            (b'a', _) => {
                let value = self.pop_value()?;
                self.extend_top(Kind::List, "APPEND", &[value])
            }
            (b'e', _) => {
                let items = self.pop_to_mark()?;
                self.extend_top(Kind::List, "APPENDS", &items)
            }
            (b's', _) => {
                let (key, value) = self.pop_pair()?;
                self.extend_top(Kind::Dict, "SETITEM", &[key, value])
            }
            (b'u', _) => {
                let items = self.pop_to_mark()?;
                if items.len() % 2 != 0 {
                    return Err(damaged("SETITEMS with a key and no value"));
                }
                self.extend_top(Kind::Dict, "SETITEMS", &items)
            }
            (b'.', _) => match self.stack.last() {
                Some(top) if top.kind != Kind::Mark => Ok(()),
                _ => Err(damaged("STOP with no object on the stack")),
            },
            _ => Err(damaged(format!("opcode 0x{:02x} with a wrong argument (a bug: please report it)", op.code))),
        }
    }

    /// Whether candle's stack has the same height and top as the shadow.
    fn agrees_with(&self, objects: &[Object]) -> bool {
        let kind = |object: &Object| match object {
            Object::Mark => Kind::Mark,
            Object::List(_) => Kind::List,
            Object::Dict(_) => Kind::Dict,
            Object::Class { module_name, class_name }
                if module_name == "collections" && class_name == "OrderedDict" =>
            {
                Kind::DictClass
            }
            _ => Kind::Other,
        };
        objects.len() == self.stack.len() && objects.last().map(kind) == self.stack.last().map(|m| m.kind)
    }

    fn spend(&mut self, bytes: usize) -> Result<(), Problem> {
        self.spent = self.spent.saturating_add(bytes);
        if self.spent > MAX_OBJECT_BYTES {
            return Err(Problem::Limit(format!(
                "the pickle builds more than {} MiB of objects",
                MAX_OBJECT_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Pushes an object candle allocates whole: a new leaf or a memo copy.
    fn push_new(&mut self, meta: Meta) -> Result<(), Problem> {
        self.spend(meta.bytes)?;
        self.push(meta)
    }

    /// Pushes a new object around parts moved off the stack, which cost nothing more.
    fn push_holding(&mut self, parts: &[Meta]) -> Result<(), Problem> {
        self.spend(NODE_BYTES)?;
        self.push(Meta::holding(Kind::Other, parts))
    }

    fn push(&mut self, meta: Meta) -> Result<(), Problem> {
        check_depth(meta.depth)?;
        if meta.kind == Kind::Mark {
            self.marks.push(self.stack.len());
        }
        self.stack.push(meta);
        Ok(())
    }

    fn pop_value(&mut self) -> Result<Meta, Problem> {
        match self.stack.last() {
            None => Err(damaged("an opcode needs an object but the stack is empty")),
            Some(top) if top.kind == Kind::Mark => Err(damaged("an opcode takes a MARK as an object")),
            Some(_) => Ok(self.stack.pop().unwrap_or(Meta::leaf(Kind::Other, 0))),
        }
    }

    /// The two topmost objects, deeper one first.
    fn pop_pair(&mut self) -> Result<(Meta, Meta), Problem> {
        let second = self.pop_value()?;
        Ok((self.pop_value()?, second))
    }

    fn pop_to_mark(&mut self) -> Result<Vec<Meta>, Problem> {
        let mark = self.marks.pop().ok_or_else(|| damaged("an opcode needs a MARK but there is none"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    /// Adds `items` to the list or dict on top of the stack.
    fn extend_top(&mut self, kind: Kind, opcode: &str, items: &[Meta]) -> Result<(), Problem> {
        let top = self.stack.last_mut().ok_or_else(|| damaged(format!("{opcode} on an empty stack")))?;
        if top.kind != kind {
            return Err(damaged(format!("{opcode} on a {:?}, not a {kind:?}", top.kind)));
        }
        let added = Meta::holding(kind, items);
        top.depth = top.depth.max(added.depth);
        top.bytes += added.bytes - NODE_BYTES;
        check_depth(top.depth)
    }
}

fn check_depth(depth: usize) -> Result<(), Problem> {
    if depth > MAX_DEPTH {
        return Err(Problem::Limit(format!("objects nested more than {MAX_DEPTH} deep")));
    }
    Ok(())
}

fn damaged(detail: impl Into<String>) -> Problem {
    Problem::Damaged(detail.into())
}
