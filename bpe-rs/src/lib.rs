//! bpe_rs: the Rust core of the `bpe` tokenizer.
//!
//! Pure Rust, no Python: `cargo test --manifest-path bpe-rs/Cargo.toml` tests it directly.
//! The Python bindings live in `py.rs` (feature `python`, turned on by maturin).

mod ascii;
pub mod chunk;
pub mod encode;
pub mod pretok;
pub mod train;

#[cfg(feature = "python")]
mod py;
