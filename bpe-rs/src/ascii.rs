//! A hand-written scanner for ASCII pieces under the GPT-2 and cl100k patterns: the common case in English text,
//! and several times cheaper than a regex search per piece. It answers only when every byte that decides the
//! piece's end is ASCII; otherwise (None) the caller runs the regex for that piece, so results stay identical
//! (tests/bpe/test_pretokenize.py checks them against Python's `regex`).

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Gpt2,
    Cl100k,
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
    whitespace(s, pos, false)
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
        C::Digit => {
            let mut i = pos + 1;
            while i < pos + 3 {
                match class(s, i) {
                    Some(C::Digit) => i += 1,
                    Some(C::Other) => return None,
                    _ => break,
                }
            }
            return Some(i);
        }
        C::Space | C::Punct => match class(s, pos + 1) {
            // an optional non-letter prefix, then letters
            Some(C::Letter) => return run_end(s, pos + 2, C::Letter),
            Some(C::Other) => return None,
            _ => {}
        },
        C::Newline => {}
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let start = if s[pos] == b' ' { pos + 1 } else { pos };
    match class(s, start) {
        Some(C::Punct) => {
            let end = run_end(s, start + 1, C::Punct)?;
            let mut i = end;
            while matches!(s.get(i), Some(b'\r' | b'\n')) {
                i += 1;
            }
            return Some(i);
        }
        Some(C::Other) if start > pos => return None,
        _ => {}
    }
    whitespace(s, pos, true)
}

/// The whitespace alternatives: the whole run at the end of text; with `newline_alt`, up to the run's last
/// newline; else the run minus its last char when a non-space follows (`\s+(?!\S)`), or one char.
fn whitespace(s: &[u8], pos: usize, newline_alt: bool) -> Option<usize> {
    let end = ws_end(s, pos)?;
    if end == pos {
        return None;
    }
    if end == s.len() {
        return Some(end);
    }
    if newline_alt {
        if let Some(last_nl) = s[pos..end].iter().rposition(|&b| b == b'\n' || b == b'\r') {
            return Some(pos + last_nl + 1);
        }
    }
    Some(if end - pos >= 2 { end - 1 } else { end })
}
