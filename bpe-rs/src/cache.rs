//! Remembered merges: the ids of pieces that are not tokens, kept across texts and calls.
//!
//! Merging is the encoder's slow path, and the pieces that need it recur: in 10 MB of Gutenberg 7% of pieces are no
//! token but only 1.7% are distinct; in multilingual.txt 57% and 21% (cl100k_base). A cache that lives only for one
//! call forgets them at every document, so `CachePool` keeps caches on the encoder: a call (or a rayon worker of a
//! batch) leases one, and the lease puts it back when dropped. Encoding a piece is a pure function of its bytes, so
//! a remembered answer is the answer, whichever text first produced it.

use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;
use std::sync::Mutex;

use crate::encode::Rank;

/// A cache forgets everything when it holds this many pieces (a few MB), so memory stays bounded on any input.
pub const MAX_PIECES: usize = 1 << 16;
/// Longer pieces are not remembered: they are rare, and each would cost its length in memory.
pub const MAX_PIECE_BYTES: usize = 128;
/// At most this many idle caches stay pooled (one per thread that encoded at the same time, in practice).
const MAX_POOLED: usize = 64;

/// Piece bytes -> its ids. Keys and ids sit in two flat arrays (no allocation per piece), found through a map from
/// the piece's 64-bit hash; the stored bytes are compared on a hit, and a piece whose hash another piece already holds
/// is merged every time instead of remembered, so a collision costs time, never a wrong id.
#[derive(Default)]
pub struct PieceCache {
    by_hash: FxHashMap<u64, Entry>,
    bytes: Vec<u8>,
    ids: Vec<Rank>,
    limit: usize,
}

/// Where one piece's bytes and ids sit in `PieceCache::bytes` and `PieceCache::ids`.
#[derive(Clone, Copy)]
struct Entry {
    bytes: u32,
    ids: u32,
    n_bytes: u16,
    n_ids: u16,
}

impl PieceCache {
    /// A cache that holds up to `limit` pieces. Its map is sized for all of them at once (3 MB for `MAX_PIECES`, of
    /// which pages are backed as they fill): grown as it filled, it was rehashed at every doubling, which cost ~4% of
    /// a first pass over multilingual text with o200k_base (cachegrind). Its two arrays get room for 16 bytes and 4 ids
    /// a piece (1 MB each, backed as they fill): grown by doubling, each realloc copied them; sized first, they cut a
    /// first pass's last-level misses over 3 MB of multilingual.txt by 7% (o200k_base) and 9% (cl100k_base).
    pub fn with_limit(limit: usize) -> Self {
        let mut by_hash = FxHashMap::default();
        by_hash.reserve(limit);
        let (bytes, ids) = (Vec::with_capacity(limit * 16), Vec::with_capacity(limit * 4));
        PieceCache { by_hash, bytes, ids, limit }
    }

    /// Append the ids of `piece` to `out`: remembered ones are copied, others made by `merge` and remembered.
    #[inline]
    pub fn encode(&mut self, piece: &[u8], out: &mut Vec<Rank>, merge: impl FnOnce(&[u8], &mut Vec<Rank>)) {
        if piece.len() > MAX_PIECE_BYTES {
            return merge(piece, out); // not even hashed: a 1 MB piece would be read once more for nothing
        }
        let hash = FxBuildHasher.hash_one(piece);
        let found = self.by_hash.get(&hash).copied();
        if let Some(e) = found {
            if &self.bytes[e.bytes as usize..e.bytes as usize + e.n_bytes as usize] == piece {
                out.extend_from_slice(&self.ids[e.ids as usize..e.ids as usize + e.n_ids as usize]);
                return;
            }
        }
        let start = out.len();
        merge(piece, out);
        if found.is_some() {
            return;
        }
        if self.by_hash.len() >= self.limit {
            self.by_hash.clear();
            self.bytes.clear();
            self.ids.clear();
        }
        let made = &out[start..];
        let e = Entry {
            bytes: self.bytes.len() as u32,
            ids: self.ids.len() as u32,
            n_bytes: piece.len() as u16,
            n_ids: made.len() as u16,
        };
        self.by_hash.insert(hash, e);
        self.bytes.extend_from_slice(piece);
        self.ids.extend_from_slice(made);
    }

    /// How many pieces it remembers.
    pub fn pieces(&self) -> usize {
        self.by_hash.len()
    }
}

/// Idle caches of one encoder.
#[derive(Default)]
pub struct CachePool(Mutex<Vec<PieceCache>>);

impl CachePool {
    /// A cache to use until the lease is dropped: an idle one if any, else a new one.
    pub fn lease(&self) -> Lease<'_> {
        let cache = self.idle().pop().unwrap_or_else(|| PieceCache::with_limit(MAX_PIECES));
        Lease { pool: self, cache }
    }

    /// Drop the idle caches (a leased one comes back when its call ends).
    pub fn clear(&self) {
        self.idle().clear();
    }

    /// Pieces remembered by the idle caches.
    pub fn pieces(&self) -> usize {
        self.idle().iter().map(PieceCache::pieces).sum()
    }

    /// A panic inside an encode never leaves a cache half-written (see `PieceCache::encode`), so a poisoned lock
    /// still guards valid caches.
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PieceCache>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Lease<'a> {
    pool: &'a CachePool,
    pub cache: PieceCache,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.idle();
        if idle.len() < MAX_POOLED {
            idle.push(std::mem::take(&mut self.cache));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in merge that says which pieces it was asked for.
    fn encode_all(cache: &mut PieceCache, pieces: &[&str], asked: &mut Vec<String>) -> Vec<Rank> {
        let mut out = vec![];
        for p in pieces {
            cache.encode(p.as_bytes(), &mut out, |b, out| {
                asked.push(String::from_utf8(b.to_vec()).unwrap());
                out.extend(b.iter().map(|&x| x as Rank * 10));
            });
        }
        out
    }

    #[test]
    fn repeats_are_copied_not_merged_and_the_limit_forgets() {
        let mut cache = PieceCache::with_limit(2);
        let mut asked = vec![];
        let ids = encode_all(&mut cache, &["ab", "c", "ab", "ab", "c"], &mut asked);
        assert_eq!(ids, vec![970, 980, 990, 970, 980, 970, 980, 990]);
        assert_eq!(asked, ["ab", "c"]);
        encode_all(&mut cache, &["d", "ab"], &mut asked); // "d" finds the cache full: it starts over with "d"
        assert_eq!(asked, ["ab", "c", "d", "ab"]);
        assert_eq!(cache.pieces(), 2);
    }

    #[test]
    fn long_pieces_are_merged_every_time() {
        let mut cache = PieceCache::with_limit(10);
        let long = "x".repeat(MAX_PIECE_BYTES + 1);
        let mut asked = vec![];
        let ids = encode_all(&mut cache, &[&long, &long], &mut asked);
        assert_eq!((asked.len(), ids.len(), cache.pieces()), (2, 2 * long.len(), 0));
    }

    #[test]
    fn a_lease_returns_its_cache_to_the_pool() {
        let pool = CachePool::default();
        {
            let mut lease = pool.lease();
            encode_all(&mut lease.cache, &["ab"], &mut vec![]);
            let other = pool.lease(); // the first is out: a new, empty one
            assert_eq!(other.cache.pieces(), 0);
        }
        assert_eq!(pool.idle().len(), 2);
        let lengths: Vec<usize> = pool.idle().iter().map(PieceCache::pieces).collect();
        assert!(lengths.contains(&1), "the used cache came back with its piece");
    }
}
