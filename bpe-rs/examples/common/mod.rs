//! What the example drivers share: reading their command line and failing as the project's CLIs do (one line on
//! stderr, exit 2). Each driver uses a part of it.
#![allow(dead_code)]

use bpe_rs::pretok::{CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN};
use std::ops::RangeInclusive;

/// Print `why` with the usage line and exit 2.
pub fn fail(usage: &str, why: String) -> ! {
    eprintln!("error: {why} ({usage})");
    std::process::exit(2)
}

/// The command line (the program's name first), if it has a number of items in `counts`.
pub fn args(usage: &str, counts: RangeInclusive<usize>) -> Vec<String> {
    let a: Vec<String> = std::env::args().collect();
    if !counts.contains(&a.len()) {
        fail(usage, "wrong number of arguments".into());
    }
    a
}

/// The split pattern a driver takes by name: gpt2, cl100k or o200k.
pub fn pattern(usage: &str, name: &str) -> &'static str {
    match name {
        "gpt2" => GPT2_PATTERN,
        "cl100k" => CL100K_PATTERN,
        "o200k" => O200K_PATTERN,
        other => fail(usage, format!("unknown pattern {other:?}")),
    }
}
