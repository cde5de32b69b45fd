//! Pre-tokenization: the regex split that BPE never merges across, identical to Python's `regex` module.
//!
//! The split patterns of GPT-2, cl100k and o200k are defined here, once: Python's `bpe.patterns` imports them from
//! this crate (`bpe_rs.GPT2_PATTERN`, ...), so the pattern a tokenizer stores is, string for string, the one the
//! fast path recognises. Any other pattern, or one edited by hand, runs on fancy-regex; `Splitter::name` says which
//! (tests/bpe/test_pretokenize.py fails if a tokenizer on OpenAI's patterns, tiktoken's included, is not fast).
//!
//! Those three patterns end in `\s+(?!\S)`, a lookahead the fast `regex` crate (a DFA) cannot run. The fast path runs
//! the pattern with `\s+(?!\S)|\s+` (or `|\s`) replaced by `\s+` and possessive quantifiers made greedy (the same
//! matches for these patterns: nothing after a possessive run could match what it would give back), then puts the
//! lookahead back by hand: a whitespace-only piece followed by a non-space char gives its last char to the next
//! piece, unless it ends in a newline that an earlier `\s*[\r\n]` alternative produced (cl100k, o200k). The unit
//! tests below check the fast path against fancy-regex on every known pattern.

use fancy_regex::Regex as FancyRegex;
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use crate::scan::{Pattern as ScanPattern, Scanner};
use crate::error::{Error, Result};

/// GPT-2's pattern as tiktoken spells it (possessive quantifiers; the same splits as encoder.py's original).
pub const GPT2_PATTERN: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";

/// GPT-4's pattern (tiktoken's cl100k_base).
pub const CL100K_PATTERN: &str = concat!(
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|",
    r"\s+(?!\S)|\s",
);

/// GPT-4o's pattern (tiktoken's o200k_base): letter runs split at case changes, contractions kept on the word.
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|",
    r"\p{N}{1,3}|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*|",
    r"\s*[\r\n]+|",
    r"\s+(?!\S)|",
    r"\s+",
);

/// GPT-2's original spelling (openai/gpt-2 encoder.py): the same splits as GPT2_PATTERN, so the same fast path.
const GPT2_ENCODER_PY: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// A pattern the fast path knows: `newline_alt`: an earlier `\s*[\r\n]` alternative exists; `scanner`: the
/// hand-written scanner (scan.rs), where there is one.
struct Known {
    name: &'static str,
    pattern: &'static str,
    newline_alt: bool,
    scanner: Option<ScanPattern>,
}

const KNOWN: [Known; 4] = [
    Known { name: "gpt2", pattern: GPT2_PATTERN, newline_alt: false, scanner: Some(ScanPattern::Gpt2) },
    Known { name: "gpt2", pattern: GPT2_ENCODER_PY, newline_alt: false, scanner: Some(ScanPattern::Gpt2) },
    Known { name: "cl100k", pattern: CL100K_PATTERN, newline_alt: true, scanner: Some(ScanPattern::Cl100k) },
    Known { name: "o200k", pattern: O200K_PATTERN, newline_alt: true, scanner: Some(ScanPattern::O200k) },
];

/// The fast path's form of a known pattern: the lookahead alternative becomes `\s+` (put back by `lookahead_end`)
/// and possessive quantifiers become greedy ones, which the regex crate reads.
fn fast_form(pattern: &str) -> String {
    let head = pattern
        .strip_suffix(r"\s+(?!\S)|\s+")
        .or_else(|| pattern.strip_suffix(r"\s+(?!\S)|\s"))
        .expect("a known pattern ends in the \\s+(?!\\S) lookahead");
    format!(r"{}\s+", greedy(head))
}

/// `X++`, `X?+`, `X*+`, `X{1,3}+` (possessive) become `X+`, `X?`, `X*`, `X{1,3}`: a `+` right after a quantifier
/// is dropped. Escapes (`\s`, `\p{L}`) and `[...]` classes are copied as they are.
fn greedy(pattern: &str) -> String {
    let b = pattern.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let (mut i, mut in_class, mut after_quantifier) = (0, false, false);
    while i < b.len() {
        let mut end = i + 1; // copy b[i..end]
        let mut quantifier = false;
        match b[i] {
            b'\\' if b.get(i + 1).is_some_and(|&c| c == b'p' || c == b'P') && b.get(i + 2) == Some(&b'{') => {
                end = i + b[i..].iter().position(|&c| c == b'}').map_or(b.len() - i, |j| j + 1);
            }
            b'\\' => end = (i + 2).min(b.len()),
            _ if in_class => in_class = b[i] != b']',
            b'[' => in_class = true,
            b'+' if after_quantifier => {
                (i, after_quantifier) = (i + 1, false);
                continue;
            }
            b'+' | b'*' => quantifier = true,
            b'?' => quantifier = !after_quantifier && i > 0 && b[i - 1] != b'(', // not `(?:`, not lazy `+?`
            b'{' => {
                end = i + b[i..].iter().position(|&c| c == b'}').map_or(b.len() - i, |j| j + 1);
                quantifier = true;
            }
            _ => {}
        }
        out.extend_from_slice(&b[i..end]);
        (i, after_quantifier) = (end, quantifier);
    }
    String::from_utf8(out).expect("cut only at ASCII bytes")
}

pub enum Splitter {
    /// DFA regex plus the hand-written lookahead, for the known pattern `name`; `newline_alt` as in `Known`;
    /// `scanner` answers for most pieces (all, for the known patterns) before the regex runs.
    Fast { name: &'static str, re: Regex, newline_alt: bool, scanner: Option<Scanner> },
    Fancy(FancyRegex),
}

impl Splitter {
    pub fn new(pattern: &str) -> Result<Self> {
        let invalid = |message: String| Error::Pattern { pattern: pattern.to_string(), message };
        if let Some(k) = KNOWN.iter().find(|k| k.pattern == pattern) {
            let re = Regex::new(&fast_form(k.pattern)).map_err(|e| invalid(e.to_string()))?;
            let scanner = k.scanner.map(Scanner::new);
            return Ok(Splitter::Fast { name: k.name, re, newline_alt: k.newline_alt, scanner });
        }
        FancyRegex::new(pattern).map(Splitter::Fancy).map_err(|e| invalid(e.to_string()))
    }

    /// Which splitter runs: the known pattern's name ("gpt2", "cl100k", "o200k") on the fast path, else "fancy-regex".
    pub fn name(&self) -> &'static str {
        match self {
            Splitter::Fast { name, .. } => name,
            Splitter::Fancy(_) => "fancy-regex",
        }
    }

    /// Call `f` with each piece of `text`, in order.
    pub fn for_each<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        match self {
            Splitter::Fast { re, newline_alt, scanner, .. } => {
                let mut pos = 0;
                while pos < text.len() {
                    if let Some(end) = scanner.and_then(|sc| sc.piece_end(text, pos)) {
                        f(&text[pos..end]);
                        pos = end;
                        continue;
                    }
                    // Pieces tile the text (every char matches some alternative), so each search is anchored.
                    let input = Input::new(text).range(pos..).anchored(Anchored::Yes);
                    let Some(m) = re.search(&input) else { break };
                    let end = lookahead_end(text, m.start(), m.end(), *newline_alt);
                    f(&text[m.start()..end]);
                    pos = end;
                }
            }
            Splitter::Fancy(re) => {
                let mut last_end = 0;
                for m in re.find_iter(text) {
                    match m {
                        Ok(m) => {
                            f(m.as_str());
                            last_end = m.end();
                        }
                        // Backtrack limit hit: keep the rest as one piece rather than dropping text.
                        Err(_) => {
                            f(&text[last_end..]);
                            break;
                        }
                    }
                }
            }
        }
    }

    pub fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        self.for_each(text, |p| out.push(p));
        out
    }
}

/// Where a `\s+` match should really end under `\s+(?!\S)`: one char early if it is a run of two or more
/// whitespace chars followed by a non-space char (and not a newline run from `\s*[\r\n]`).
#[inline]
fn lookahead_end(text: &str, start: usize, end: usize, newline_alt: bool) -> usize {
    if end >= text.len() {
        return end;
    }
    let piece = &text[start..end];
    let Some(last) = piece.chars().next_back() else { return end };
    if !last.is_whitespace() || (newline_alt && (last == '\n' || last == '\r')) {
        return end;
    }
    if !piece.chars().all(char::is_whitespace) {
        return end;
    }
    let last_len = last.len_utf8();
    if piece.len() > last_len {
        end - last_len
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiled once per pattern: a debug build takes tens of milliseconds per Unicode regex.
    fn fast_vs_fancy(pattern: &str, texts: &[&str]) {
        let fast = Splitter::new(pattern).unwrap();
        let Splitter::Fast { name, re, newline_alt, .. } = &fast else { panic!("{pattern:?} is not on the fast path") };
        // the regex path alone, without the scanner, must agree too
        let plain = Splitter::Fast { name, re: re.clone(), newline_alt: *newline_alt, scanner: None };
        let fancy = Splitter::Fancy(FancyRegex::new(pattern).unwrap());
        for text in texts {
            assert_eq!(plain.split(text), fancy.split(text), "regex path, pattern {pattern:?} on {text:?}");
            assert_eq!(fast.split(text), fancy.split(text), "pattern {pattern:?} on {text:?}");
        }
    }

    #[test]
    fn fast_path_matches_lookahead_semantics() {
        let texts = [
            "Hello world's  end", "a   b\n\n  c\r\n d\t\te  ", "  \n x", "x \u{3000}\u{3000}y", "it's 12345 ok?!\n\n",
            "trailing spaces   ", "\n\n\n", "  ", "ab\u{00a0} cd", "Ünïcödé  ça\u{2028}va", "1,000,000  dollars\n  x",
            "'S 'LL 'Ve 'ſ 'lſ x'", "\t x\t\ty", "...hello (world) \"q\"?!\n\n\r\n", "12345678 9é", " !!\n\nx", "a\x0b\x0cb",
            " \u{00e9}t\u{00e9} \u{0661}\u{0662}3 4\u{0663}", "x  \u{3000}y", "'\u{017f} ' s",
        ];
        for p in KNOWN.map(|k| k.pattern) {
            fast_vs_fancy(p, &texts);
        }
    }

    #[test]
    fn o200k_ascii_edge_cases() {
        let texts = [
            // case transitions and contractions kept on the word
            "HTTPServer", "McDonald's", "iPhone", "ABCdef", "don'T", "I'LL", "WE'Re they'VE", "x'LLy O'Neil", "aBC",
            "ABC'", "abc's's", "Don'", "you'l", "we'lx", "I'M'D", "'s", "'S", " 's", "'LL", "AB'cd", "'x'", "it's.",
            // apostrophes alone and doubled
            "'", "''", "'''s", "a''b", " ' ", "''\n", "x' y",
            // digits
            "1", "12", "123", "12345", "1234567", "a1b2", "A12B", "1a", " 42 ", "3.14", "x-1", "1/2",
            // punctuation with `/` and newlines
            "a/b", "...\n\n", "x/\r\n", "/\n/\r/x", "//", " /", " /a", "a /b", "!!a", " !!\n\nz", ".\r\n\r\n  x",
            "(A)", "-Hello", "\"Quote\"", "<br/>\n", "http://a.b/c?d=1", "?/", "x\\y",
            // whitespace runs before words, at the end, tabs, \r\n mixtures
            "a  b", "a   B", "  x", "   ", "x   ", "x \n", "x\n  ", "\n", "\r\n", "\n\r", "\r\n\r\n  a", "\t\tx",
            "a\tb", " \t x", "\t!", " \t!", "x \t\n\ty", "\n \n \nX", " \r\n", "\x0bA\x0cb", "x\x1cy \x1f", "a \n\n",
            // the ASCII/non-ASCII boundary
            "abc\u{e9}", "ABC\u{e9}", "AB\u{301}c", " \u{e9}t\u{e9}", "'\u{17f}", "don'\u{17f}", "we'l\u{e9}",
            "12\u{661}", "!!\u{bf}", " \u{a0}x", "\n\u{a0}\n", "x\u{3000} y", "\u{2028}\n", "Caf\u{e9}'s MENU",
        ];
        for p in KNOWN.map(|k| k.pattern) {
            fast_vs_fancy(p, &texts);
        }
    }

    /// Every string of up to four chars over an alphabet that reaches each branch of the o200k scanner.
    #[test]
    fn o200k_short_strings_exhaustively() {
        exhaustively(O200K_PATTERN, &"aZ'sLt1 \t\n\r/.\u{e9}".chars().collect::<Vec<_>>(), 4);
    }

    /// Every string of up to `max_len` chars over `alphabet` splits on the fast path as fancy-regex splits it.
    fn exhaustively(pattern: &str, alphabet: &[char], max_len: u32) {
        let fast = Splitter::new(pattern).unwrap();
        let fancy = Splitter::Fancy(FancyRegex::new(pattern).unwrap());
        let mut text = String::new();
        let n = alphabet.len();
        for len in 1..=max_len {
            for mut k in 0..n.pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(alphabet[k % n]);
                    k /= n;
                }
                assert_eq!(fast.split(&text), fancy.split(&text), "pattern {pattern:?} on {text:?}");
            }
        }
    }

    /// One char of each class the scanner tells apart: ASCII letters (the contraction letters among them), digit,
    /// space, newlines, apostrophe, punctuation and `/`; upper (Lu), lower (Ll), title case (Lt), modifier (Lm) and
    /// other (Lo) letters, a combining mark (M: o200k's letters, not \p{L}), a non-ASCII digit (Nd) and number
    /// (No), Unicode spaces (U+00A0, U+3000, U+0085), a symbol, LONG S and KELVIN SIGN (which (?i) folds to s, k).
    const UNICODE_ALPHABET: &str =
        "aZsl1 \n\r'./\u{c9}\u{e9}\u{1c5}\u{2b0}\u{4e2d}\u{301}\u{663}\u{bd}\u{a0}\u{3000}\u{85}\u{20ac}\u{17f}\u{212a}";

    /// Exhaustive to four chars in release builds (`cargo test --release`, about a second a pattern), three in
    /// debug builds, where fancy-regex is too slow for 400,000 strings a pattern.
    #[test]
    fn unicode_short_strings_exhaustively() {
        let alphabet: Vec<char> = UNICODE_ALPHABET.chars().collect();
        let max_len = if cfg!(debug_assertions) { 3 } else { 4 };
        for k in &KNOWN {
            exhaustively(k.pattern, &alphabet, max_len);
        }
    }

    /// Longer strings over the contraction and case alphabet, where o200k's backtracking over a word's case runs
    /// and a contraction after it decide the split.
    #[test]
    fn cased_words_and_contractions_exhaustively() {
        let alphabet: Vec<char> = "aA'sSlLe\u{c9}\u{2b0}\u{301}\u{17f} ".chars().collect();
        let max_len = if cfg!(debug_assertions) { 4 } else { 5 };
        for p in [O200K_PATTERN, CL100K_PATTERN] {
            exhaustively(p, &alphabet, max_len);
        }
    }

    /// Letter runs are read 8 bytes at a time (scan.rs, `ascii_letters`): pseudo-random strings of 1-40 chars, mostly
    /// ASCII letters, with the bytes just outside a-z and A-Z (@ [ ` {), non-ASCII letters of each case, a mark, an
    /// apostrophe, a digit and a space, so runs end at every offset of a u64 and cross into and out of it.
    #[test]
    fn long_letter_runs_split_like_fancy_regex() {
        let alphabet: Vec<char> = "aazzAAZZmmQQ@[`{'1 \u{e9}\u{c9}\u{2b0}\u{301}".chars().collect();
        let mut seed = 12345u64;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let texts: Vec<String> =
            (0..3000).map(|_| (0..1 + next(40)).map(|_| alphabet[next(alphabet.len())]).collect()).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        for k in &KNOWN {
            fast_vs_fancy(k.pattern, &texts);
        }
    }

    #[test]
    fn every_known_pattern_has_a_scanner() {
        for k in &KNOWN {
            assert!(k.scanner.is_some(), "{} runs the regex on every piece", k.name);
            assert!(matches!(Splitter::new(k.pattern).unwrap(), Splitter::Fast { scanner: Some(_), .. }));
        }
    }

    #[test]
    fn custom_pattern_uses_fancy_regex() {
        let s = Splitter::new(r"\w+|\s+(?!\S)|\s+|.").unwrap();
        assert!(matches!(s, Splitter::Fancy(_)));
        assert_eq!(s.name(), "fancy-regex");
        assert_eq!(s.split("ab  c"), vec!["ab", " ", " ", "c"]);
    }

    #[test]
    fn known_patterns_take_the_fast_path_by_name() {
        for (pattern, name) in [(GPT2_PATTERN, "gpt2"), (GPT2_ENCODER_PY, "gpt2"), (CL100K_PATTERN, "cl100k"),
            (O200K_PATTERN, "o200k")]
        {
            assert_eq!(Splitter::new(pattern).unwrap().name(), name);
        }
        // one character off is another pattern: it must run (correctly) on fancy-regex, not on a fast path
        assert_eq!(Splitter::new(&GPT2_PATTERN.replace("ll|", "ll|xx|")).unwrap().name(), "fancy-regex");
    }

    #[test]
    fn possessive_quantifiers_become_greedy() {
        assert_eq!(greedy(r"\p{L}++|\p{N}{1,3}+|[+?]?+\s*+|(?i:a)?|x+?|\++"), r"\p{L}+|\p{N}{1,3}|[+?]?\s*|(?i:a)?|x+?|\++");
        assert_eq!(greedy(r" ?\p{L}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"), r" ?\p{L}+| ?[^\s\p{L}\p{N}]+[\r\n]*");
    }

    #[test]
    fn invalid_pattern_is_a_pattern_error() {
        let err = Splitter::new("(unclosed").err().unwrap();
        assert!(matches!(err, Error::Pattern { .. }));
        assert!(err.to_string().starts_with("invalid split pattern"));
    }
}
