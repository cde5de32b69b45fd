//! bpe_rs: the Rust core of the `bpe` tokenizer.
//!
//! Pure Rust, no Python: `cargo test --manifest-path bpe-rs/Cargo.toml` tests it directly.
//! The Python bindings live in `py.rs` (feature `python`, turned on by maturin): the only file that knows pyo3,
//! and the one place where `error::Error` becomes a Python exception.

mod backtrack;
pub mod cache;
pub mod chunk;
pub mod encode;
pub mod error;
mod pairs;
pub mod pretok;
mod scan;
pub mod train;

pub use error::{Error, Result};

#[cfg(feature = "python")]
mod py;
