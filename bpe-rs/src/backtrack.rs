//! Backtracking BPE: a piece's merges found left to right, without merging.
//!
//! The algorithm of GitHub's `bpe` crate (rust-gems; the one quicktok and bpe-openai use), over our ranks. BPE's
//! output for a piece is the one sequence of tokens that covers it and in which every adjacent pair is *valid*: the
//! two tokens' bytes, merged alone, stay exactly those two tokens. So: take the longest token the rest of the piece
//! starts with; if it is not valid next to the previous token (or leads to a dead end, remembered per position),
//! try the next shorter token that is a prefix of it; if none is left, take the previous token back. Worked example
//! (gpt2 ranks): "abcd" is no token; the longest prefix token is "abc", then "d": is ("abc", "d") valid? Only if no
//! merge across their boundary ("c" + "d" = "cd", say) ranks below the merges that built "abc"; if one does, "abc"
//! gives way to "ab", then "cd" follows.
//!
//! Validity is decided by undoing merges: the pair (x, y) is invalid when x ++ y is a token ranked below every merge
//! still to undo; otherwise the higher-ranked of the two (the later merge) splits into the two tokens it was made of,
//! and its inner half meets the other token across the boundary. `Node` records how each token is made. The answer
//! equals the rank-by-rank merge only when every token encodes to itself and is made from tokens ranked below it (as
//! a trainer's merges are: each new token outranks its parts), so `Backtrack::new` checks both and returns None
//! otherwise (the encoder then merges rank by rank, as before). Time per piece is about linear, against the
//! quadratic scan.

use daachorse::{DoubleArrayAhoCorasick, DoubleArrayAhoCorasickBuilder, MatchKind};

use crate::encode::Rank;

const NONE: Rank = Rank::MAX;

pub struct Backtrack {
    /// Finds the longest token the text starts with (every single byte is one, so there is always a match).
    longest: DoubleArrayAhoCorasick<Rank>,
    tree: MergeTree,
}

/// How each token is made, by rank, and the validity check that undoes merges.
struct MergeTree {
    nodes: Vec<Node>,
}

/// One token's facts side by side: the encoder reads its length and shorter prefix, the validity check its split, and
/// a visit to a token is one cache miss, not one per array (o200k_base: 200K tokens, 3.2 MB). Multilingual.txt with
/// o200k_base, Rust, one thread, alternating runs: 315-333 -> 312-320 ms.
#[derive(Clone, Copy)]
struct Node {
    /// The byte length of the token (0 for ranks no token has).
    len: u32,
    /// The longest token that is a proper prefix of this one, or NONE.
    shorter: Rank,
    /// The two tokens BPE merged last to make this one; (r, r) for a token never made by a merge.
    left: Rank,
    right: Rank,
}

impl Backtrack {
    /// `tokens[rank]` holds the bytes of the token with that rank; `get` finds a token's rank by its bytes, `pair`
    /// the rank of the token x ++ y (NONE if none), `merge` a piece's ids by the rank-by-rank merge (to check that
    /// every token encodes to itself). None when some token does not, or is made from a token ranked above it, or the
    /// automaton cannot be built.
    pub fn new(
        tokens: &[Option<&[u8]>], get: impl Fn(&[u8]) -> Option<Rank>, pair: impl Fn(Rank, Rank) -> Rank,
        merge: impl Fn(&[u8]) -> Vec<Rank>,
    ) -> Option<Self> {
        let tree = MergeTree::new(tokens, get, pair, merge)?;
        let patterns = tokens.iter().enumerate().filter_map(|(rank, t)| t.map(|t| (t, rank as Rank)));
        let builder = DoubleArrayAhoCorasickBuilder::new().match_kind(MatchKind::LeftmostLongest);
        let longest = builder.build_with_values(patterns).ok()?;
        Some(Backtrack { longest, tree })
    }

    /// Ids of `piece` (no token as a whole), appended to `out`. One bit per position says whether a token may still
    /// end there; a position that led to a dead end is cleared, so no path is tried twice.
    pub fn encode(&self, piece: &[u8], out: &mut Vec<Rank>, pair: impl Fn(Rank, Rank) -> Rank + Copy) {
        let start = out.len();
        let mut short = [!0u64; 2]; // the usual piece needs no allocation
        let mut long;
        let open: &mut [u64] = if piece.len() < 128 {
            &mut short
        } else {
            long = vec![!0u64; piece.len() / 64 + 1];
            &mut long
        };
        let mut pos = 0;
        let mut next = self.longest_at(piece);
        while pos < piece.len() {
            let mut token = next;
            let last = if out.len() > start { Some(out[out.len() - 1]) } else { None };
            loop {
                let end = pos + self.tree.nodes[token as usize].len as usize;
                let open_end = end == piece.len() || open[end / 64] >> (end % 64) & 1 == 1;
                if open_end && last.is_none_or(|l| self.tree.valid(l, token, NONE, pair)) {
                    out.push(token);
                    pos = end;
                    if pos < piece.len() {
                        next = self.longest_at(&piece[pos..]);
                    }
                    break;
                }
                token = self.tree.nodes[token as usize].shorter;
                if token == NONE {
                    let last = last.expect("a single byte always fits at the piece's start");
                    open[pos / 64] &= !(1u64 << (pos % 64));
                    out.pop();
                    pos -= self.tree.nodes[last as usize].len as usize;
                    next = last;
                    break;
                }
            }
        }
    }

    #[inline]
    fn longest_at(&self, text: &[u8]) -> Rank {
        self.longest.leftmost_find_iter(text).next().map(|m| m.value()).expect("every byte is a token")
    }
}

impl MergeTree {
    fn new(
        tokens: &[Option<&[u8]>], get: impl Fn(&[u8]) -> Option<Rank>, pair: impl Fn(Rank, Rank) -> Rank,
        merge: impl Fn(&[u8]) -> Vec<Rank>,
    ) -> Option<Self> {
        let reachable = tokens.iter().enumerate().all(|(rank, t)| match t {
            Some(t) if t.len() > 1 => merge(t) == [rank as Rank],
            _ => true,
        });
        if !reachable {
            return None;
        }
        let nodes = tokens
            .iter()
            .map(|t| {
                let len = t.map_or(0, |t| t.len() as u32);
                let shorter = t.and_then(|t| (1..t.len()).rev().find_map(|k| get(&t[..k]))).unwrap_or(NONE);
                Node { len, shorter, left: NONE, right: NONE }
            })
            .collect();
        let mut tree = MergeTree { nodes };
        for (rank, t) in tokens.iter().enumerate() {
            let rank = rank as Rank;
            // last_merge reads only the splits of lower ranks, all set by now
            let (left, right) = match t.and_then(|t| tree.last_merge(rank, t, &get, &pair)) {
                Some(parts) => parts,
                None if tree.nodes[rank as usize].len > 1 => return None, // made from a token ranked above it
                None => (rank, rank),
            };
            (tree.nodes[rank as usize].left, tree.nodes[rank as usize].right) = (left, right);
        }
        Some(tree)
    }

    /// The pair of tokens (both ranked below `rank`) that BPE merges last to make `token`: the valid split, tried
    /// from the longest prefix down.
    fn last_merge(
        &self, rank: Rank, token: &[u8], get: &impl Fn(&[u8]) -> Option<Rank>, pair: &impl Fn(Rank, Rank) -> Rank,
    ) -> Option<(Rank, Rank)> {
        let mut left = self.nodes[rank as usize].shorter;
        while left != NONE {
            if let Some(right) = get(&token[self.nodes[left as usize].len as usize..]) {
                if left < rank && right < rank && self.valid(left, right, rank, pair) {
                    return Some((left, right));
                }
            }
            left = self.nodes[left as usize].shorter;
        }
        None
    }

    /// Would x's and y's bytes, side by side, merge (with merges ranked below `limit`) into exactly x and y?
    #[inline]
    fn valid(&self, mut x: Rank, mut y: Rank, mut limit: Rank, pair: impl Fn(Rank, Rank) -> Rank) -> bool {
        loop {
            if pair(x, y) < limit {
                return false; // BPE would merge across the boundary before x and y are complete
            }
            // Undo the later of the two merges; the half next to the boundary meets the other token.
            if x > y {
                limit = x;
                x = self.nodes[x as usize].right;
                if x == limit {
                    limit = y + 1;
                    y = self.nodes[y as usize].left;
                    if y + 1 == limit {
                        return true; // both are single bytes (or unmade tokens): nothing left to undo
                    }
                }
            } else {
                limit = y + 1;
                y = self.nodes[y as usize].left;
                if y + 1 == limit {
                    limit = x;
                    x = self.nodes[x as usize].right;
                    if x == limit {
                        return true;
                    }
                }
            }
        }
    }
}
