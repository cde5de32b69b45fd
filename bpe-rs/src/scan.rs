//! A hand-written scanner for the GPT-2, cl100k and o200k split patterns: several times cheaper than a regex search
//! per piece. It reads text char by char: an ASCII byte is classified by a 128-entry table, any other char is decoded
//! from UTF-8 and looked up in tables built once from exactly the Unicode classes the regex crate uses (regex-syntax
//! parses the patterns' own class expressions, `\p{L}`, `\s`, ...), so it answers for every char. The caller keeps the
//! regex for anything it declines (None), so results stay identical; tests/bpe/test_scanner.py checks
//! them against Python's `regex`, the unit tests in pretok.rs against fancy-regex.

use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};
use rustc_hash::FxHashMap;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pattern {
    Gpt2,
    Cl100k,
    O200k,
}

// A char's classes, as bits of one byte. Punctuation (`[^\s\p{L}\p{N}]`) is a char with none of L, N, S: marks
// included, which o200k also counts as letters of both cases (UP and LO) although they are not \p{L}.
const L: u8 = 1; // \p{L}
const N: u8 = 2; // \p{N}
const S: u8 = 4; // \s: Unicode White_Space
const NL: u8 = 8; // [\r\n]
const UP: u8 = 16; // o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
const LO: u8 = 32; // o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]

/// Each bit with the class expression, spelled as in the patterns, that defines it.
const CLASSES: [(u8, &str); 6] = [
    (L, r"\p{L}"),
    (N, r"\p{N}"),
    (S, r"\s"),
    (NL, r"[\r\n]"),
    (UP, r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"),
    (LO, r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"),
];

/// The letters of the contractions `'(?i:[sdmt]|ll|ve|re)`; under (?i) a non-ASCII char may match one (U+017F
/// LONG S matches `s` by simple case folding, in the regex crate and in Python's `regex` alike).
const CONTRACTION_LETTERS: &str = "sdmtlvre";

const BLOCK: usize = 256;
const CHARS: usize = 0x11_0000;

/// The class bits of every char: a two-level table (one index entry per block of 256 code points, identical blocks
/// shared), ASCII in a flat table of its own; and the non-ASCII chars that (?i) folds to a contraction letter.
pub struct Classes {
    ascii: [u8; 128],
    index: Vec<u16>,
    blocks: Vec<[u8; BLOCK]>,
    fold: Vec<(u32, u8)>,
}

/// The code points matched by a single-class `expr`, as inclusive ranges.
fn class_ranges(expr: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::ParserBuilder::new().build().parse(expr).expect("a valid class expression");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect(),
        other => panic!("{expr:?} parsed to {other:?}, not a Unicode class"),
    }
}

impl Classes {
    fn build() -> Self {
        let mut bits = vec![0u8; CHARS];
        for (bit, expr) in CLASSES {
            for (lo, hi) in class_ranges(expr) {
                bits[lo as usize..=hi as usize].iter_mut().for_each(|b| *b |= bit);
            }
        }
        let mut ids: FxHashMap<[u8; BLOCK], u16> = FxHashMap::default();
        let mut blocks = Vec::new();
        let index = bits
            .chunks_exact(BLOCK)
            .map(|chunk| {
                let block: [u8; BLOCK] = chunk.try_into().expect("a whole block");
                *ids.entry(block).or_insert_with(|| {
                    blocks.push(block);
                    (blocks.len() - 1) as u16
                })
            })
            .collect();
        let fold = CONTRACTION_LETTERS
            .bytes()
            .flat_map(|letter| {
                let ranges = class_ranges(&format!("(?i:{})", letter as char));
                ranges.into_iter().flat_map(move |(lo, hi)| (lo.max(0x80)..=hi).map(move |c| (c, letter)))
            })
            .collect();
        Classes { ascii: bits[..128].try_into().expect("128 ASCII chars"), index, blocks, fold }
    }

    #[inline]
    fn of(&self, c: u32) -> u8 {
        self.blocks[self.index[(c as usize) / BLOCK] as usize][(c as usize) % BLOCK]
    }
}

/// The tables, built on first use (a few milliseconds) and shared by every splitter.
pub fn classes() -> &'static Classes {
    static CLASSES_ONCE: OnceLock<Classes> = OnceLock::new();
    CLASSES_ONCE.get_or_init(Classes::build)
}

/// The code point starting at byte `i` of valid UTF-8 (a char boundary) and its length in bytes, for a lead byte
/// >= 0x80.
#[inline]
fn decode(s: &[u8], i: usize) -> (u32, usize) {
    let b0 = s[i] as u32;
    let cont = |k: usize| (s[i + k] & 0x3f) as u32;
    if b0 < 0xe0 {
        (((b0 & 0x1f) << 6) | cont(1), 2)
    } else if b0 < 0xf0 {
        (((b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4)
    }
}

/// The end of the run of ASCII letters (a-z, and A-Z if `either_case`) from `i`, read 8 bytes at a time as one
/// u64 (SWAR): a byte y < 0x80 is >= b'a' when y + (0x80 - b'a') sets its top bit, and > b'z' when y + (0x7f - b'z')
/// does; neither sum carries into the next byte. Stops at the first other byte, or when fewer than 8 bytes are left
/// (where `letters` goes on char by char).
#[inline(always)]
fn ascii_letters(s: &[u8], mut i: usize, either_case: bool) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = 0x80 * ONES;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let y = if either_case { (w & !TOP) | (0x20 * ONES) } else { w & !TOP }; // | 0x20: upper case to lower
        let letter = (y + (0x80 - b'a' as u64) * ONES) & !(y + (0x7f - b'z' as u64) * ONES) & !w & TOP;
        if letter != TOP {
            return i + ((!letter & TOP).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

#[inline]
fn is_punct(f: u8) -> bool {
    f & (L | N | S) == 0
}

/// The scanner for one pattern.
#[derive(Clone, Copy)]
pub struct Scanner {
    pattern: Pattern,
    classes: &'static Classes,
}

impl Scanner {
    pub fn new(pattern: Pattern) -> Self {
        Scanner { pattern, classes: classes() }
    }

    /// The end of the piece starting at byte `pos` (a char boundary before the end) of `text`, or None to let the
    /// regex decide.
    pub fn piece_end(&self, text: &str, pos: usize) -> Option<usize> {
        let s = text.as_bytes();
        match self.pattern {
            Pattern::Gpt2 => self.gpt2(s, pos),
            Pattern::Cl100k => self.cl100k(s, pos),
            Pattern::O200k => self.o200k(s, pos),
        }
    }

    /// The class bits and byte length of the char at `i`, None at the end of the text.
    #[inline(always)]
    fn at(&self, s: &[u8], i: usize) -> Option<(u8, usize)> {
        let &b = s.get(i)?;
        if b < 0x80 {
            return Some((self.classes.ascii[b as usize], 1));
        }
        let (c, n) = decode(s, i);
        Some((self.classes.of(c), n))
    }

    /// The end of the run of chars from `i` whose bits satisfy `keep`.
    #[inline]
    fn run(&self, s: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
        while let Some((f, n)) = self.at(s, i) {
            if !keep(f) {
                break;
            }
            i += n;
        }
        i
    }

    /// The end of the run of chars from `i` with class `bit` (L, or o200k's LO): ASCII letters 8 at a time, any
    /// other char one at a time. Letter runs are most of English text, so this is the scanner's hot loop.
    #[inline(always)]
    fn letters(&self, s: &[u8], mut i: usize, bit: u8) -> usize {
        loop {
            i = ascii_letters(s, i, bit == L);
            match self.at(s, i) {
                Some((f, n)) if f & bit != 0 => i += n,
                _ => return i,
            }
            // a word of another script: its chars one at a time, until an ASCII byte hands back to the 8-byte loop
            while s.get(i).is_some_and(|&b| b >= 0x80) {
                let (c, n) = decode(s, i);
                if self.classes.of(c) & bit == 0 {
                    return i;
                }
                i += n;
            }
        }
    }

    /// The contraction letter the char at `i` stands for (ASCII lower case under `ignore_case`), and its length.
    fn letter(&self, s: &[u8], i: usize, ignore_case: bool) -> Option<(u8, usize)> {
        let &b = s.get(i)?;
        if b < 0x80 {
            return Some((if ignore_case { b.to_ascii_lowercase() } else { b }, 1));
        }
        if !ignore_case {
            return None;
        }
        let (c, n) = decode(s, i);
        self.classes.fold.iter().find(|&&(f, _)| f == c).map(|&(_, letter)| (letter, n))
    }

    /// `'(?:[sdmt]|ll|ve|re)` (with `(?i:...)` under `ignore_case`) at the apostrophe at `pos`: its end, if it matches.
    fn contraction(&self, s: &[u8], pos: usize, ignore_case: bool) -> Option<usize> {
        let (c1, n1) = self.letter(s, pos + 1, ignore_case)?;
        let want = match c1 {
            b's' | b'd' | b'm' | b't' => return Some(pos + 1 + n1),
            b'l' => b'l',
            b'v' | b'r' => b'e',
            _ => return None,
        };
        let (c2, n2) = self.letter(s, pos + 1 + n1, ignore_case)?;
        (c2 == want).then_some(pos + 1 + n1 + n2)
    }

    /// `'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+$|\s+(?!\S)|\s`
    fn gpt2(&self, s: &[u8], pos: usize) -> Option<usize> {
        if s[pos] == b'\'' {
            if let Some(end) = self.contraction(s, pos, false) {
                return Some(end);
            }
        }
        // ` ?`: a space leads the piece when a non-space follows it
        let (mut start, (mut f, mut n)) = (pos, self.at(s, pos)?);
        if s[pos] == b' ' {
            if let Some((f1, n1)) = self.at(s, pos + 1).filter(|&(f1, _)| f1 & S == 0) {
                (start, f, n) = (pos + 1, f1, n1);
            }
        }
        if f & L != 0 {
            Some(self.letters(s, start + n, L))
        } else if f & N != 0 {
            Some(self.run(s, start + n, |g| g & N != 0))
        } else if is_punct(f) {
            Some(self.run(s, start + n, is_punct))
        } else {
            self.whitespace(s, pos)
        }
    }

    /// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|`
    /// `\s+(?!\S)|\s`
    fn cl100k(&self, s: &[u8], pos: usize) -> Option<usize> {
        if s[pos] == b'\'' {
            if let Some(end) = self.contraction(s, pos, true) {
                return Some(end);
            }
        }
        let (f0, n0) = self.at(s, pos)?;
        if f0 & L != 0 {
            return Some(self.letters(s, pos + n0, L));
        }
        if f0 & N != 0 {
            return Some(self.digits(s, pos + n0));
        }
        if f0 & NL == 0 {
            // an optional non-letter prefix (space or punctuation), then letters
            if let Some((f1, n1)) = self.at(s, pos + n0) {
                if f1 & L != 0 {
                    return Some(self.letters(s, pos + n0 + n1, L));
                }
            }
        }
        if let Some(end) = self.punct(s, pos, |b| b == b'\r' || b == b'\n') {
            return Some(end);
        }
        self.whitespace(s, pos)
    }

    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|`
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|`
    /// `\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    fn o200k(&self, s: &[u8], pos: usize) -> Option<usize> {
        let (f0, n0) = self.at(s, pos)?;
        if let Some(end) = self.o200k_word(s, pos, f0, n0) {
            if s.get(end) == Some(&b'\'') {
                return Some(self.contraction(s, end, true).unwrap_or(end));
            }
            return Some(end);
        }
        if f0 & N != 0 {
            return Some(self.digits(s, pos + n0));
        }
        if let Some(end) = self.punct(s, pos, |b| b == b'\r' || b == b'\n' || b == b'/') {
            return Some(end);
        }
        self.whitespace(s, pos)
    }

    /// The end of o200k's word (before a contraction), trying the alternatives in the regex's order: the first with
    /// the optional prefix `[^\r\n\p{L}\p{N}]?` taken, then without it, then the second with and without it. (The
    /// prefix char can be a mark, which is also a letter of both cases: "\u{301}AB" is "\u{301}", then "AB".)
    #[inline(always)]
    fn o200k_word(&self, s: &[u8], pos: usize, f0: u8, n0: usize) -> Option<usize> {
        let prefix = f0 & (NL | L | N) == 0;
        let after_prefix = if prefix { self.cased(s, pos + n0) } else { (None, None) };
        if after_prefix.0.is_some() {
            return after_prefix.0;
        }
        let here = if f0 & (UP | LO) != 0 { self.cased(s, pos) } else { (None, None) };
        here.0.or(after_prefix.1).or(here.1)
    }

    /// Where `[UP]*[LO]+` and `[UP]+[LO]*` (o200k's two word forms, UP and LO its case classes) match from `i`.
    /// The first: the upper-case run, then the lower-case run after it if a lower-case-only char follows, else the
    /// run given back to its last char of both cases (Lm, Lo, M), if it has one. The second: the upper-case run
    /// (a lower-case char after it would have made the first match).
    #[inline(always)]
    fn cased(&self, s: &[u8], mut i: usize) -> (Option<usize>, Option<usize>) {
        let start = i;
        let mut after_last_both = None;
        let mut next = self.at(s, i);
        while let Some((f, n)) = next.filter(|&(f, _)| f & UP != 0) {
            i += n;
            if f & LO != 0 {
                after_last_both = Some(i);
            }
            next = self.at(s, i);
        }
        let first = match next {
            Some((f, n)) if f & LO != 0 => Some(self.letters(s, i + n, LO)),
            _ => after_last_both,
        };
        (first, (i > start).then_some(i))
    }

    /// `\p{N}{1,3}` from the char after the first digit, at `i`.
    fn digits(&self, s: &[u8], mut i: usize) -> usize {
        for _ in 0..2 {
            match self.at(s, i) {
                Some((f, n)) if f & N != 0 => i += n,
                _ => break,
            }
        }
        i
    }

    /// ` ?[^\s\p{L}\p{N}]+` then a run of ASCII `tail` bytes, if it matches at `pos`.
    fn punct(&self, s: &[u8], pos: usize, tail: impl Fn(u8) -> bool) -> Option<usize> {
        let start = if s[pos] == b' ' { pos + 1 } else { pos };
        let (f, n) = self.at(s, start)?;
        if !is_punct(f) {
            return None;
        }
        let mut i = self.run(s, start + n, is_punct);
        while s.get(i).is_some_and(|&b| tail(b)) {
            i += 1;
        }
        Some(i)
    }

    /// The whitespace alternatives: up to the run's last newline (`\s*[\r\n]`: cl100k after its `\s++$`, o200k
    /// first of all, gpt2 never); else the whole run at the end of text, the run minus its last char when a non-space
    /// follows (`\s+(?!\S)`), or a single char.
    fn whitespace(&self, s: &[u8], pos: usize) -> Option<usize> {
        let (mut i, mut last_start, mut after_newline) = (pos, pos, None);
        while let Some((f, n)) = self.at(s, i) {
            if f & S == 0 {
                break;
            }
            last_start = i;
            i += n;
            if f & NL != 0 {
                after_newline = Some(i);
            }
        }
        if i == pos {
            return None;
        }
        let newline_alt = match self.pattern {
            Pattern::Gpt2 => false,
            Pattern::Cl100k => i < s.len(),
            Pattern::O200k => true,
        };
        if let Some(end) = after_newline.filter(|_| newline_alt) {
            return Some(end);
        }
        Some(if i < s.len() && last_start > pos { last_start } else { i })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two-level tables give every char the bits its classes' regexes (regex-automata, compiled from the same
    /// expressions) say; and \s agrees with the standard library's White_Space. Every char in release builds,
    /// every 7th in debug builds.
    #[test]
    fn tables_agree_with_the_regex_crate() {
        let t = classes();
        let res: Vec<(u8, regex_automata::meta::Regex)> =
            CLASSES.iter().map(|&(bit, e)| (bit, regex_automata::meta::Regex::new(&format!("^{e}$")).unwrap())).collect();
        let step = if cfg!(debug_assertions) { 7 } else { 1 };
        let mut buf = [0u8; 4];
        for c in (0..CHARS as u32).step_by(step).filter_map(char::from_u32) {
            let s = c.encode_utf8(&mut buf);
            let want = res.iter().filter(|(_, re)| re.is_match(s as &str)).fold(0, |f, (bit, _)| f | bit);
            assert_eq!(t.of(c as u32), want, "{c:?}");
            assert_eq!(want & S != 0, c.is_whitespace(), "{c:?} whitespace");
        }
        assert_eq!(t.ascii, std::array::from_fn(|b| t.of(b as u32)));
    }

    #[test]
    fn classes_of_sample_chars() {
        let t = classes();
        let cases = [
            ('a', L | LO), ('Z', L | UP), ('\u{1c5}', L | UP), ('\u{2b0}', L | UP | LO), ('中', L | UP | LO),
            ('\u{301}', UP | LO), ('٣', N), ('½', N), ('\u{a0}', S), ('\u{3000}', S), ('\u{85}', S), ('\n', S | NL),
            ('€', 0), ('\u{1c}', 0), ('\u{200b}', 0), ('\u{1F600}', 0), ('\u{20000}', L | UP | LO),
        ];
        for (c, want) in cases {
            assert_eq!(t.of(c as u32), want, "{c:?}");
        }
        assert_eq!(t.fold, vec![(0x17f, b's')], "only LONG S folds to a contraction letter");
    }

    #[test]
    fn decode_agrees_with_std() {
        let text = "aé中\u{1F600}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}";
        for (i, c) in text.char_indices().filter(|(_, c)| !c.is_ascii()) {
            assert_eq!(decode(text.as_bytes(), i), (c as u32, c.len_utf8()));
        }
    }
}
