//! Pre-tokenization alone, without merging: what the scanner costs on a text, for perf and cachegrind.
//!
//!     cargo run --release --example split_speed -- FILE [gpt2|cl100k|o200k [ROUNDS]]
//!
//! Splits the first 12 MB of FILE ROUNDS times (default 15) with the pattern's splitter and prints the best round and
//! the number of pieces; with 1 round the count of instructions is the splitter's (plus reading the file).
use bpe_rs::pretok::{Splitter, CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN};
use std::time::Instant;

const USAGE: &str = "usage: split_speed FILE [gpt2|cl100k|o200k [ROUNDS]]";

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let fail = |why: String| -> ! {
        eprintln!("error: {why} ({USAGE})");
        std::process::exit(2)
    };
    if !(2..=4).contains(&a.len()) {
        fail("wrong number of arguments".into());
    }
    let data = std::fs::read(&a[1]).unwrap_or_else(|e| fail(format!("{}: {e}", a[1])));
    let pattern = match a.get(2).map_or("gpt2", String::as_str) {
        "gpt2" => GPT2_PATTERN,
        "cl100k" => CL100K_PATTERN,
        "o200k" => O200K_PATTERN,
        other => fail(format!("unknown pattern {other:?}")),
    };
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
