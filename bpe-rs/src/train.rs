//! Training primitives.

use rustc_hash::FxHashMap;

/// Count adjacent pairs over words weighted by their frequency.
pub fn count_pairs(words: &[Vec<u32>], freqs: &[u64]) -> FxHashMap<(u32, u32), u64> {
    let mut counts = FxHashMap::default();
    for (w, &f) in words.iter().zip(freqs) {
        for p in w.windows(2) {
            *counts.entry((p[0], p[1])).or_insert(0) += f;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn counts_weighted_pairs() {
        let c = count_pairs(&[vec![1, 2, 1, 2], vec![2, 1]], &[3, 5]);
        assert_eq!(c[&(1, 2)], 6);
        assert_eq!(c[&(2, 1)], 8);
    }
}
