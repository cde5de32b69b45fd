//! Pre-tokenization alone, without merging: what the scanner costs on a text, for perf and cachegrind.
//!
//!     cargo run --release --example split_speed -- FILE [gpt2|cl100k|o200k [ROUNDS]]
//!
//! Splits the first 12 MB of FILE ROUNDS times (default 15) with the pattern's splitter and prints the best round and
//! the number of pieces; with 1 round the count of instructions is the splitter's (plus reading the file).
use bpe_rs::pretok::Splitter;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: split_speed FILE [gpt2|cl100k|o200k [ROUNDS]]";

fn main() {
    let a = common::args(USAGE, 2..=4);
    let fail = |why: String| -> ! { common::fail(USAGE, why) };
    let data = std::fs::read(&a[1]).unwrap_or_else(|e| fail(format!("{}: {e}", a[1])));
    let pattern = common::pattern(USAGE, a.get(2).map_or("gpt2", String::as_str));
    let rounds: usize = match a.get(3).map_or(Ok(15), |s| s.parse()) {
        Ok(n) if n > 0 => n,
        _ => fail(format!("ROUNDS must be a positive integer, not {:?}", a[3])),
    };
    let text = String::from_utf8_lossy(&data[..data.len().min(12 << 20)]).into_owned();
    let splitter = Splitter::new(pattern).unwrap_or_else(|e| fail(e.to_string()));
    let (mut best, mut pieces) = (f64::MAX, 0usize);
    for _ in 0..rounds {
        let t = Instant::now();
        pieces = 0;
        splitter.for_each(&text, |_| pieces += 1);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mb = text.len() as f64 / 1e6;
    println!("{pieces} pieces of {mb:.1} MB, best of {rounds}: {:.1} ms ({:.1} MB/s)", best * 1e3, mb / best);
}
