//! BPE training: parallel pre-token counting (streaming a file in blocks), then merges with incremental pair counts
//! and a priority queue. Same merges as bpe/bpe/training.py, including its tie rule: among pairs with the highest
//! count the lexicographically greatest (first token's bytes, then second's) wins.

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::chunk::{chunk_bounds, for_each_block};
use crate::encode::pack;
use crate::error::Result;
use crate::pretok::Splitter;

pub type Pair = (u32, u32);

/// Shards of `WordCounts`: more than the cores, so that each core gets about the same share of the merging.
const SHARDS: usize = 64;

/// Pre-tokens of up to 7 bytes (most of them) are counted under one u64 key: their bytes little-endian, the length in
/// the top byte. Hashing and comparing it is a multiply and a compare, where a byte-string key costs a hash loop and
/// a memcmp (15% of training on one thread). Pre-tokens of 8-15 bytes take two u64s: the first 8 bytes and the rest's
/// short key.
const SHORT: usize = 7;
const MID: usize = 15;

#[inline]
fn short_key(piece: &[u8]) -> u64 {
    pack(piece) | (piece.len() as u64) << 56
}

#[inline]
fn mid_key(piece: &[u8]) -> [u64; 2] {
    let rest = &piece[8..];
    [u64::from_le_bytes(piece[..8].try_into().unwrap()), if rest.is_empty() { 0 } else { short_key(rest) }]
}

/// The bytes a short key holds, appended to `out`.
fn unpack_short(key: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&key.to_le_bytes()[..(key >> 56) as usize]);
}

/// Counts of one chunk, or of one shard of the totals: short and mid pre-tokens by packed key, longer ones by their
/// bytes.
#[derive(Clone)]
struct Counts<L> {
    short: FxHashMap<u64, u64>,
    mid: FxHashMap<[u64; 2], u64>,
    long: FxHashMap<L, u64>,
}

impl<L> Default for Counts<L> {
    fn default() -> Self {
        Counts { short: FxHashMap::default(), mid: FxHashMap::default(), long: FxHashMap::default() }
    }
}

/// Distinct pre-tokens and their counts, split by hash into shards, so that the counts of a block's chunks merge
/// into the totals on every core at once (one core merging them was the slow, serial part of counting). Clone: a
/// benchmark (`examples/train_speed.rs`) merges one count many times.
#[derive(Clone)]
pub struct WordCounts {
    shards: Vec<Counts<Vec<u8>>>,
}

impl Default for WordCounts {
    fn default() -> Self {
        WordCounts { shards: (0..SHARDS).map(|_| Counts::default()).collect() }
    }
}

/// Which of `shards` shards a key belongs to (FxHash's high bits: its low bits are weak).
fn shard_of<K: Hash + ?Sized>(key: &K, shards: usize) -> usize {
    let mut h = FxHasher::default();
    key.hash(&mut h);
    (h.finish() >> 32) as usize % shards
}

impl WordCounts {
    /// Every pre-token as a word of byte ids with its count, in one `WordArena`, converted shard by shard on all
    /// cores; the order is the shards' and, within one, the maps' (any order gives the same merges).
    fn into_arena(self) -> WordArena {
        let parts: Vec<Vec<u32>> = self
            .shards
            .into_par_iter()
            .map(|shard| {
                let mut part = Vec::new();
                let mut bytes = Vec::with_capacity(MID);
                let mut add = |w: &[u8], c: u64| {
                    part.extend([c as u32, (c >> 32) as u32, w.len() as u32]);
                    part.extend(w.iter().map(|&b| b as u32));
                    part.resize(part.len().next_multiple_of(RECORD_ALIGN), 0);
                };
                for (k, c) in shard.short {
                    bytes.clear();
                    unpack_short(k, &mut bytes);
                    add(&bytes, c);
                }
                for ([first, rest], c) in shard.mid {
                    bytes.clear();
                    bytes.extend_from_slice(&first.to_le_bytes());
                    unpack_short(rest, &mut bytes);
                    add(&bytes, c);
                }
                for (w, c) in shard.long {
                    add(&w, c);
                }
                part
            })
            .collect();
        // Copied into one array on all cores: each part into its own slice of it.
        let mut data = vec![0u32; parts.iter().map(Vec::len).sum()];
        let mut slices = Vec::with_capacity(parts.len());
        let mut rest = &mut data[..];
        for part in &parts {
            let (slice, tail) = rest.split_at_mut(part.len());
            slices.push(slice);
            rest = tail;
        }
        slices.into_par_iter().zip(parts).for_each(|(slice, part)| slice.copy_from_slice(&part));
        let mut handles = Vec::new();
        let mut at = 0;
        while at < data.len() {
            handles.push(Handle::try_from(at / RECORD_ALIGN).expect("over 64 GB of distinct pre-tokens"));
            at += (HEAD + data[at + 2] as usize).next_multiple_of(RECORD_ALIGN);
        }
        WordArena { data, handles }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.short.len() + s.mid.len() + s.long.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, piece: &[u8]) -> Option<&u64> {
        if (1..=SHORT).contains(&piece.len()) {
            let key = short_key(piece);
            self.shards[shard_of(&key, SHARDS)].short.get(&key)
        } else if (SHORT + 1..=MID).contains(&piece.len()) {
            let key = mid_key(piece);
            self.shards[shard_of(&key, SHARDS)].mid.get(&key)
        } else {
            self.shards[shard_of(piece, SHARDS)].long.get(piece)
        }
    }

    /// Add the counts of several chunks: each chunk's entries are sorted into shards (in parallel over chunks), then
    /// each shard takes its entries from every chunk (in parallel over shards).
    fn add_parts(&mut self, parts: Vec<Counts<&str>>) {
        type Bucket<'t> = (Vec<(u64, u64)>, Vec<([u64; 2], u64)>, Vec<(&'t str, u64)>);
        let bucketed: Vec<Vec<Bucket>> = parts
            .into_par_iter()
            .map(|part| {
                let mut buckets: Vec<Bucket> = vec![(Vec::new(), Vec::new(), Vec::new()); SHARDS];
                for (key, c) in part.short {
                    buckets[shard_of(&key, SHARDS)].0.push((key, c));
                }
                for (key, c) in part.mid {
                    buckets[shard_of(&key, SHARDS)].1.push((key, c));
                }
                for (piece, c) in part.long {
                    buckets[shard_of(piece.as_bytes(), SHARDS)].2.push((piece, c));
                }
                buckets
            })
            .collect();
        self.shards.par_iter_mut().enumerate().for_each(|(s, shard)| {
            for (key, c) in bucketed.iter().flat_map(|b| b[s].0.iter()) {
                *shard.short.entry(*key).or_insert(0) += c;
            }
            for (key, c) in bucketed.iter().flat_map(|b| b[s].1.iter()) {
                *shard.mid.entry(*key).or_insert(0) += c;
            }
            for (piece, c) in bucketed.iter().flat_map(|b| b[s].2.iter()) {
                match shard.long.get_mut(piece.as_bytes()) {
                    Some(t) => *t += c,
                    None => {
                        shard.long.insert(piece.as_bytes().to_vec(), *c);
                    }
                }
            }
        });
    }
}

fn special_matcher(specials: &[String]) -> Option<AhoCorasick> {
    if specials.is_empty() {
        return None;
    }
    AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(specials).ok()
}

/// Count pre-tokens in one chunk; special tokens are cut out and not counted.
fn count_chunk<'t>(text: &'t str, splitter: &Splitter, ac: Option<&AhoCorasick>) -> Counts<&'t str> {
    let mut counts: Counts<&str> = Counts::default();
    let mut add = |segment: &'t str| {
        splitter.for_each(segment, |p| {
            if (1..=SHORT).contains(&p.len()) {
                *counts.short.entry(short_key(p.as_bytes())).or_insert(0) += 1;
            } else if p.len() <= MID {
                *counts.mid.entry(mid_key(p.as_bytes())).or_insert(0) += 1;
            } else {
                *counts.long.entry(p).or_insert(0) += 1;
            }
        })
    };
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
    let parts: Vec<Counts<&str>> =
        bounds.par_windows(2).map(|w| count_chunk(&text[w[0]..w[1]], splitter, ac.as_ref())).collect();
    total.add_parts(parts);
}

/// Stream a UTF-8 file in blocks of about `block` bytes cut at safe points; memory is two blocks' buffers plus the
/// unique pre-tokens.
pub fn count_file(
    path: &str,
    splitter: &Splitter,
    specials: &[String],
    block: usize,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<WordCounts> {
    let special_bytes: Vec<Vec<u8>> = specials.iter().map(|s| s.as_bytes().to_vec()).collect();
    let mut total = WordCounts::default();
    // One worker reads the file itself: a reader thread would take a second core, which it was not given.
    let background = rayon::current_num_threads() > 1;
    for_each_block(path, &special_bytes, block, background, |text, done, size| {
        count_text(text, splitter, specials, &mut total);
        progress("pre-tokenizing", done >> 20, size >> 20);
    })?;
    Ok(total)
}

/// A merge candidate: a pair and its count when it was queued.
#[derive(Clone, Copy)]
struct Candidate {
    count: u64,
    pair: Pair,
}

impl Candidate {
    /// The merge order: highest count first, then greatest first-token bytes, then greatest second-token bytes (and
    /// the ids, so that two tokens with the same bytes still have an order).
    fn order(&self, other: &Candidate, vocab: &[Vec<u8>]) -> Ordering {
        let key = |c: &Candidate| (&vocab[c.pair.0 as usize], &vocab[c.pair.1 as usize], c.pair);
        self.count.cmp(&other.count).then_with(|| key(self).cmp(&key(other)))
    }
}

/// A max-heap of candidates in `Candidate::order`. Not std's BinaryHeap: its `Ord` cannot see the vocabulary, so
/// each entry had to carry its tokens' bytes, as two reference-counted pointers: 40 bytes an entry instead of 16,
/// and a count to raise or lower at every push and pop.
#[derive(Default)]
struct PairHeap(Vec<Candidate>);

impl PairHeap {
    /// A heap of `items`: sorted best first, which is a valid heap.
    fn from_vec(mut items: Vec<Candidate>, vocab: &[Vec<u8>]) -> PairHeap {
        items.sort_unstable_by(|a, b| b.order(a, vocab));
        PairHeap(items)
    }

    fn push(&mut self, c: Candidate, vocab: &[Vec<u8>]) {
        let h = &mut self.0;
        h.push(c);
        let mut i = h.len() - 1;
        while i > 0 && h[i].order(&h[(i - 1) / 2], vocab).is_gt() {
            h.swap(i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    }

    fn pop(&mut self, vocab: &[Vec<u8>]) -> Option<Candidate> {
        let h = &mut self.0;
        let last = h.pop()?;
        if h.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut h[0], last);
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            if l >= h.len() {
                break;
            }
            let child = if r < h.len() && h[r].order(&h[l], vocab).is_gt() { r } else { l };
            if h[child].order(&h[i], vocab).is_le() {
                break;
            }
            h.swap(i, child);
            i = child;
        }
        Some(top)
    }
}

/// A word's place in `WordArena::data`, in units of `RECORD_ALIGN` u32s (so u32 handles reach 64 GB of words).
type Handle = u32;
/// A record's header: count (low, high 32 bits), current length.
const HEAD: usize = 3;
const RECORD_ALIGN: usize = 4;

/// Every distinct pre-token in one flat array of records, `[count lo, count hi, length, ids...]`, each
/// padded to a multiple of 4 u32s. A merge visits words all over memory, and each visit is one cache miss for the
/// record (header and first ids together), where a `Vec<Vec<u32>>` plus a count array cost three: the Vec, its ids
/// and the count. Merging the 2.65 GB corpus: 7.8-8.0 -> 6.4-6.5 s on 1 thread, 5.6-5.8 -> 4.4-4.7 s on 2, peak
/// memory 1,165 -> 1,012 MB (alternating runs). A word shrinks in place; its record keeps its size.
struct WordArena {
    data: Vec<u32>,
    /// Every word's handle, in arena order (for building the pair index).
    handles: Vec<Handle>,
}

/// The arena, shared with the threads of one merge's update: the pair index lists a word at most once per pair (see
/// `index_pairs` and `Update::add`), so no two threads touch the same record, and the array is not resized while
/// they run.
#[derive(Clone, Copy)]
struct Words(*mut u32);
// SAFETY: see above; every access is to a distinct record, within bounds.
unsafe impl Send for Words {}
unsafe impl Sync for Words {}

impl Words {
    /// The header of word `h`. SAFETY: `h` is a handle of this arena and no other thread touches its record.
    #[inline(always)]
    unsafe fn head(self, h: Handle) -> *mut u32 {
        self.0.add(h as usize * RECORD_ALIGN)
    }

    /// Word `h`'s count and ids (as long as the word is now). SAFETY: as `head`.
    #[inline(always)]
    unsafe fn word<'a>(self, h: Handle) -> (i64, &'a mut [u32]) {
        let p = self.head(h);
        let count = (*p as u64 | (*p.add(1) as u64) << 32) as i64;
        (count, std::slice::from_raw_parts_mut(p.add(HEAD), *p.add(2) as usize))
    }
}

/// The words that hold one pair. Most pairs are in a few words, and a list of up to 4 sits in the map's entry itself
/// (24 bytes, as a Vec), so filing a new pair allocates nothing: allocating and freeing a Vec per pair was a fifth of
/// merging.
type Places = SmallVec<[Handle; 4]>;

/// The pair index: which words hold each pair, filed under the pair's later token (see `place_of`): `index[t]` maps
/// the other token and its side to the words. A pair appears in a word only when its later token is made (merges
/// leave every other neighbour as it was), so merge t files all of its new pairs in one map of its own, a few
/// thousand keys that stay in cache, and a big merge's threads each fill their own and join them. Filed by pair in
/// one map of millions (in 16 shards, on all cores), the 2.65 GB corpus's 42 million new places cost 0.4-0.5 s of
/// cache misses, and the shards' work was as uneven as their pairs (one pair can hold most of a merge's places).
type PairIndex = Vec<FxHashMap<u32, Places>>;

/// Where the pair (a, b) is filed: under its later token (the larger id), keyed by the other token, times 2, plus 1
/// when the later token is on the right. E.g. (300, 97) is `index[300][194]`, and (97, 300) is `index[300][195]`.
fn place_of(q: Pair) -> (usize, u32) {
    debug_assert!(q.0.min(q.1) < 1 << 31, "ids stay below 2^31: one per merge, and merges need memory");
    if q.0 >= q.1 {
        (q.0 as usize, q.1 << 1)
    } else {
        (q.1 as usize, q.0 << 1 | 1)
    }
}

/// What one merge does to a set of words (rewritten in place): the change of every pair count, and the new pairs'
/// places, keyed as in the merge's own map of the index (`place_of`).
#[derive(Default)]
struct Update {
    delta: FxHashMap<Pair, i64>,
    fresh: FxHashMap<u32, Places>,
}

impl Update {
    /// Merge `pair` into `id` in the words `ids` (distinct indices). Only pairs that touch a merge change: an old
    /// pair with a merged position counts -freq, a new pair with the new token +freq; every other pair of the word
    /// is the same before and after (the new token never occurred before), so it is not looked at. A word shrinks
    /// in place: no allocation, and no freeing on this thread of memory another thread allocated.
    fn of(ids: &[Handle], words: Words, pair: Pair, id: u32) -> Update {
        let mut u = Update::default();
        u.add(ids, words, pair, id);
        u
    }

    /// `of`, added to this update (the serial path keeps one and empties it after each merge: no allocation per
    /// merge, which is most of the cost of the many merges that touch a few words).
    fn add(&mut self, ids: &[Handle], words: Words, pair: Pair, id: u32) {
        let u = self;
        let mut merged: Vec<bool> = Vec::new(); // merged[i]: old position i is part of an occurrence of `pair`
        let mut new: Vec<Pair> = Vec::new(); // the word's pairs with the new token
        for (k, &w) in ids.iter().enumerate() {
            // The words sit all over memory and each is a cache miss: ask for the record a few words ahead now.
            // SAFETY: `ids` are distinct handles of the arena (see `Words`) and only this thread touches their records.
            if let Some(&ahead) = ids.get(k + PREFETCH) {
                prefetch(unsafe { words.head(ahead) });
            }
            let (f, word) = unsafe { words.word(w) };
            merged.clear();
            merged.resize(word.len(), false);
            if !mark_occurrences(word, pair, &mut merged) {
                continue; // stale index entry: the word lost this pair to an earlier merge
            }
            for j in 0..word.len() - 1 {
                if merged[j] || merged[j + 1] {
                    *u.delta.entry((word[j], word[j + 1])).or_insert(0) -= f;
                }
            }
            let n = replace_occurrences(word, pair, id);
            unsafe { *words.head(w).add(2) = n as u32 };
            new.clear();
            for p in word[..n].windows(2) {
                if p[0] == id || p[1] == id {
                    let q = (p[0], p[1]);
                    *u.delta.entry(q).or_insert(0) += f;
                    new.push(q); // only pairs with the new token are new in the index
                }
            }
            // The index lists a word once per pair. A pair is filed only here, when its later token is made (or at
            // the start, for pairs of bytes), so filing once per word keeps every list free of repeats.
            if new.len() > 1 {
                new.sort_unstable();
                new.dedup();
            }
            for &q in &new {
                u.fresh.entry(place_of(q).1).or_default().push(w);
            }
        }
    }

    fn join(mut self, mut other: Update) -> Update {
        if self.delta.len() < other.delta.len() {
            std::mem::swap(&mut self, &mut other);
        }
        for (q, d) in other.delta {
            *self.delta.entry(q).or_insert(0) += d;
        }
        if self.fresh.len() < other.fresh.len() {
            std::mem::swap(&mut self.fresh, &mut other.fresh);
        }
        for (k, mut ws) in other.fresh {
            self.fresh.entry(k).or_default().append(&mut ws);
        }
        self
    }
}

/// How many words ahead `Update::add` asks for a word's record.
const PREFETCH: usize = 4;

#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Mark the positions of `pair`'s occurrences in `word`, left to right without overlap (as `replace_occurrences`
/// merges them); false if there are none.
fn mark_occurrences(word: &[u32], pair: Pair, merged: &mut [bool]) -> bool {
    let (mut i, mut any) = (0, false);
    while i + 1 < word.len() {
        if word[i] == pair.0 && word[i + 1] == pair.1 {
            (merged[i], merged[i + 1], any) = (true, true, true);
            i += 2;
        } else {
            i += 1;
        }
    }
    any
}

/// Replace each occurrence of `pair` (left to right, no overlap) by `id`, in place, and return the new length: the
/// write position never passes the read position, so nothing is overwritten before it is read.
fn replace_occurrences(word: &mut [u32], pair: Pair, id: u32) -> usize {
    let (mut read, mut write) = (0, 0);
    while read < word.len() {
        if read + 1 < word.len() && word[read] == pair.0 && word[read + 1] == pair.1 {
            word[write] = id;
            read += 2;
        } else {
            word[write] = word[read];
            read += 1;
        }
        write += 1;
    }
    write
}

/// Below this many words a merge is updated on one core: splitting the work would cost more than it saves.
const PARALLEL_WORDS: usize = 2048;

/// Pair counts (weighted by word frequency) and, per pair, the words that hold it, counted on all cores.
fn index_pairs(arena: &mut WordArena) -> (FxHashMap<Pair, i64>, PairIndex) {
    type Index = (FxHashMap<Pair, i64>, FxHashMap<Pair, Places>);
    let chunk = (arena.handles.len() / (rayon::current_num_threads() * 8)).max(PARALLEL_WORDS);
    let words = Words(arena.data.as_mut_ptr());
    let part = |hs: &[Handle]| -> Index {
        let (mut counts, mut places): Index = Default::default();
        for &h in hs {
            let (f, w) = unsafe { words.word(h) }; // SAFETY: only read, by every thread
            for p in w.windows(2) {
                let pair = (p[0], p[1]);
                *counts.entry(pair).or_insert(0) += f;
                let listed = places.entry(pair).or_default();
                if listed.last() != Some(&h) {
                    listed.push(h); // once per word, however often the word holds the pair
                }
            }
        }
        (counts, places)
    };
    let join = |(mut c, mut p): Index, (mut c2, mut p2): Index| -> Index {
        if c.len() < c2.len() {
            std::mem::swap(&mut c, &mut c2);
            std::mem::swap(&mut p, &mut p2);
        }
        for (q, n) in c2 {
            *c.entry(q).or_insert(0) += n;
        }
        for (q, mut v) in p2 {
            p.entry(q).or_default().append(&mut v);
        }
        (c, p)
    };
    let (counts, places) = arena.handles.par_chunks(chunk).map(part).reduce(Default::default, join);
    let mut index: PairIndex = vec![FxHashMap::default(); 256];
    for (q, ws) in places {
        let (t, k) = place_of(q);
        index[t].insert(k, ws);
    }
    (counts, index)
}

/// Learn `num_merges` merges from unique pre-tokens and their counts. Each merge updates only the words that hold
/// the pair (found through `where_`); a merge that touches many words is updated on all cores.
pub fn train_counts(counts: WordCounts, num_merges: usize, progress: &mut dyn FnMut(&str, usize, usize)) -> Vec<Pair> {
    let mut arena = counts.into_arena();
    let (mut pair_counts, mut where_) = index_pairs(&mut arena);
    arena.handles = Vec::new(); // only the index needed them
    let shared = Words(arena.data.as_mut_ptr());
    let mut vocab: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let all = pair_counts.iter().map(|(&pair, &c)| Candidate { count: c as u64, pair }).collect();
    let mut heap = PairHeap::from_vec(all, &vocab);
    // One update reused by every merge: a merge that touches few words fills it (no allocation per merge), and a big
    // merge's count changes land in it too, so that one loop applies them.
    let mut serial = Update::default();
    // Never more merges than distinct pairs can make room for now: a huge num_merges must not be an allocation.
    let mut merges = Vec::with_capacity(num_merges.min(pair_counts.len()));
    let report_every = (num_merges / 100).max(1);

    for step in 0..num_merges {
        // Every live pair has a heap entry with a count at least its current one (a fall in count pushes nothing),
        // so the first entry whose count is current is the best pair: any other pair's count is at most its entry's.
        let pair = loop {
            let Some(c) = heap.pop(&vocab) else { break None };
            match pair_counts.get(&c.pair) {
                Some(&now) if now as u64 == c.count => break Some(c.pair),
                Some(&now) if (now as u64) < c.count => {
                    heap.push(Candidate { count: now as u64, pair: c.pair }, &vocab); // fell: requeued
                }
                _ => continue, // merged, or a newer entry with a higher count exists
            }
        };
        let Some(pair) = pair else { break };
        let id = 256 + step as u32;
        let joined: Vec<u8> = [&vocab[pair.0 as usize][..], &vocab[pair.1 as usize][..]].concat();
        vocab.push(joined);
        merges.push(pair);

        let (later, key) = place_of(pair);
        let ids = where_[later].remove(&key).unwrap_or_default();
        if ids.len() < PARALLEL_WORDS {
            serial.add(&ids, shared, pair, id);
            where_.push(std::mem::take(&mut serial.fresh)); // where_[id]: the new token's pairs
        } else {
            let chunk = (ids.len() / (rayon::current_num_threads() * 4)).max(PARALLEL_WORDS / 4);
            let update = ids
                .par_chunks(chunk)
                .map(|c| Update::of(c, shared, pair, id))
                .reduce(Update::default, Update::join);
            where_.push(update.fresh);
            serial.delta = update.delta;
        };
        pair_counts.remove(&pair);
        for (q, d) in serial.delta.drain() {
            if d == 0 || q == pair {
                continue;
            }
            let c = pair_counts.entry(q).or_insert(0);
            *c += d;
            if *c <= 0 {
                pair_counts.remove(&q);
            } else if d > 0 {
                let c = *c;
                heap.push(Candidate { count: c as u64, pair: q }, &vocab); // a rise needs an entry; a fall is requeued
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
    fn occurrences_merge_left_to_right_without_overlap() {
        let mut word = vec![1, 1, 1, 2, 1, 1];
        let mut merged = vec![false; word.len()];
        assert!(mark_occurrences(&word, (1, 1), &mut merged));
        assert_eq!(merged, [true, true, false, false, true, true]);
        let n = replace_occurrences(&mut word, (1, 1), 9);
        assert_eq!(word[..n], [9, 1, 2, 9]);
        assert!(!mark_occurrences(&word, (2, 1), &mut [false; 4]));
    }

    #[test]
    fn every_pair_has_its_own_place_under_its_later_token() {
        let mut seen = std::collections::HashSet::new();
        for a in [0, 1, 97, 255, 256, 300, 70_000] {
            for b in [0, 1, 97, 255, 256, 300, 70_000] {
                let (later, key) = place_of((a, b));
                assert_eq!(later as u32, a.max(b));
                assert!(seen.insert((later, key)), "({a}, {b}) shares a place");
            }
        }
        assert_eq!(place_of((300, 97)), (300, 194));
        assert_eq!(place_of((97, 300)), (300, 195));
    }

    #[test]
    fn the_index_lists_a_word_once_per_pair() {
        // Each word holds (a, b) three times; merging it makes (X, c) and (c, X) twice each. A word listed twice
        // would be rewritten by two threads of a big merge at once.
        let no_repeats = |lists: Vec<Places>| {
            lists.iter().all(|ws| ws.len() == ws.iter().collect::<std::collections::BTreeSet<_>>().len())
        };
        let mut arena = counts_of("abcabcab abcabcab").into_arena();
        let (_, index) = index_pairs(&mut arena);
        assert!(no_repeats(index.iter().flat_map(|shard| shard.values().cloned()).collect()));
        let (later, key) = place_of((97, 98));
        let ids = index[later][&key].clone();
        assert_eq!(ids.len(), 2, "two words, each listed once");
        let u = Update::of(&ids, Words(arena.data.as_mut_ptr()), (97, 98), 256);
        let filed: Vec<u32> = u.fresh.keys().copied().collect();
        let want = [(256, 99), (99, 256), (32, 256)].map(place_of).map(|(t, k)| (t == 256).then_some(k));
        assert_eq!(filed.len(), 3, "(X, c), (c, X) and (' ', X): {filed:?}");
        assert!(want.iter().all(|k| k.is_some_and(|k| filed.contains(&k))), "{want:?} vs {filed:?}");
        assert!(no_repeats(u.fresh.into_values().collect()));
    }

    #[test]
    fn counts_and_arena_match_a_plain_count() {
        // Pieces of 1-20 bytes around the 7- and 15-byte packed keys, NULs ("\0" and "\0\0" must not share a key) and
        // multi-byte chars; the oracle is a plain map of the splitter's pieces.
        let s = Splitter::new(r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s").unwrap();
        let alphabet = ["a", "b", "é", "中", "\0", "1", " ", "!"];
        let mut seed = 11u64;
        let text: String = (0..20_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                alphabet[(seed >> 33) as usize % alphabet.len()]
            })
            .collect();
        let mut want: FxHashMap<Vec<u8>, u64> = FxHashMap::default();
        s.for_each(&text, |p| *want.entry(p.as_bytes().to_vec()).or_insert(0) += 1);
        assert!((1..=20).all(|n| want.keys().any(|w| w.len() == n)), "every length is drawn");
        let counts = counts_of(&text);
        assert_eq!(counts.len(), want.len());
        assert!(want.iter().all(|(w, c)| counts.get(w) == Some(c)));
        let mut arena = counts.into_arena();
        let words = Words(arena.data.as_mut_ptr());
        let mut got: FxHashMap<Vec<u8>, u64> = FxHashMap::default();
        for &h in &arena.handles {
            let (c, ids) = unsafe { words.word(h) };
            got.insert(ids.iter().map(|&b| b as u8).collect(), c as u64);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn the_heap_pops_in_merge_order() {
        // Few counts and tokens with equal bytes (ids 3 and 4 are both "ab"), so that ties reach the bytes and then
        // the ids; pushes and pops interleave. The oracle is a linear scan for the greatest by `order`.
        let vocab: Vec<Vec<u8>> =
            [&b"a"[..], b"b", b"ab", b"ab", b"ab", b"ba", b""].iter().map(|b| b.to_vec()).collect();
        let mut seed = 5u64;
        let mut draw = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut heap = PairHeap::from_vec(
            (0..50).map(|_| Candidate { count: draw(4), pair: (draw(7) as u32, draw(7) as u32) }).collect(),
            &vocab,
        );
        let mut live: Vec<Candidate> = heap.0.clone();
        for step in 0..2_000 {
            if draw(3) > 0 || live.is_empty() {
                let c = Candidate { count: draw(4), pair: (draw(7) as u32, draw(7) as u32) };
                heap.push(c, &vocab);
                live.push(c);
            } else {
                let best = (0..live.len()).max_by(|&i, &j| live[i].order(&live[j], &vocab)).unwrap();
                let want = live.swap_remove(best);
                let got = heap.pop(&vocab).unwrap();
                assert_eq!((got.count, got.pair), (want.count, want.pair), "step {step}");
            }
        }
        while let Some(got) = heap.pop(&vocab) {
            let best = (0..live.len()).max_by(|&i, &j| live[i].order(&live[j], &vocab)).unwrap();
            let want = live.swap_remove(best);
            assert_eq!((got.count, got.pair), (want.count, want.pair));
        }
        assert!(live.is_empty());
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
