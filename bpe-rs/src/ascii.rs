//! A hand-written scanner for ASCII pieces under the GPT-2, cl100k and o200k patterns: the common case in English text,
//! and several times cheaper than a regex search per piece. It answers only when every byte that decides the
//! piece's end is ASCII; otherwise (None) the caller runs the regex for that piece, so results stay identical
//! (tests/bpe/test_pretokenize.py checks them against Python's `regex`).

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Gpt2,
    Cl100k,
    O200k,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum C {
    Letter,
    Digit,
    Space,   // \t \v \f and ' '
    Newline, // \r \n
    Punct,   // any other ASCII byte: not \s, \p{L} or \p{N}
    Other,   // a non-ASCII byte: its class needs the full character
}

const fn class_table() -> [C; 256] {
    let mut t = [C::Other; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' => C::Letter,
            b'0'..=b'9' => C::Digit,
            b'\r' | b'\n' => C::Newline,
            b'\t' | 0x0b | 0x0c | b' ' => C::Space,
            _ => C::Punct,
        };
        b += 1;
    }
    t
}

static CLASS: [C; 256] = class_table();

#[inline]
fn class(s: &[u8], i: usize) -> Option<C> {
    s.get(i).map(|&b| CLASS[b as usize])
}

/// End of a run of `want` bytes from `i`, or None if a non-ASCII byte could continue it.
#[inline]
fn run_end(s: &[u8], mut i: usize, want: C) -> Option<usize> {
    while let Some(c) = class(s, i) {
        if c == want {
            i += 1;
        } else if c == C::Other {
            return None;
        } else {
            break;
        }
    }
    Some(i)
}

/// End of the whitespace run from `i` (\s means ASCII space or newline here), or None at a non-ASCII byte.
#[inline]
fn ws_end(s: &[u8], mut i: usize) -> Option<usize> {
    while let Some(c) = class(s, i) {
        match c {
            C::Space | C::Newline => i += 1,
            C::Other => return None,
            _ => break,
        }
    }
    Some(i)
}

/// The end of the piece starting at `pos`, or None to let the regex decide.
pub fn piece_end(p: Pattern, s: &[u8], pos: usize) -> Option<usize> {
    match p {
        Pattern::Gpt2 => gpt2(s, pos),
        Pattern::Cl100k => cl100k(s, pos),
        Pattern::O200k => o200k(s, pos),
    }
}

fn contraction(s: &[u8], pos: usize, ignore_case: bool) -> Option<Option<usize>> {
    let lower = |i: usize| -> Option<u8> {
        let b = *s.get(i)?;
        Some(if ignore_case { b.to_ascii_lowercase() } else { b })
    };
    if let Some(&b) = s.get(pos + 1) {
        if b >= 0x80 && ignore_case {
            return None; // (?i)s also matches U+017F; let the regex decide
        }
    }
    match lower(pos + 1) {
        Some(b's' | b'd' | b'm' | b't') => Some(Some(pos + 2)),
        Some(c @ (b'l' | b'v' | b'r')) => {
            if ignore_case && s.get(pos + 2).is_some_and(|&b| b >= 0x80) {
                return None;
            }
            let want = match c {
                b'l' => b'l',
                _ => b'e',
            };
            Some(if lower(pos + 2) == Some(want) { Some(pos + 3) } else { None })
        }
        _ => Some(None),
    }
}

/// `'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+$|\s+(?!\S)|\s`
fn gpt2(s: &[u8], pos: usize) -> Option<usize> {
    let c = class(s, pos)?;
    if s[pos] == b'\'' {
        if let Some(end) = contraction(s, pos, false)? {
            return Some(end);
        }
    }
    let (start, body) = if s[pos] == b' ' { (pos + 1, class(s, pos + 1)) } else { (pos, Some(c)) };
    match body {
        Some(C::Other) => return None,
        Some(k @ (C::Letter | C::Digit | C::Punct)) => return run_end(s, start + 1, k),
        _ => {}
    }
    whitespace(s, pos, Pattern::Gpt2)
}

/// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
fn cl100k(s: &[u8], pos: usize) -> Option<usize> {
    let c = class(s, pos)?;
    if s[pos] == b'\'' {
        if let Some(end) = contraction(s, pos, true)? {
            return Some(end);
        }
    }
    match c {
        C::Other => return None,
        C::Letter => return run_end(s, pos + 1, C::Letter),
        C::Digit => return digits(s, pos),
        C::Space | C::Punct => match class(s, pos + 1) {
            // an optional non-letter prefix, then letters
            Some(C::Letter) => return run_end(s, pos + 2, C::Letter),
            Some(C::Other) => return None,
            _ => {}
        },
        C::Newline => {}
    }
    if let Some(end) = punct(s, pos, |b| b == b'\r' || b == b'\n') {
        return end;
    }
    whitespace(s, pos, Pattern::Cl100k)
}

/// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|`
/// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|`
/// `\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
fn o200k(s: &[u8], pos: usize) -> Option<usize> {
    match class(s, pos)? {
        C::Other => return None,
        C::Letter => return cased_word(s, pos),
        C::Digit => return digits(s, pos),
        // `[^\r\n\p{L}\p{N}]?`: one space or punctuation byte may lead a word (a non-ASCII byte may be a letter)
        C::Space | C::Punct => match class(s, pos + 1) {
            Some(C::Letter) => return cased_word(s, pos + 1),
            Some(C::Other) => return None,
            _ => {}
        },
        C::Newline => {}
    }
    if let Some(end) = punct(s, pos, |b| b == b'\r' || b == b'\n' || b == b'/') {
        return end;
    }
    whitespace(s, pos, Pattern::O200k)
}

/// The end of o200k's word from the letter at `i`: upper case then lower case (`[A-Z]*[a-z]+` or `[A-Z]+[a-z]*`
/// in ASCII: either way the longest such run, as nothing after it must match), then a contraction if one follows.
fn cased_word(s: &[u8], mut i: usize) -> Option<usize> {
    while s.get(i).is_some_and(u8::is_ascii_uppercase) {
        i += 1;
    }
    while s.get(i).is_some_and(u8::is_ascii_lowercase) {
        i += 1;
    }
    match s.get(i) {
        Some(b'\'') => Some(contraction(s, i, true)?.unwrap_or(i)),
        // a non-ASCII letter or mark (Lm, Lo, M are in both case classes) could continue the word
        Some(&b) if b >= 0x80 => None,
        _ => Some(i),
    }
}

/// `\p{N}{1,3}` from the digit at `pos`.
fn digits(s: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    while i < pos + 3 {
        match class(s, i) {
            Some(C::Digit) => i += 1,
            Some(C::Other) => return None,
            _ => break,
        }
    }
    Some(i)
}

/// ` ?[^\s\p{L}\p{N}]+` then a run of `tail` bytes. None: this alternative does not match here; Some(answer): it
/// may, and `answer` is `piece_end`'s (None when a non-ASCII byte could extend the punctuation).
fn punct(s: &[u8], pos: usize, tail: impl Fn(u8) -> bool) -> Option<Option<usize>> {
    let start = if s[pos] == b' ' { pos + 1 } else { pos };
    match class(s, start) {
        Some(C::Punct) => {
            let Some(mut i) = run_end(s, start + 1, C::Punct) else { return Some(None) };
            while s.get(i).is_some_and(|&b| tail(b)) {
                i += 1;
            }
            Some(Some(i))
        }
        Some(C::Other) if start > pos => Some(None),
        _ => None,
    }
}

/// The whitespace alternatives: up to the run's last newline (`\s*[\r\n]`: cl100k after its `\s++$`, o200k first of
/// all, gpt2 never); else the whole run at the end of text, the run minus its last char when a non-space follows
/// (`\s+(?!\S)`), or a single char.
fn whitespace(s: &[u8], pos: usize, p: Pattern) -> Option<usize> {
    let end = ws_end(s, pos)?;
    if end == pos {
        return None;
    }
    let newline_alt = match p {
        Pattern::Gpt2 => false,
        Pattern::Cl100k => end < s.len(),
        Pattern::O200k => true,
    };
    if newline_alt {
        if let Some(last_nl) = s[pos..end].iter().rposition(|&b| b == b'\n' || b == b'\r') {
            return Some(pos + last_nl + 1);
        }
    }
    Some(if end < s.len() && end - pos >= 2 { end - 1 } else { end })
}
