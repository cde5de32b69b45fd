//! The crate's one error type. Plain Rust: py.rs maps each variant to a Python exception, in one place.

use std::fmt;
use std::io;

use crate::encode::Rank;

#[derive(Debug)]
pub enum Error {
    /// A file could not be opened or read (`action` is "open" or "read"). Python: OSError (FileNotFoundError, ...).
    Io { action: &'static str, path: String, source: io::Error },
    /// A file is not UTF-8 text; `offset` is the first invalid byte. Python: ValueError.
    NotUtf8 { path: String, offset: usize },
    /// The split pattern does not compile. Python: ValueError.
    Pattern { pattern: String, message: String },
    /// The ranks cannot make a byte-level BPE vocabulary (a byte missing, a rank used twice). Python: ValueError.
    Vocab(String),
    /// A string asked for as a special token is not one of the tokenizer's. Python: ValueError.
    UnknownSpecial(String),
    /// decode met an id that no token has. Python: ValueError.
    UnknownToken { id: Rank, n_vocab: usize },
    /// Any other bad argument (nothing to train on, a thread pool that cannot be built). Python: ValueError.
    Invalid(String),
    /// A panic caught at the Python boundary (py.rs): a bug in this crate, reported instead of aborting.
    /// Python: RuntimeError.
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { action, path, source } => write!(f, "cannot {action} {path}: {source}"),
            Error::NotUtf8 { path, offset } => {
                write!(f, "{path} is not UTF-8 text (invalid byte at offset {offset}): convert it first")
            }
            Error::Pattern { pattern, message } => write!(f, "invalid split pattern {pattern:?}: {message}"),
            Error::Vocab(m) | Error::Invalid(m) => f.write_str(m),
            Error::Internal(m) => write!(f, "bpe-rs failed internally ({m}); please report this with the input"),
            Error::UnknownSpecial(s) => write!(f, "{s:?} is not a special token of this tokenizer"),
            Error::UnknownToken { id, n_vocab } => {
                write!(f, "token id {id} is not in the vocabulary (0..{})", n_vocab.saturating_sub(1))
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
