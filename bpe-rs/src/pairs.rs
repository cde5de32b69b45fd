//! The pair table: is the token x followed by the token y itself a token, and of which rank?
//!
//! Merging asks this over and over (tiktoken hashes the bytes x ++ y each time). Here the question is asked by the two
//! ranks. Worked example, gpt2 ranks: " t" is 256 and "he" is 258, and " the" is 262, so `rank(256, 258)` is 262; " t"
//! then "q" (80) is no token, so `rank(256, 80)` is NONE. Every split of a token counts, not only the pair a trainer
//! merged: o200k_base's "abc" may be reached as "a" + "bc" or as "ab" + "c".
//!
//! Two structures answer, smallest first, because merging is bound by cache misses here, not by instructions:
//! - a filter, 2 bits a pair in 512 KB, answers most "no"s (most pairs asked about are no token);
//! - an open-addressing table answers the rest: one u64 a pair, `x << 42 | y << 21 | rank`, so the key and the answer
//!   share a slot and a lookup is one cache line. A `HashMap<u64, Rank>` spent two misses on each "yes" (its control
//!   bytes, then the 16-byte bucket) in twice the memory.
//!
//! Ranks must therefore be below 2^21 (2,097,152); `Pairs::new` says so in an error otherwise.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::encode::Rank;
use crate::error::{Error, Result};

const NONE: Rank = Rank::MAX;
/// Bits of each of the three fields of a slot.
const FIELD: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD) - 1;
/// Every rank must be below this (py.rs exports it, so that Python can name the limit and the remedy first).
pub const RANK_LIMIT: u64 = 1 << FIELD;
/// The top bit of a slot is 0 in every pair, so this can mark an empty one.
const EMPTY: u64 = u64::MAX;
/// The filter has 2^22 bits (512 KB), two per pair in one u64: 4.1% of other pairs get through for o200k_base's 446K
/// pairs (1.4% for cl100k_base's), against 2.7% for one bit each in 2^24 bits, in a quarter of the cache. At 2 MB,
/// one bit per pair, its load was the hottest instruction of merging; at 512 KB, multilingual.txt with o200k_base
/// 312-320 -> 298-308 ms (Rust, one thread, alternating runs).
const FILTER_BITS: u32 = 22;
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

pub struct Pairs {
    /// Slot `i` holds a pair whose home (`home(key)`) is `i` or a slot before it (linear probing); at most half are
    /// full, so a "no" that gets past the filter usually stops at the first empty slot.
    slots: Box<[u64]>,
    /// 64 minus log2 of the number of slots: a key's home is the top bits of its Fibonacci hash.
    shift: u32,
    filter: Box<[u64]>,
}

impl Pairs {
    /// Every pair of tokens whose concatenation is a token. Err when a token's rank does not fit in 21 bits.
    pub fn new(encoder: &FxHashMap<Vec<u8>, Rank>) -> Result<Self> {
        if let Some((bytes, &rank)) = encoder.iter().find(|(_, &r)| r as u64 >= RANK_LIMIT) {
            return Err(Error::Vocab(format!(
                "token {bytes:?} has rank {rank}: the encoder's pair table holds ranks below {RANK_LIMIT} (2^{FIELD})"
            )));
        }
        Ok(Self::from_pairs(&splits(encoder)))
    }

    /// The table of `(x, y, rank of x ++ y)` triples, all ranks below 2^21.
    fn from_pairs(pairs: &[(Rank, Rank, Rank)]) -> Self {
        let bits = pairs.len().max(8).next_power_of_two().trailing_zeros() + 1; // load factor 1/4 to 1/2
        let mut slots = vec![EMPTY; 1 << bits].into_boxed_slice();
        let shift = 64 - bits;
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)].into_boxed_slice();
        for &(x, y, rank) in pairs {
            let key = key(x, y);
            let mut i = home(key, shift);
            while slots[i] != EMPTY {
                i = (i + 1) & (slots.len() - 1);
            }
            slots[i] = key << FIELD | rank as u64;
            let (word, mask) = filter_bits(key);
            filter[word] |= mask;
        }
        Pairs { slots, shift, filter }
    }

    /// The rank of the token x ++ y (x and y are token ranks), NONE if that is no token.
    #[inline]
    pub fn rank(&self, x: Rank, y: Rank) -> Rank {
        debug_assert!(x as u64 <= FIELD_MASK && y as u64 <= FIELD_MASK);
        let key = key(x, y);
        let (word, mask) = filter_bits(key);
        if self.filter[word] & mask != mask {
            return NONE;
        }
        let mut i = home(key, self.shift);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return NONE;
            }
            if slot >> FIELD == key {
                return (slot & FIELD_MASK) as Rank;
            }
            i = (i + 1) & (self.slots.len() - 1);
        }
    }

    /// How many pairs the table holds.
    #[cfg(test)]
    fn n_pairs(&self) -> usize {
        self.slots.iter().filter(|&&s| s != EMPTY).count()
    }
}

#[inline]
fn key(x: Rank, y: Rank) -> u64 {
    (x as u64) << FIELD | y as u64
}

#[inline]
fn home(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(FIBONACCI) >> shift) as usize
}

/// The two bits of the filter a key sets, both in one u64, so a check is one memory access: the word is the top bits
/// of a Fibonacci hash, the two bits the 6-bit fields below them (bits that depend on both ranks).
#[inline]
fn filter_bits(key: u64) -> (usize, u64) {
    let h = key.wrapping_mul(FIBONACCI);
    let word = (h >> (64 - (FILTER_BITS - 6))) as usize;
    (word, 1 << (h >> 36 & 63) | 1 << (h >> 42 & 63))
}

/// Every split of every token into two tokens: (rank(T[..k]), rank(T[k..]), rank(T)). o200k_base has 446K (2.2 a
/// token), found in ~50 ms on one core, so the search runs in parallel (rayon); packing short halves into u64 keys or
/// hashing prefixes polynomially measured slower than these plain slice lookups.
fn splits(encoder: &FxHashMap<Vec<u8>, Rank>) -> Vec<(Rank, Rank, Rank)> {
    let tokens: Vec<(&[u8], Rank)> = encoder.iter().map(|(bytes, &rank)| (bytes.as_slice(), rank)).collect();
    let found: Vec<Vec<(Rank, Rank, Rank)>> = tokens
        .par_chunks(8192)
        .map(|chunk| {
            let mut found = Vec::with_capacity(chunk.len() * 3);
            for &(bytes, rank) in chunk {
                for k in 1..bytes.len() {
                    let Some(&x) = encoder.get(&bytes[..k]) else { continue };
                    if let Some(&y) = encoder.get(&bytes[k..]) {
                        found.push((x, y, rank));
                    }
                }
            }
            found
        })
        .collect();
    found.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn answers_as_a_hash_map_of_the_same_pairs() {
        // Ranks across all 21 bits (the top ones exercise the packing), many pairs sharing a home, and asks that miss.
        let mut seed = 3u64;
        let mut want: FxHashMap<(Rank, Rank), Rank> = FxHashMap::default();
        while want.len() < 20_000 {
            let x = (lcg(&mut seed) as Rank) & FIELD_MASK as Rank;
            let y = if want.len().is_multiple_of(3) { x ^ 1 } else { (lcg(&mut seed) as Rank) & FIELD_MASK as Rank };
            want.insert((x, y), (lcg(&mut seed) as Rank) & FIELD_MASK as Rank);
        }
        let triples: Vec<(Rank, Rank, Rank)> = want.iter().map(|(&(x, y), &r)| (x, y, r)).collect();
        let pairs = Pairs::from_pairs(&triples);
        assert_eq!(pairs.n_pairs(), want.len());
        for (&(x, y), &r) in &want {
            assert_eq!(pairs.rank(x, y), r, "({x}, {y})");
            let (a, b) = (y, x ^ (lcg(&mut seed) as Rank & 7));
            assert_eq!(pairs.rank(a, b), want.get(&(a, b)).copied().unwrap_or(NONE), "({a}, {b})");
        }
        assert_eq!(pairs.rank(FIELD_MASK as Rank, FIELD_MASK as Rank), NONE, "the largest key is not the empty mark");
    }

    #[test]
    fn every_split_of_every_token_is_a_pair() {
        // "abc" = "ab" + "c" = "a" + "bc": both splits answer, and "c" + "ab" is no token.
        let mut encoder: FxHashMap<Vec<u8>, Rank> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        for (i, t) in ["ab", "bc", "abc"].iter().enumerate() {
            encoder.insert(t.as_bytes().to_vec(), 256 + i as Rank);
        }
        let pairs = Pairs::new(&encoder).unwrap();
        let r = |t: &str| encoder[t.as_bytes()];
        assert_eq!(pairs.rank(r("a"), r("b")), r("ab"));
        assert_eq!(pairs.rank(r("ab"), r("c")), r("abc"));
        assert_eq!(pairs.rank(r("a"), r("bc")), r("abc"));
        assert_eq!(pairs.rank(r("c"), r("ab")), NONE);
        assert_eq!(pairs.n_pairs(), 4);
    }

    #[test]
    fn a_rank_past_21_bits_is_an_error() {
        let mut encoder: FxHashMap<Vec<u8>, Rank> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        encoder.insert(b"ab".to_vec(), 1 << FIELD);
        assert!(matches!(Pairs::new(&encoder), Err(Error::Vocab(m)) if m.contains("2097152")));
        encoder.insert(b"ab".to_vec(), (1 << FIELD) - 1);
        assert_eq!(Pairs::new(&encoder).unwrap().rank(97, 98), (1 << FIELD) - 1);
    }
}
