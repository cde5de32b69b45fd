//! Encoding speed without Python, to see where time goes (perf record works on it):
//!
//!     cargo run --release --example encode_speed -- RANKS PATTERN FILE [ROUNDS [whole]]
//!
//! RANKS: a tiktoken ranks file (lines of "base64 rank", as in TIKTOKEN_CACHE_DIR); PATTERN: gpt2, cl100k or o200k;
//! FILE: the first 12 MB are encoded. Every round is a first pass (caches cleared); the best round is printed, for
//! one long text on one thread, for one call per ~8 KB document on one thread, for ~64 KB pieces in a batch on 1 and
//! 2 threads, and for the splitter alone. With `whole`, only the long text, so cachegrind counts one mode: its
//! instructions and simulated misses repeat exactly, where times on a shared VM do not. One first pass is the
//! difference of two runs, e.g. of 3 and 1 rounds, halved:
//!
//!     valgrind --tool=cachegrind --cache-sim=yes --D1=49152,12,64 --LL=1310720,10,64 \
//!         target/release/examples/encode_speed RANKS o200k FILE 3 whole
use bpe_rs::encode::CoreBpe;
use bpe_rs::pretok::Splitter;
use std::time::Instant;

mod common;

const USAGE: &str = "usage: encode_speed RANKS gpt2|cl100k|o200k FILE [ROUNDS [whole]]";

fn main() {
    let a = common::args(USAGE, 4..=6);
    let fail = |why: String| -> ! { common::fail(USAGE, why) };
    let read = |path: &str| std::fs::read(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let ranks: Vec<(Vec<u8>, u32)> = String::from_utf8_lossy(&read(&a[1]))
        .lines()
        .map(|l| match l.split_once(' ').map(|(b64, rank)| (base64(b64), rank.parse())) {
            Some((Some(bytes), Ok(rank))) => (bytes, rank),
            _ => fail(format!("{}: not a tiktoken ranks file (line {l:?})", a[1])),
        })
        .collect();
    let pattern = common::pattern(USAGE, &a[2]);
    let data = read(&a[3]);
    let text = String::from_utf8_lossy(&data[..data.len().min(12 << 20)]).into_owned();
    let text = &text[..text.floor_char_boundary(12_000_000)];
    let rounds: usize = match a.get(4).map_or(Ok(5), |s| s.parse()) {
        Ok(n) if n > 0 => n,
        _ => fail(format!("ROUNDS must be a positive integer, not {:?}", a[4])),
    };
    let whole_only = match a.get(5).map(String::as_str) {
        None => false,
        Some("whole") => true,
        Some(other) => fail(format!("the last argument may only be `whole`, not {other:?}")),
    };
    let bpe = CoreBpe::new(ranks, Default::default(), pattern).unwrap_or_else(|e| fail(e.to_string()));
    bpe.encode_ordinary("ꙮ漢字漢字漢字ü"); // build the backtracking tables
    // one call per ~8 KB document, timed in rounds alternating with the whole text: what a call costs beyond its text
    let small = cut_at_lines(text, 1 << 13);
    let (mut best, mut best_d) = (f64::MAX, f64::MAX);
    let mut n = 0;
    for _ in 0..rounds {
        bpe.caches().clear();
        let t = Instant::now();
        n = bpe.encode_ordinary(text).len();
        best = best.min(t.elapsed().as_secs_f64());
        if whole_only {
            continue;
        }
        bpe.caches().clear();
        let t = Instant::now();
        std::hint::black_box(small.iter().map(|d| bpe.encode_ordinary(d).len()).sum::<usize>());
        best_d = best_d.min(t.elapsed().as_secs_f64());
    }
    if whole_only {
        return println!("{n} ids, best {:.1} MB/s ({:.0} ms)", text.len() as f64 / best / 1e6, best * 1e3);
    }
    let splitter = Splitter::new(pattern).unwrap();
    let t = Instant::now();
    let mut pieces = 0usize;
    splitter.for_each(text, |_| pieces += 1);
    let split = t.elapsed().as_secs_f64();
    let docs = cut_at_lines(text, 1 << 16); // a batch: pieces of about 64 KB, on 1 and 2 threads
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut best_b = f64::MAX;
        for _ in 0..rounds {
            bpe.caches().clear();
            let t = Instant::now();
            let out = pool.install(|| bpe.encode_batch(&docs, None));
            best_b = best_b.min(t.elapsed().as_secs_f64());
            assert!(out.iter().zip(&docs).all(|(ids, d)| *ids == bpe.encode_ordinary(d)), "batch != one by one");
        }
        println!("batch {threads} threads: {:.1} MB/s ({:.0} ms)", text.len() as f64 / best_b / 1e6, best_b * 1e3);
    }
    println!(
        "{n} ids, best {:.1} MB/s ({:.0} ms), split only {:.0} ms ({pieces} pieces)",
        text.len() as f64 / best / 1e6,
        best * 1e3,
        split * 1e3
    );
    let mb = text.len() as f64 / best_d / 1e6;
    println!("{} documents of ~8 KB, one call each: best {mb:.1} MB/s ({:.0} ms)", small.len(), best_d * 1e3);
}

/// The text cut at line ends into pieces of at most about `size` bytes.
fn cut_at_lines(text: &str, size: usize) -> Vec<&str> {
    let mut out = vec![];
    let mut start = 0;
    while start < text.len() {
        let mut end = text.floor_char_boundary((start + size).min(text.len()));
        if end < text.len() {
            end = text[start..end].rfind('\n').map_or(end, |i| start + i + 1);
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// Standard base64 (with `=` padding) to bytes; None if a char is not base64.
fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut bits) = (vec![], 0u32, 0);
    for &c in text.as_bytes().iter().filter(|&&c| c != b'=') {
        acc = acc << 6 | value(c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}
