//! BPE training: parallel pre-token counting (streaming a file in blocks), then merges with incremental pair counts
//! and a priority queue. Same merges as bpe/bpe/training.py, including its tie rule: among pairs with the highest
//! count the lexicographically greatest (first token's bytes, then second's) wins.

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;

use crate::chunk::{chunk_bounds, for_each_block};
use crate::error::Result;
use crate::pretok::Splitter;

pub type Pair = (u32, u32);
pub type WordCounts = FxHashMap<Vec<u8>, u64>;

fn special_matcher(specials: &[String]) -> Option<AhoCorasick> {
    if specials.is_empty() {
        return None;
    }
    AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(specials).ok()
}

/// Count pre-tokens in one chunk; special tokens are cut out and not counted.
fn count_chunk<'t>(text: &'t str, splitter: &Splitter, ac: Option<&AhoCorasick>) -> FxHashMap<&'t str, u64> {
    let mut counts: FxHashMap<&str, u64> = FxHashMap::default();
    let mut add = |segment: &'t str| splitter.for_each(segment, |p| *counts.entry(p).or_insert(0) += 1);
    match ac {
        None => add(text),
        Some(ac) => {
            let mut pos = 0;
            for m in ac.find_iter(text) {
                add(&text[pos..m.start()]);
                pos = m.end();
            }
            add(&text[pos..]);
        }
    }
    counts
}

/// Count pre-tokens of `text` in parallel over safely cut chunks, adding into `total`.
pub fn count_text(text: &str, splitter: &Splitter, specials: &[String], total: &mut WordCounts) {
    let ac = special_matcher(specials);
    let special_bytes: Vec<Vec<u8>> = specials.iter().map(|s| s.as_bytes().to_vec()).collect();
    let n = rayon::current_num_threads() * 4;
    let bounds = chunk_bounds(text.as_bytes(), n, &special_bytes);
    let parts: Vec<FxHashMap<&str, u64>> =
        bounds.par_windows(2).map(|w| count_chunk(&text[w[0]..w[1]], splitter, ac.as_ref())).collect();
    for part in parts {
        for (piece, c) in part {
            match total.get_mut(piece.as_bytes()) {
                Some(t) => *t += c,
                None => {
                    total.insert(piece.as_bytes().to_vec(), c);
                }
            }
        }
    }
}

/// Stream a UTF-8 file in blocks cut at safe points; memory is one block plus the unique pre-tokens.
pub fn count_file(
    path: &str,
    splitter: &Splitter,
    specials: &[String],
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<WordCounts> {
    let special_bytes: Vec<Vec<u8>> = specials.iter().map(|s| s.as_bytes().to_vec()).collect();
    let mut total = WordCounts::default();
    for_each_block(path, &special_bytes, |text, done, size| {
        count_text(text, splitter, specials, &mut total);
        progress("pre-tokenizing", done >> 20, size >> 20);
    })?;
    Ok(total)
}

/// A merge candidate in the max-heap: highest count, then greatest first bytes, then greatest second bytes.
struct Candidate {
    count: u64,
    left: Rc<[u8]>,
    right: Rc<[u8]>,
    pair: Pair,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.count, &self.left, &self.right, self.pair).cmp(&(other.count, &other.left, &other.right, other.pair))
    }
}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}

/// Replace non-overlapping occurrences of `pair`, left to right, with `id`.
pub fn merge_word(word: &[u32], pair: Pair, id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    while i < word.len() {
        if i + 1 < word.len() && word[i] == pair.0 && word[i + 1] == pair.1 {
            out.push(id);
            i += 2;
        } else {
            out.push(word[i]);
            i += 1;
        }
    }
    out
}

/// Learn `num_merges` merges from unique pre-tokens and their counts.
pub fn train_counts(counts: WordCounts, num_merges: usize, progress: &mut dyn FnMut(&str, usize, usize)) -> Vec<Pair> {
    let mut words: Vec<Vec<u32>> = Vec::with_capacity(counts.len());
    let mut freqs: Vec<i64> = Vec::with_capacity(counts.len());
    for (w, c) in counts {
        words.push(w.iter().map(|&b| b as u32).collect());
        freqs.push(c as i64);
    }
    let mut vocab: Vec<Rc<[u8]>> = (0..=255u8).map(|b| Rc::from(vec![b])).collect();
    let mut pair_counts: FxHashMap<Pair, i64> = FxHashMap::default();
    let mut where_: FxHashMap<Pair, Vec<u32>> = FxHashMap::default();
    for (i, w) in words.iter().enumerate() {
        for p in w.windows(2) {
            let pair = (p[0], p[1]);
            *pair_counts.entry(pair).or_insert(0) += freqs[i];
            where_.entry(pair).or_default().push(i as u32);
        }
    }
    let candidate = |pair: Pair, count: i64, vocab: &Vec<Rc<[u8]>>| Candidate {
        count: count as u64,
        left: vocab[pair.0 as usize].clone(),
        right: vocab[pair.1 as usize].clone(),
        pair,
    };
    let mut heap: BinaryHeap<Candidate> =
        pair_counts.iter().map(|(&p, &c)| candidate(p, c, &vocab)).collect();
    let mut seen = vec![usize::MAX; words.len()];
    // Never more merges than distinct pairs can make room for now: a huge num_merges must not be an allocation.
    let mut merges = Vec::with_capacity(num_merges.min(pair_counts.len()));
    let report_every = (num_merges / 100).max(1);

    for step in 0..num_merges {
        let pair = loop {
            match heap.pop() {
                None => break None,
                Some(c) if pair_counts.get(&c.pair) == Some(&(c.count as i64)) => break Some(c.pair),
                Some(_) => continue, // stale: the count changed since this entry was pushed
            }
        };
        let Some(pair) = pair else { break };
        let id = 256 + step as u32;
        let joined: Vec<u8> = [&vocab[pair.0 as usize][..], &vocab[pair.1 as usize][..]].concat();
        vocab.push(Rc::from(joined));
        merges.push(pair);

        let mut delta: FxHashMap<Pair, i64> = FxHashMap::default();
        for w in where_.remove(&pair).unwrap_or_default() {
            let w = w as usize;
            if seen[w] == step {
                continue;
            }
            seen[w] = step;
            let new = merge_word(&words[w], pair, id);
            if new.len() == words[w].len() {
                continue; // stale index entry
            }
            let f = freqs[w];
            for p in words[w].windows(2) {
                *delta.entry((p[0], p[1])).or_insert(0) -= f;
            }
            for p in new.windows(2) {
                let q = (p[0], p[1]);
                *delta.entry(q).or_insert(0) += f;
                if q.0 == id || q.1 == id {
                    where_.entry(q).or_default().push(w as u32); // only pairs with the new token are new here
                }
            }
            words[w] = new;
        }
        pair_counts.remove(&pair);
        for (q, d) in delta {
            if d == 0 || q == pair {
                continue;
            }
            let c = pair_counts.entry(q).or_insert(0);
            *c += d;
            if *c > 0 {
                let c = *c;
                heap.push(candidate(q, c, &vocab));
            } else {
                pair_counts.remove(&q);
            }
        }
        if (step + 1) % report_every == 0 || step + 1 == num_merges {
            progress("merging", step + 1, num_merges);
        }
    }
    merges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_of(text: &str) -> WordCounts {
        let mut total = WordCounts::default();
        let s = Splitter::new(r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s").unwrap();
        count_text(text, &s, &["<|endoftext|>".to_string()], &mut total);
        total
    }

    #[test]
    fn tie_rule_prefers_greater_bytes() {
        // (a,a) wins with 4; then (aa,a) and (a,b) tie at 2 and b"aa" > b"a".
        let merges = train_counts(counts_of("aaab aaab"), 2, &mut |_, _, _| {});
        assert_eq!(merges, vec![(97, 97), (256, 97)]);
    }

    #[test]
    fn specials_are_not_counted() {
        let c = counts_of("hi<|endoftext|>hi");
        assert_eq!(c.get(&b"hi"[..]), Some(&2));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn stops_when_nothing_is_left_to_merge() {
        let merges = train_counts(counts_of("ab ab"), 10, &mut |_, _, _| {});
        assert_eq!(merges.len(), 2); // "ab", then " ab"
    }
}
