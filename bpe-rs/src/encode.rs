//! The encoder: rank-based BPE over pre-tokens (tiktoken's rule), special tokens, decoding.
//!
//! Per piece: if the whole piece is a token, that is the answer (most English words); otherwise merge the adjacent
//! pair whose concatenation has the lowest rank, leftmost first, until none is a token. Pieces of other scripts than
//! ASCII, and long pieces of any (a 1 MB run of one letter, say), find the same tokens by backtracking
//! (backtrack.rs), in about linear time; short ASCII ones use a linear scan per merge. A vocabulary that cannot
//! backtrack (tokens out of merge order) merges long pieces with a heap over a linked list, so time stays O(n log n).
//!
//! Every part of a piece being merged is a token, so the merge loop works on token ids: the rank of the pair (a, b)
//! is looked up in a table keyed by the two ids (pairs.rs), one integer hash instead of hashing a byte slice. The
//! whole-piece lookup packs short pieces into integers (`Tokens`), and the ids of merged pieces are remembered
//! across texts and calls (cache.rs).

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use crate::backtrack::Backtrack;
use crate::cache::{CachePool, Lease, PieceCache};
use crate::error::{Error, Result};
use crate::pairs::Pairs;
use crate::pretok::Splitter;

pub type Rank = u32;
const NONE: Rank = Rank::MAX;
/// Pieces longer than this backtrack, or take the heap merge if the vocabulary cannot (the linear scan is quadratic
/// in the piece length).
const HEAP_THRESHOLD: usize = 128;
/// The scan keeps the parts of a piece up to this long on the stack.
const SHORT_PIECE: usize = 32;
/// A batch's texts are grouped into rayon jobs of about this much text (see `encode_batch`).
const JOB_BYTES: usize = 1 << 16;
/// Ids may leave gaps (cl100k_base has no id 100256), but none lies further than this past the number of tokens:
/// the decoder is a table as long as the largest id, so an id of 4,000,000,000 is an error, not a 64 GB allocation
/// that aborts the process. Python's `bpe.tokenizer.MAX_ID_GAP` is the same bound, checked first.
pub const MAX_ID_GAP: usize = 1 << 16;

pub struct CoreBpe {
    /// The vocabulary, bytes -> rank, laid out for the hot path's lookups (see `Tokens`).
    tokens: Tokens,
    /// (rank(x), rank(y)) -> rank(x ++ y) for every pair of tokens whose concatenation is a token (pairs.rs).
    pairs: Pairs,
    /// The rank of each single byte (all 256 are tokens: `new` checks).
    byte_rank: [Rank; 256],
    /// `byte_pairs[a << 8 | b]`: the rank of the two-byte token a b, or NONE; a merge's first lookups, as an array.
    byte_pairs: Box<[Rank]>,
    decoder: Vec<Option<Box<[u8]>>>,
    specials: FxHashMap<String, Rank>,
    splitter: Splitter,
    /// Merges remembered across texts and calls (cache.rs).
    caches: CachePool,
    /// The backtracking merge (backtrack.rs), built when a piece first needs it (~30 MB for o200k_base); None when
    /// the vocabulary does not allow it, and then every piece merges rank by rank. Built on one thread: a rayon
    /// worker waiting inside a parallel build could steal a job that merges, and wait on this lock forever.
    backtrack: OnceLock<Option<Backtrack>>,
}

impl CoreBpe {
    pub fn new(ranks: Vec<(Vec<u8>, Rank)>, specials: FxHashMap<String, Rank>, pattern: &str) -> Result<Self> {
        let splitter = Splitter::new(pattern)?;
        let max_id = ranks.iter().map(|r| r.1).chain(specials.values().copied()).max().unwrap_or(0) as usize;
        let limit = ranks.len() + specials.len() + MAX_ID_GAP;
        if max_id >= limit {
            return Err(Error::Vocab(format!(
                "id {max_id} is out of range: with {} tokens and {} special tokens ids must be below {limit}",
                ranks.len(),
                specials.len()
            )));
        }
        let mut decoder: Vec<Option<Box<[u8]>>> = vec![None; max_id + 1];
        let mut encoder = FxHashMap::default();
        encoder.reserve(ranks.len());
        for (bytes, rank) in ranks {
            if rank == NONE {
                return Err(Error::Vocab(format!("rank {rank} is reserved")));
            }
            if decoder[rank as usize].is_some() {
                return Err(Error::Vocab(format!("rank {rank} is given to two tokens")));
            }
            decoder[rank as usize] = Some(bytes.clone().into_boxed_slice());
            encoder.insert(bytes, rank);
        }
        for b in 0..=255u8 {
            if !encoder.contains_key(&[b][..]) {
                return Err(Error::Vocab(format!("byte 0x{b:02x} has no token: byte-level BPE needs all 256 single bytes")));
            }
        }
        for (s, &id) in &specials {
            if decoder[id as usize].is_some() {
                return Err(Error::Vocab(format!("special token {s:?} has id {id}, which another token has")));
            }
            decoder[id as usize] = Some(s.as_bytes().to_vec().into_boxed_slice());
        }
        let byte_rank = std::array::from_fn(|b| encoder[&[b as u8][..]]);
        let byte_pairs = (0..1usize << 16).map(|k| *encoder.get(&[(k >> 8) as u8, k as u8][..]).unwrap_or(&NONE));
        let byte_pairs = byte_pairs.collect();
        let pairs = Pairs::new(&encoder)?;
        let tokens = Tokens::new(&encoder);
        Ok(CoreBpe {
            tokens,
            pairs,
            byte_rank,
            byte_pairs,
            decoder,
            specials,
            splitter,
            caches: CachePool::default(),
            backtrack: OnceLock::new(),
        })
    }

    /// The merge caches (cache.rs): `clear` them to free memory, or to time encoding as a first pass.
    pub fn caches(&self) -> &CachePool {
        &self.caches
    }

    pub fn n_vocab(&self) -> usize {
        self.decoder.len()
    }

    /// Which splitter pre-tokenizes: "gpt2", "cl100k" or "o200k" (the fast path), else "fancy-regex".
    pub fn splitter_name(&self) -> &'static str {
        self.splitter.name()
    }

    /// Ids of one piece, appended to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<Rank>) {
        match self.tokens.get(piece) {
            Some(r) => out.push(r),
            None => self.merge(piece, out),
        }
    }

    /// Whether non-ASCII and long pieces backtrack (backtrack.rs): true unless some token does not encode to itself or
    /// is made from a token ranked above it. Builds the backtracking tables if no piece has needed them yet.
    pub fn backtracks(&self) -> bool {
        self.backtracker().is_some()
    }

    fn backtracker(&self) -> Option<&Backtrack> {
        self.backtrack.get_or_init(|| self.build_backtrack()).as_ref()
    }

    /// Ids of a piece that is no token as a whole: backtracking for pieces of other scripts than ASCII and for long
    /// pieces, else merged rank by rank. ASCII words need few merges, mostly of hot pairs, and the scan was faster on
    /// them (225 vs 320 ns a distinct piece of Gutenberg, o200k_base); multi-byte characters need many merges each,
    /// and backtracking was faster there (220 vs 290 ns on multilingual.txt with cl100k_base, 320 vs 400 with
    /// o200k_base). On pieces over 128 bytes it beats the heap by far: multilingual.txt's 2,535 such pieces (CJK runs)
    /// 11.1 -> 1.8 ms, one run of 1M 'a' 219 -> 3.5 ms. The backtracking tables are built on the first piece that needs
    /// them, so short ASCII pieces never pay for them.
    #[inline(never)]
    fn merge(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if piece.len() > HEAP_THRESHOLD || !piece.is_ascii() {
            if let Some(bt) = self.backtracker() {
                return bt.encode(piece, out, |a, b| self.pairs.rank(a, b));
            }
        }
        self.merge_by_rank(piece, out)
    }

    #[cold]
    #[inline(never)]
    fn build_backtrack(&self) -> Option<Backtrack> {
        let specials: FxHashSet<Rank> = self.specials.values().copied().collect();
        let tokens: Vec<Option<&[u8]>> = (0..self.decoder.len())
            .map(|r| if specials.contains(&(r as Rank)) { None } else { self.decoder[r].as_deref() })
            .collect();
        let merge = |t: &[u8]| {
            let mut out = Vec::new();
            self.merge_by_rank(t, &mut out);
            out
        };
        Backtrack::new(&tokens, |t| self.tokens.get(t), |a, b| self.pairs.rank(a, b), merge)
    }

    /// tiktoken's rule, literally: merge the lowest-ranked adjacent pair until none is a token.
    fn merge_by_rank(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if piece.is_empty() {
        } else if piece.len() <= HEAP_THRESHOLD {
            self.merge_linear(piece, out);
        } else {
            self.merge_heap(piece, out);
        }
    }

    /// tiktoken's scan, on ids: `parts[i] = (rank of part i, rank of the pair of parts i and i + 1)`. The first
    /// pairs are pairs of bytes, read from an array (~6-10% faster on multilingual text than the pair table).
    fn merge_linear(&self, piece: &[u8], out: &mut Vec<Rank>) {
        let mut short = [(NONE, NONE); SHORT_PIECE]; // most pieces need no allocation
        let mut long;
        let parts: &mut [(Rank, Rank)] = if piece.len() <= SHORT_PIECE {
            &mut short[..piece.len()]
        } else {
            long = vec![(NONE, NONE); piece.len()];
            &mut long
        };
        for (part, &b) in parts.iter_mut().zip(piece) {
            part.0 = self.byte_rank[b as usize];
        }
        for (part, b) in parts.iter_mut().zip(piece.windows(2)) {
            part.1 = self.byte_pairs[(b[0] as usize) << 8 | b[1] as usize];
        }
        let mut n = piece.len(); // parts[..n] are live
        loop {
            let (mut min_rank, mut i) = (NONE, 0);
            for (k, &(_, r)) in parts[..n].iter().enumerate() {
                if r < min_rank {
                    (min_rank, i) = (r, k);
                }
            }
            if min_rank == NONE {
                break;
            }
            parts[i].0 = min_rank; // the merged part is the token whose rank the pair had
            parts.copy_within(i + 2..n, i + 1);
            n -= 1;
            parts[i].1 = if i + 1 < n { self.pairs.rank(min_rank, parts[i + 1].0) } else { NONE };
            if i > 0 {
                parts[i - 1].1 = self.pairs.rank(parts[i - 1].0, min_rank);
            }
        }
        out.extend(parts[..n].iter().map(|p| p.0));
    }

    /// The same merges in O(n log n): a min-heap of (pair rank, position) over a doubly linked list of parts.
    fn merge_heap(&self, piece: &[u8], out: &mut Vec<Rank>) {
        let n = piece.len();
        let mut id: Vec<Rank> = piece.iter().map(|&b| self.byte_rank[b as usize]).collect();
        let mut next: Vec<usize> = (1..=n).collect(); // n = end of list
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut rank: Vec<Rank> = vec![NONE; n];
        let pair_rank = |next: &Vec<usize>, id: &Vec<Rank>, i: usize| match next[i] {
            j if j < n => self.pairs.rank(id[i], id[j]),
            _ => NONE,
        };
        let mut heap = BinaryHeap::with_capacity(n);
        for (i, r) in rank.iter_mut().enumerate() {
            *r = pair_rank(&next, &id, i);
            if *r != NONE {
                heap.push(Reverse((*r, i)));
            }
        }
        while let Some(Reverse((r, i))) = heap.pop() {
            if !alive[i] || rank[i] != r {
                continue; // stale entry
            }
            let j = next[i];
            alive[j] = false;
            id[i] = r;
            next[i] = next[j];
            if next[j] < n {
                prev[next[j]] = i;
            }
            rank[i] = pair_rank(&next, &id, i);
            if rank[i] != NONE {
                heap.push(Reverse((rank[i], i)));
            }
            let p = prev[i];
            if p < n {
                rank[p] = pair_rank(&next, &id, p);
                if rank[p] != NONE {
                    heap.push(Reverse((rank[p], p)));
                }
            }
        }
        let mut i = 0;
        while i < n {
            out.push(id[i]);
            i = next[i];
        }
    }

    /// Encode text with no special-token handling. A piece that is not itself a token goes through `cache`, which
    /// merges it only the first time it sees it.
    fn encode_ordinary_into(&self, text: &str, out: &mut Vec<Rank>, cache: &mut PieceCache) {
        self.splitter.for_each(text, |piece| {
            let piece = piece.as_bytes();
            match self.tokens.get(piece) {
                Some(r) => out.push(r),
                None => cache.encode(piece, out, |p, out| self.merge(p, out)), // whole-token check done
            }
        });
    }

    pub fn encode_ordinary(&self, text: &str) -> Vec<Rank> {
        self.encode(text, None)
    }

    /// Encode text where the matcher's special tokens become their ids, into a new vector.
    pub fn encode(&self, text: &str, matcher: Option<&AhoCorasick>) -> Vec<Rank> {
        let mut out = ids_buffer(text);
        self.encode_with(text, matcher, &mut out);
        out
    }

    /// A matcher for the allowed special tokens (leftmost, then longest: as the Python reference splits).
    pub fn special_matcher(&self, allowed: &[String]) -> Result<Option<AhoCorasick>> {
        for s in allowed {
            if !self.specials.contains_key(s) {
                return Err(Error::UnknownSpecial(s.clone()));
            }
        }
        if allowed.is_empty() {
            return Ok(None);
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(allowed)
            .map(Some)
            .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Encode text where the matcher's special tokens become their ids.
    pub fn encode_with(&self, text: &str, matcher: Option<&AhoCorasick>, out: &mut Vec<Rank>) {
        self.encode_cached(text, matcher, out, &mut self.caches.lease().cache);
    }

    fn encode_cached(&self, text: &str, matcher: Option<&AhoCorasick>, out: &mut Vec<Rank>, cache: &mut PieceCache) {
        let Some(ac) = matcher else { return self.encode_ordinary_into(text, out, cache) };
        let mut pos = 0;
        for m in ac.find_iter(text) {
            self.encode_ordinary_into(&text[pos..m.start()], out, cache);
            out.push(self.specials[&text[m.start()..m.end()]]);
            pos = m.end();
        }
        self.encode_ordinary_into(&text[pos..], out, cache);
    }

    /// Encode many texts in parallel (rayon), each exactly as `encode_with` would; a job leases one cache.
    ///
    /// Jobs hold about `JOB_BYTES` of text each. Left to itself, rayon cut 184 texts of 64 KB into a few runs that
    /// cannot be split once started; multilingual text is not equally hard everywhere, so one core idled for the last
    /// 20% of the batch (o200k_base, multilingual.txt: the two threads busy 122 and 97 ms).
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S], matcher: Option<&AhoCorasick>) -> Vec<Vec<Rank>> {
        let encode = |lease: &mut Lease, t: &S| self.encode_one(t.as_ref(), matcher, lease);
        let bytes: usize = texts.iter().map(|t| t.as_ref().len()).sum();
        let texts_per_job = (JOB_BYTES * texts.len()).div_ceil(bytes.max(1)).max(1);
        texts.par_iter().with_max_len(texts_per_job).map_init(|| self.caches.lease(), encode).collect()
    }

    fn encode_one(&self, text: &str, matcher: Option<&AhoCorasick>, lease: &mut Lease) -> Vec<Rank> {
        let mut out = ids_buffer(text);
        self.encode_cached(text, matcher, &mut out, &mut lease.cache);
        out
    }

    /// Encode many texts in parallel (as `encode_batch`) into one buffer: text i's ids are
    /// `ids[offsets[i]..offsets[i + 1]]`. `cast` picks the element type (u16 when the vocabulary fits), so the ids
    /// are copied once, from the per-text vectors into the buffer, whatever the type.
    pub fn encode_batch_flat<T: Send, S: AsRef<str> + Sync>(
        &self, texts: &[S], matcher: Option<&AhoCorasick>, cast: impl Fn(Rank) -> T + Sync,
    ) -> (Vec<T>, Vec<i64>) {
        let parts = self.encode_batch(texts, matcher);
        let mut offsets = Vec::with_capacity(parts.len() + 1);
        offsets.push(0i64);
        for p in &parts {
            offsets.push(offsets[offsets.len() - 1] + p.len() as i64);
        }
        let mut ids = Vec::with_capacity(offsets[parts.len()] as usize);
        for p in &parts {
            ids.extend(p.iter().map(|&r| cast(r)));
        }
        (ids, offsets)
    }

    /// Encode one long text in parallel: cut at safe points (chunk.rs), encode chunks, concatenate.
    pub fn encode_parallel(&self, text: &str, matcher: Option<&AhoCorasick>, n_chunks: usize) -> Vec<Rank> {
        let specials: Vec<Vec<u8>> = self.specials.keys().map(|s| s.as_bytes().to_vec()).collect();
        let bounds = crate::chunk::chunk_bounds(text.as_bytes(), n_chunks, &specials);
        let parts: Vec<Vec<Rank>> = bounds
            .par_windows(2)
            .map_init(|| self.caches.lease(), |lease, w| self.encode_one(&text[w[0]..w[1]], matcher, lease))
            .collect();
        parts.concat()
    }

    pub fn decode_bytes(&self, ids: &[Rank]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.decoder.get(id as usize) {
                Some(Some(b)) => out.extend_from_slice(b),
                _ => return Err(Error::UnknownToken { id, n_vocab: self.n_vocab() }),
            }
        }
        Ok(out)
    }
}

/// A vector for the ids of `text`, sized so that it never grows: a token is at least one byte, so one id per byte
/// is the most a text can have; a large buffer's pages that are never written take no memory. Growing copies every id
/// so far, and at one id per 2 bytes gpt2 outgrew it on multilingual.txt (1.7 bytes an id): 3 MB of it, cachegrind,
/// last-level misses 0.85 -> 0.65M a pass; no change with cl100k_base (2.7 bytes an id) or o200k_base (3.6), nor on
/// English (4.3). Earlier, one id per 3 and per 4 bytes cost cl100k_base and o200k_base a copy the same way. Memory:
/// a numpy batch of the 73 MB of Gutenberg in 64 KB texts peaked 233 -> 237 MB above its input (VmHWM).
fn ids_buffer(text: &str) -> Vec<Rank> {
    buffer(text.len())
}

/// An empty vector with room for `n` items, whose whole 2 MB pages are backed by 2 MB pages as they are written: a
/// large buffer of ids is written once, front to back, and a 4 KB page costs a fault each (~1.3 us on this VM, a list
/// of 6.7M ids 13K of them).
pub(crate) fn buffer<T>(n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    huge_pages(v.as_mut_ptr() as *mut u8, v.capacity() * std::mem::size_of::<T>());
    v
}

/// Ask Linux to back the whole 2 MB pages inside a buffer about to be filled with 2 MB pages (a hint; nothing
/// elsewhere, or for a buffer that holds no whole 2 MB page).
pub(crate) fn huge_pages(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let (start, end) = ((ptr as usize).next_multiple_of(HUGE), (ptr as usize + len) / HUGE * HUGE);
        if end > start {
            // SAFETY: a hint on whole pages inside a live allocation: it changes how they are backed, not what they
            // hold.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// The vocabulary as the encoder asks it "is this piece a token?", once per piece. Most pieces are short (" the"),
/// so tokens of up to 8 bytes live in one table per length, keyed by their bytes packed into a u64: a lookup is one
/// multiply and one probe of a table whose entries hold the key itself, where a `Vec<u8>` key costs hashing a slice,
/// a pointer chase to the key's own allocation (a cache miss) and a memcmp. Tokens of 9-16 bytes (" something")
/// are keyed by two u64s the same way (Gutenberg's lookups 21-27 -> 19-22 ms, cl100k_base, alternating runs); longer
/// ones use the byte-slice map.
struct Tokens {
    short: [FxHashMap<u64, Rank>; SHORT + 1],
    mid: [FxHashMap<[u64; 2], Rank>; MID + 1],
    long: FxHashMap<Box<[u8]>, Rank>,
}

const SHORT: usize = 8;
const MID: usize = 16;

impl Tokens {
    fn new(encoder: &FxHashMap<Vec<u8>, Rank>) -> Self {
        let mut short: [FxHashMap<u64, Rank>; SHORT + 1] = Default::default();
        let mut mid: [FxHashMap<[u64; 2], Rank>; MID + 1] = Default::default();
        let mut long = FxHashMap::default();
        for (bytes, &rank) in encoder {
            match bytes.len() {
                n @ 1..=SHORT => short[n].insert(pack(bytes), rank),
                n @ 9..=MID => mid[n].insert(pack2(bytes), rank),
                _ => long.insert(bytes.clone().into_boxed_slice(), rank),
            };
        }
        Tokens { short, mid, long }
    }

    #[inline(always)]
    fn get(&self, piece: &[u8]) -> Option<Rank> {
        match piece.len() {
            0 => None,
            n @ 1..=SHORT => self.short[n].get(&pack(piece)).copied(),
            n @ 9..=MID => self.mid[n].get(&pack2(piece)).copied(),
            _ => self.long.get(piece).copied(),
        }
    }
}

/// 1-8 bytes as a little-endian u64 (the length is known, so no marker is needed), read as two possibly
/// overlapping loads instead of a byte loop: e.g. 6 bytes = bytes 0..4 | bytes 2..6 shifted by 2 bytes.
#[inline]
pub(crate) fn pack(p: &[u8]) -> u64 {
    let n = p.len();
    debug_assert!((1..=8).contains(&n));
    if n >= 4 {
        let lo = u32::from_le_bytes(p[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(p[n - 4..].try_into().unwrap()) as u64;
        lo | hi << ((n - 4) * 8)
    } else {
        p[0] as u64 | (p[n / 2] as u64) << (n / 2 * 8) | (p[n - 1] as u64) << ((n - 1) * 8)
    }
}

/// 9-16 bytes as two little-endian u64s: the first 8 bytes and the last 8 (overlapping when shorter than 16).
#[inline]
fn pack2(p: &[u8]) -> [u64; 2] {
    let n = p.len();
    debug_assert!((9..=16).contains(&n));
    [u64::from_le_bytes(p[..8].try_into().unwrap()), u64::from_le_bytes(p[n - 8..].try_into().unwrap())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> CoreBpe {
        let mut ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        for (i, t) in ["aa", "ab", "aaaa", "aab"].iter().enumerate() {
            ranks.push((t.as_bytes().to_vec(), 256 + i as Rank));
        }
        let specials = [("<|eot|>".to_string(), 300)].into_iter().collect();
        CoreBpe::new(ranks, specials, r"\w+|\s+|.").unwrap()
    }

    #[test]
    fn packed_keys_are_the_bytes_little_endian() {
        for n in 1..=8usize {
            let bytes: Vec<u8> = (0..n as u8).map(|i| 0xa0 + i).collect();
            let want = bytes.iter().rev().fold(0u64, |k, &b| k << 8 | b as u64);
            assert_eq!(pack(&bytes), want, "{n} bytes");
        }
        assert_eq!(pack(&[0]), pack(&[0, 0]), "same u64, so each length has its own table");
    }

    #[test]
    fn token_table_answers_as_the_byte_map() {
        // zero bytes ([0] and [0, 0] pack to the same u64), every length around SHORT and MID, and many non-tokens
        let mut encoder: FxHashMap<Vec<u8>, Rank> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for n in 2..=20 {
            encoder.insert(vec![0; n], encoder.len() as Rank);
            for _ in 0..3000 {
                let t: Vec<u8> = (0..n).map(|_| b"\0abz\xff"[next() as usize % 5]).collect();
                let r = encoder.len() as Rank;
                encoder.entry(t).or_insert(r);
            }
        }
        let tokens = Tokens::new(&encoder);
        for (bytes, &rank) in &encoder {
            assert_eq!(tokens.get(bytes), Some(rank), "{bytes:?}");
        }
        for n in 0..=22 {
            for _ in 0..3000 {
                let t: Vec<u8> = (0..n).map(|_| b"\0abzq\xff"[next() as usize % 6]).collect();
                assert_eq!(tokens.get(&t), encoder.get(&t).copied(), "{t:?}");
            }
        }
    }

    #[test]
    fn lowest_rank_leftmost_first() {
        let bpe = toy();
        assert_eq!(bpe.encode_ordinary("aab"), vec![259]); // the whole piece is a token
        assert_eq!(bpe.encode_ordinary("aaab"), vec![256, 257]); // aa (256) first, then a|ab: "ab" 257
        assert_eq!(bpe.encode_ordinary("aaaaa"), vec![258, 97]);
    }

    #[test]
    fn heap_merge_equals_linear_merge() {
        let bpe = toy();
        for len in [129, 200, 513] {
            for pattern in ["a", "ab", "aab", "aaab", "ba"] {
                let piece: Vec<u8> = pattern.as_bytes().iter().cycle().take(len).copied().collect();
                let mut want = Vec::new();
                bpe.merge_linear(&piece, &mut want);
                let mut got = Vec::new();
                bpe.merge_heap(&piece, &mut got);
                assert_eq!(got, want, "{pattern} x {len}");
            }
        }
    }

    /// tiktoken's rule on byte slices, written plainly: merge the leftmost lowest-ranked adjacent pair.
    fn naive_merge(encoder: &FxHashMap<Vec<u8>, Rank>, piece: &[u8]) -> Vec<Rank> {
        let mut parts: Vec<Vec<u8>> = piece.iter().map(|&b| vec![b]).collect();
        loop {
            let best = (0..parts.len().saturating_sub(1))
                .filter_map(|i| encoder.get(&[&parts[i][..], &parts[i + 1][..]].concat()).map(|&r| (r, i)))
                .min();
            let Some((_, i)) = best else { break };
            let right = parts.remove(i + 1);
            parts[i].extend(right);
        }
        parts.iter().map(|p| encoder[p]).collect()
    }

    /// Encode 2,000 pseudo-random pieces of "abc", half of them with the byte 0xff too (1-300 bytes: short ASCII
    /// pieces take the scan; others backtrack, or take the scan or the heap if the encoder cannot) and compare with
    /// the naive merge; returns whether the encoder backtracks.
    fn agrees_with_naive_merge(merged: &[(&str, Rank)], byte_rank: impl Fn(u8) -> Rank) -> bool {
        let mut ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], byte_rank(b))).collect();
        ranks.extend(merged.iter().map(|&(t, r)| (t.as_bytes().to_vec(), r)));
        let encoder: FxHashMap<Vec<u8>, Rank> = ranks.iter().cloned().collect();
        let bpe = CoreBpe::new(ranks, FxHashMap::default(), r"\w+|\s+|.").unwrap();
        let mut seed = 12345u64;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 1 + (seed >> 33) as usize % 300;
            let alphabet: &[u8] = if seed >> 20 & 1 == 0 { b"abc\xff" } else { b"abc" };
            let pick = |k: usize| (seed.rotate_left(k as u32 * 7) as usize ^ k.wrapping_mul(2654435761)) % alphabet.len();
            let piece: Vec<u8> = (0..len).map(|k| alphabet[pick(k)]).collect();
            let mut got = Vec::new();
            bpe.encode_piece(&piece, &mut got);
            assert_eq!(got, naive_merge(&encoder, &piece), "{}", String::from_utf8_lossy(&piece));
        }
        bpe.backtracks()
    }

    /// Tokens reachable by several splits ("abc" = "ab"+"c" = "a"+"bc"), some made by more than one pair.
    const MERGED: [&str; 12] = ["bc", "ab", "abc", "ca", "cab", "bca", "abca", "aa", "aaa", "cc", "ccc", "bcab"];

    #[test]
    fn id_pair_merges_equal_byte_slice_merges() {
        // Ranks out of merge order ("bc" ranks below "b"): backtracking is refused and pieces merge rank by rank.
        let merged: Vec<(&str, Rank)> = MERGED.iter().enumerate().map(|(i, &t)| (t, 10 + i as Rank)).collect();
        assert!(!agrees_with_naive_merge(&merged, |b| 1000 - b as Rank));
    }

    #[test]
    fn backtracking_equals_the_rank_by_rank_merge() {
        // Ranks in merge order, as a trainer makes them: every token outranks its parts, so pieces backtrack.
        let merged: Vec<(&str, Rank)> = MERGED.iter().enumerate().map(|(i, &t)| (t, 256 + i as Rank)).collect();
        assert!(agrees_with_naive_merge(&merged, |b| b as Rank));
        // A lower-ranked token that straddles the boundary ("ca" before "abc") makes "abc" + "a" invalid.
        let order = ["ca", "bc", "ab", "abc", "aa", "bca", "cab", "abca", "cc", "ccc", "aaa", "bcab"];
        let merged: Vec<(&str, Rank)> = order.iter().enumerate().map(|(i, &t)| (t, 256 + i as Rank)).collect();
        assert!(agrees_with_naive_merge(&merged, |b| b as Rank));
    }

    #[test]
    fn remembered_merges_equal_fresh_ones() {
        // Texts share non-token pieces ("aaab", "abab"); the oracle merges every piece, remembering nothing.
        let texts: Vec<String> =
            ["aaab abab aaaaa", "abab aaab", "aaaaa aaab b", "abab"].iter().map(|s| s.repeat(40)).collect();
        let bpe = toy();
        let uncached = |t: &str| {
            let mut out = Vec::new();
            bpe.splitter.for_each(t, |p| bpe.encode_piece(p.as_bytes(), &mut out));
            out
        };
        let fresh: Vec<Vec<Rank>> = texts.iter().map(|t| uncached(t)).collect();
        for _ in 0..2 {
            assert_eq!(texts.iter().map(|t| bpe.encode_ordinary(t)).collect::<Vec<_>>(), fresh);
            assert_eq!(bpe.encode_batch(&texts, None), fresh);
        }
        assert!(bpe.caches().pieces() >= 3, "the pieces were remembered");
        bpe.caches().clear();
        assert_eq!(bpe.caches().pieces(), 0);
        assert_eq!(bpe.encode_ordinary(&texts[0]), fresh[0]);
    }

    #[test]
    fn ids_far_past_the_vocabulary_are_errors_not_allocations() {
        let ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        let huge = [("<|x|>".to_string(), 4_000_000_000)].into_iter().collect();
        assert!(matches!(CoreBpe::new(ranks.clone(), huge, r"\w+"), Err(Error::Vocab(m)) if m.contains("out of range")));
        let clash = [("<|x|>".to_string(), 97)].into_iter().collect();
        assert!(matches!(CoreBpe::new(ranks.clone(), clash, r"\w+"), Err(Error::Vocab(_))));
        let gap = [("<|x|>".to_string(), (256 + MAX_ID_GAP) as Rank)].into_iter().collect();
        assert!(CoreBpe::new(ranks, gap, r"\w+").is_ok(), "a gap up to the bound is allowed");
    }

    #[test]
    fn specials_and_decode() {
        let bpe = toy();
        let m = bpe.special_matcher(&["<|eot|>".to_string()]).unwrap();
        let mut out = Vec::new();
        bpe.encode_with("ab<|eot|>ab", m.as_ref(), &mut out);
        assert_eq!(out, vec![257, 300, 257]);
        assert_eq!(bpe.decode_bytes(&out).unwrap(), b"ab<|eot|>ab");
        assert!(matches!(bpe.decode_bytes(&[9999]), Err(Error::UnknownToken { id: 9999, .. })));
        assert!(matches!(bpe.special_matcher(&["nope".to_string()]), Err(Error::UnknownSpecial(_))));
    }

    /// The flags of the mapping that holds address `at`, from /proc/self/smaps ("hg": advised for huge pages).
    #[cfg(target_os = "linux")]
    fn vm_flags(at: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ').filter(|(r, _)| r.contains('-') && !r.ends_with(':')) {
                let (lo, hi) = range.split_once('-').unwrap();
                let (lo, hi) = (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
                inside = (lo..hi).contains(&at);
            } else if inside && line.starts_with("VmFlags:") {
                return line.to_string();
            }
        }
        panic!("no mapping holds {at:#x}")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn large_buffers_are_advised_for_huge_pages_and_small_ones_not() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            return eprintln!("skipped: this kernel has no transparent huge pages, so madvise refuses the advice");
        }
        let big: Vec<Rank> = buffer(8 << 20); // 32 MB: whole 2 MB pages inside
        let inside = (big.as_ptr() as usize).next_multiple_of(2 << 20);
        assert!(vm_flags(inside).split_whitespace().any(|f| f == "hg"), "{}", vm_flags(inside));
        let small: Vec<Rank> = buffer(1 << 10);
        assert!(!vm_flags(small.as_ptr() as usize).split_whitespace().any(|f| f == "hg"));
    }

    #[test]
    fn flat_batch_is_the_batch_concatenated() {
        let bpe = toy();
        let texts: Vec<String> =
            ["aab ab", "", "aaaaa b", "\u{e9}t\u{e9} aab", ""].iter().map(|s| s.to_string()).collect();
        let batch = bpe.encode_batch(&texts, None);
        let (ids, offsets) = bpe.encode_batch_flat(&texts, None, |r| r);
        assert_eq!(ids, batch.concat());
        let lens: Vec<i64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(lens, batch.iter().map(|b| b.len() as i64).collect::<Vec<_>>());
        assert_eq!(offsets[0], 0);
        let (small, _) = bpe.encode_batch_flat(&texts, None, |r| r as u16);
        assert_eq!(small.iter().map(|&r| r as Rank).collect::<Vec<_>>(), ids);
        assert_eq!(bpe.encode_batch_flat::<Rank, &str>(&[], None, |r| r), (vec![], vec![0]));
    }

    #[test]
    fn parallel_encoding_equals_serial() {
        let bpe = toy();
        let text = "aab ab<|eot|>aaaa b  aaab\n".repeat(500);
        let m = bpe.special_matcher(&["<|eot|>".to_string()]).unwrap();
        let mut serial = Vec::new();
        bpe.encode_with(&text, m.as_ref(), &mut serial);
        assert!(crate::chunk::chunk_bounds(text.as_bytes(), 8, &[b"<|eot|>".to_vec()]).len() > 3, "really cut");
        for n_chunks in [1, 2, 8, 64] {
            assert_eq!(bpe.encode_parallel(&text, m.as_ref(), n_chunks), serial, "{n_chunks} chunks");
        }
    }
}
