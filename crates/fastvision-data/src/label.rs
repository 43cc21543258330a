//! Labellers: turn a file path into a class name (fastai's `RegexLabeller`, `parent_label`, or any function).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use crate::{Error, Result};

type LabelFn = dyn Fn(&Path) -> Result<String> + Send + Sync;

/// How an item's label is found from its path.
#[derive(Clone)]
pub enum Labeller {
    /// Capture group 1 of a regex searched in the file name (fastbook: `(.+)_\d+.jpg$`).
    RegexOnName(Regex),
    /// Capture group 1 of a regex searched in the full path (fastai's `using_attr(RegexLabeller(..), 'name')`
    /// is [`Labeller::RegexOnName`]; this is plain `RegexLabeller`).
    RegexOnPath(Regex),
    /// The name of the folder holding the file (fastai's `parent_label`).
    ParentFolder,
    /// Any function; its name is shown by `summary`.
    Func {
        /// Shown in summaries.
        name: String,
        /// The function.
        func: Arc<LabelFn>,
    },
}

impl Labeller {
    /// A regex on the file name; an invalid pattern is an error naming it.
    pub fn regex_on_name(pattern: &str) -> Result<Self> {
        Ok(Self::RegexOnName(compile(pattern)?))
    }

    /// A regex on the full path.
    pub fn regex_on_path(pattern: &str) -> Result<Self> {
        Ok(Self::RegexOnPath(compile(pattern)?))
    }

    /// Any function from path to label.
    pub fn func(name: &str, func: impl Fn(&Path) -> Result<String> + Send + Sync + 'static) -> Self {
        Self::Func { name: name.to_owned(), func: Arc::new(func) }
    }

    /// The label of `path`.
    pub fn label(&self, path: &Path) -> Result<String> {
        match self {
            Self::RegexOnName(re) => {
                let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                capture(re, &name, path)
            }
            Self::RegexOnPath(re) => capture(re, &path.to_string_lossy(), path),
            Self::ParentFolder => path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| Error::Label { path: path.into(), reason: "it has no parent folder".into() }),
            Self::Func { func, .. } => func(path),
        }
    }
}

impl fmt::Debug for Labeller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RegexOnName(re) => write!(f, "RegexLabeller(`{}`) on the file name", re.as_str()),
            Self::RegexOnPath(re) => write!(f, "RegexLabeller(`{}`) on the full path", re.as_str()),
            Self::ParentFolder => write!(f, "parent_label (the parent folder's name)"),
            Self::Func { name, .. } => write!(f, "{name}"),
        }
    }
}

fn compile(pattern: &str) -> Result<Regex> {
    let re = Regex::new(pattern).map_err(|source| Error::Regex { pattern: pattern.into(), source })?;
    if re.captures_len() < 2 {
        return Err(Error::Parameter {
            name: "label regex",
            value: format!("{pattern:?}"),
            expected: "a pattern with a capture group, e.g. `(.+)_\\d+.jpg$`: group 1 is the label".into(),
        });
    }
    Ok(re)
}

fn capture(re: &Regex, haystack: &str, path: &Path) -> Result<String> {
    let reason = match re.captures(haystack) {
        None => format!("the regex `{}` did not match {haystack:?}", re.as_str()),
        Some(c) => match c.get(1) {
            Some(m) if !m.as_str().is_empty() => return Ok(m.as_str().to_owned()),
            // An optional group, or one that can match nothing: the pattern matched, the label is what is missing.
            Some(_) => format!(
                "the regex `{}` matched {haystack:?} but its group 1 (the label) is empty; make group 1 match at \
                 least one character, e.g. `(.+)`",
                re.as_str()
            ),
            None => format!(
                "the regex `{}` matched {haystack:?} without its group 1 (the label), which is optional in the \
                 pattern; make group 1 required",
                re.as_str()
            ),
        },
    };
    Err(Error::Label { path: path.into(), reason })
}
