//! Where encoding time goes: pre-tokenization alone vs full encoding (GPT-2 pattern, byte-only ranks + words).
//! `cargo run --release --example split_speed -- FILE`
use bpe_rs::pretok::{Splitter, GPT2_PATTERN};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: split_speed FILE");
    let data = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&data[..data.len().min(10 << 20)]).into_owned();
    let s = Splitter::new(GPT2_PATTERN).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0usize;
        s.for_each(&text, |_| n += 1);
        let dt = t.elapsed().as_secs_f64();
        println!("split: {n} pieces, {:.1} MB/s", text.len() as f64 / dt / 1e6);
    }
}
