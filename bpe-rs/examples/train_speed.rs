//! Training speed without Python, phase by phase, on 1 thread and on all cores (perf record works on it):
//!
//!     cargo run --release --example train_speed -- FILE [VOCAB] [ROUNDS] [merging]
//!
//! FILE: a UTF-8 corpus (e.g. runs/bench/big-corpus.txt from bench/big_corpus.py); VOCAB: 16384 by default (256
//! bytes plus merges; no special token counted); ROUNDS: 3. GPT-2 pattern, `<|endoftext|>` special, 64 MB blocks as
//! the Python API streams them. Each round trains on 1 thread and on all cores, in an order that alternates round by
//! round (a slow minute on a shared VM slows both), and times counting (reading, splitting, counting pre-tokens) and
//! merging apart; the merges must be the same on both. Prints each phase's best time and the speed-up. With
//! `merging`, the file is counted once (on all cores) and each round times merging only, from a copy of the counts,
//! so that more merging rounds fit in the same minutes of a noisy VM.
use bpe_rs::pretok::{Splitter, GPT2_PATTERN};
use bpe_rs::train::{count_file, train_counts};
use std::time::Instant;

mod common;

const USAGE: &str = "usage: train_speed FILE [VOCAB] [ROUNDS] [merging]";
const BLOCK: usize = 64 << 20;

fn main() {
    let a = common::args(USAGE, 2..=5);
    let fail = |why: String| -> ! { common::fail(USAGE, why) };
    let merging_only = match a.get(4).map(String::as_str) {
        None => false,
        Some("merging") => true,
        Some(other) => fail(format!("the fourth argument can only be 'merging', not {other:?}")),
    };
    let number = |i: usize, default: usize, least: usize| match a.get(i).map_or(Ok(default), |s| s.parse()) {
        Ok(n) if n >= least => n,
        _ => fail(format!("argument {i} must be an integer >= {least}, not {:?}", a[i])),
    };
    let (vocab, rounds) = (number(2, 16384, 257), number(3, 3, 1));
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = |n: usize| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
    let pools = [pool(1), pool(all)];
    let splitter = Splitter::new(GPT2_PATTERN).unwrap();
    let specials = vec!["<|endoftext|>".to_string()];
    let count = || {
        let counted = count_file(&a[1], &splitter, &specials, BLOCK, &mut |_, _, _| {});
        counted.unwrap_or_else(|e| fail(format!("{}: {e}", a[1])))
    };
    let counted = merging_only.then(|| pools[1].install(count));
    // best (counting, merging) seconds per pool, and the merges each pool made
    let mut best = [(f64::MAX, f64::MAX); 2];
    let mut merges: [Option<Vec<(u32, u32)>>; 2] = [None, None];
    for round in 0..rounds {
        for k in [round % 2, 1 - round % 2] {
            let (times, made) = pools[k].install(|| {
                let t = Instant::now();
                let counts = counted.clone().unwrap_or_else(count);
                let counting = if merging_only { 0.0 } else { t.elapsed().as_secs_f64() };
                let t = Instant::now();
                let made = train_counts(counts, vocab - 256, &mut |_, _, _| {});
                ((counting, t.elapsed().as_secs_f64()), made)
            });
            best[k] = (best[k].0.min(times.0), best[k].1.min(times.1));
            let threads = pools[k].current_num_threads();
            let counting = if merging_only { String::new() } else { format!("counting {:.2} s, ", times.0) };
            println!("round {round}, {threads} thread(s): {counting}merging {:.2} s", times.1);
            match &merges[k] {
                Some(m) => assert_eq!(*m, made, "merges changed between rounds"),
                None => merges[k] = Some(made),
            }
        }
    }
    assert_eq!(merges[0], merges[1], "merges differ between 1 thread and {all}");
    let total = |b: (f64, f64)| b.0 + b.1;
    for (name, one, many) in [
        ("counting", best[0].0, best[1].0),
        ("merging", best[0].1, best[1].1),
        ("both (sum of bests)", total(best[0]), total(best[1])),
    ] {
        if merging_only && name != "merging" {
            continue;
        }
        println!("{name}: {one:.2} s on 1 thread, {many:.2} s on {all}: {:.2}x", one / many);
    }
}
