//! Pre-tokenization: the regex split that BPE never merges across, identical to Python's `regex` module.
//!
//! The GPT-2, cl100k and o200k patterns end in `\s+(?!\S)`, a lookahead the fast `regex` crate (a DFA) cannot run.
//! For those three we run the pattern with `\s+(?!\S)|\s+` replaced by `\s+`, then put the lookahead back by hand:
//! a whitespace-only piece followed by a non-space char gives its last char to the next piece, unless it ends in a
//! newline that an earlier `\s*[\r\n]` alternative produced (cl100k, o200k). Any other pattern runs on fancy-regex.

use fancy_regex::Regex as FancyRegex;
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use crate::ascii::{piece_end, Pattern as AsciiPattern};

const GPT2: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
const GPT2_ORIGINAL: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const GPT2_FAST: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+$|\s+";
const CL100K: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
const CL100K_FAST: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+";
const O200K_HEAD: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|";

pub enum Splitter {
    /// DFA regex plus the hand-written lookahead; `newline_alt`: an earlier `\s*[\r\n]` alternative exists;
    /// `ascii`: the hand-written scanner that handles ASCII pieces first (ascii.rs).
    Fast { re: Regex, newline_alt: bool, ascii: Option<AsciiPattern> },
    Fancy(FancyRegex),
}

impl Splitter {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let o200k = format!("{O200K_HEAD}\\s+(?!\\S)|\\s+");
        let fast = match pattern {
            p if p == GPT2 || p == GPT2_ORIGINAL => Some((GPT2_FAST.to_string(), false, Some(AsciiPattern::Gpt2))),
            p if p == CL100K => Some((CL100K_FAST.to_string(), true, Some(AsciiPattern::Cl100k))),
            p if p == o200k => Some((format!("{O200K_HEAD}\\s+"), true, None)),
            _ => None,
        };
        if let Some((re, newline_alt, ascii)) = fast {
            let re = Regex::new(&re).map_err(|e| e.to_string())?;
            return Ok(Splitter::Fast { re, newline_alt, ascii });
        }
        FancyRegex::new(pattern)
            .map(Splitter::Fancy)
            .map_err(|e| format!("invalid split pattern {pattern:?}: {e}"))
    }

    /// Call `f` with each piece of `text`, in order.
    pub fn for_each<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) {
        match self {
            Splitter::Fast { re, newline_alt, ascii } => {
                let bytes = text.as_bytes();
                let mut pos = 0;
                while pos < text.len() {
                    if let Some(end) = ascii.and_then(|p| piece_end(p, bytes, pos)) {
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

    fn fast_vs_fancy(pattern: &str, text: &str) {
        let fast = Splitter::new(pattern).unwrap();
        assert!(matches!(fast, Splitter::Fast { .. }));
        if let Splitter::Fast { re, newline_alt, .. } = &fast {
            // the regex path alone, without the ASCII scanner, must agree too
            let plain = Splitter::Fast { re: re.clone(), newline_alt: *newline_alt, ascii: None };
            let fancy = Splitter::Fancy(FancyRegex::new(pattern).unwrap());
            assert_eq!(plain.split(text), fancy.split(text), "regex path, pattern {pattern:?} on {text:?}");
        }
        let fancy = Splitter::Fancy(FancyRegex::new(pattern).unwrap());
        assert_eq!(fast.split(text), fancy.split(text), "pattern {pattern:?} on {text:?}");
    }

    #[test]
    fn fast_path_matches_lookahead_semantics() {
        let o200k = format!("{O200K_HEAD}\\s+(?!\\S)|\\s+");
        let texts = [
            "Hello world's  end", "a   b\n\n  c\r\n d\t\te  ", "  \n x", "x \u{3000}\u{3000}y", "it's 12345 ok?!\n\n",
            "trailing spaces   ", "\n\n\n", "  ", "ab\u{00a0} cd", "Ünïcödé  ça\u{2028}va", "1,000,000  dollars\n  x",
            "'S 'LL 'Ve 'ſ 'lſ x'", "\t x\t\ty", "...hello (world) \"q\"?!\n\n\r\n", "12345678 9é", " !!\n\nx", "a\x0b\x0cb",
            " \u{00e9}t\u{00e9} \u{0661}\u{0662}3 4\u{0663}", "x  \u{3000}y", "'\u{017f} ' s",
        ];
        for p in [GPT2, GPT2_ORIGINAL, CL100K, o200k.as_str()] {
            for t in texts {
                fast_vs_fancy(p, t);
            }
        }
    }

    #[test]
    fn custom_pattern_uses_fancy_regex() {
        let s = Splitter::new(r"\w+|\s+(?!\S)|\s+|.").unwrap();
        assert!(matches!(s, Splitter::Fancy(_)));
        assert_eq!(s.split("ab  c"), vec!["ab", " ", " ", "c"]);
    }
}
