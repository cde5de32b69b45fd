//! Safe cuts: where a corpus can be split so that every chunk pre-tokenizes as it would inside the whole text.
//! The same rule as bpe/bpe/chunking.py: right after a special token, or at a space between two ASCII letters
//! ("a| b"): a letter run always ends before a space, and " b..." always starts a new piece.

use memchr::memmem;
use std::fs::File;
use std::io::Read;

use crate::error::{Error, Result};

/// Bytes read per block when streaming a file: memory stays at about one block.
pub const BLOCK: usize = 64 << 20;

/// First safe cut at or after `start` within `window` bytes, or None.
pub fn find_safe_cut(data: &[u8], start: usize, specials: &[Vec<u8>], window: usize) -> Option<usize> {
    let end = data.len().min(start.saturating_add(window));
    if start >= end {
        return None;
    }
    let mut best: Option<usize> = None;
    for s in specials {
        let hay_end = data.len().min(end + s.len());
        if let Some(i) = memmem::find(&data[start..hay_end], s) {
            let cut = start + i + s.len();
            best = Some(best.map_or(cut, |b| b.min(cut)));
        }
    }
    let limit = best.unwrap_or(end).min(end);
    let mut i = start.max(1);
    while i + 1 < limit {
        match memchr::memchr(b' ', &data[i..limit]) {
            None => break,
            Some(j) => {
                let p = i + j;
                if p + 1 < data.len() && data[p - 1].is_ascii_alphabetic() && data[p + 1].is_ascii_alphabetic()
                    && !inside_special(data, p, specials)
                {
                    return Some(p);
                }
                i = p + 1;
            }
        }
    }
    best
}

/// True when an occurrence of a special token that contains a space spans `pos`.
fn inside_special(data: &[u8], pos: usize, specials: &[Vec<u8>]) -> bool {
    specials.iter().filter(|s| s.contains(&b' ')).any(|s| {
        let lo = pos.saturating_sub(s.len());
        let hi = data.len().min(pos + s.len());
        memmem::find_iter(&data[lo..hi], s).any(|i| lo + i < pos && lo + i + s.len() > pos)
    })
}

/// Offsets [0, c1, ..., len] splitting `data` into at most `n` safely cut chunks.
pub fn chunk_bounds(data: &[u8], n: usize, specials: &[Vec<u8>]) -> Vec<usize> {
    let mut bounds = vec![0];
    let step = (data.len() / n.max(1)).max(1);
    for k in 1..n {
        let target = (k * step).max(*bounds.last().unwrap());
        if let Some(cut) = find_safe_cut(data, target, specials, 1 << 20) {
            if cut > *bounds.last().unwrap() && cut < data.len() {
                bounds.push(cut);
            }
        }
    }
    bounds.push(data.len());
    bounds
}

/// The last safe cut in `data` (searching backwards in growing windows), or None.
pub fn last_safe_cut(data: &[u8], specials: &[Vec<u8>]) -> Option<usize> {
    let mut window = 1 << 16;
    loop {
        let start = data.len().saturating_sub(window);
        let mut found = None;
        let mut from = start;
        while let Some(c) = find_safe_cut(data, from, specials, data.len() - from) {
            if c >= data.len() {
                break;
            }
            found = Some(c);
            from = c + 1;
        }
        if found.is_some() || start == 0 {
            return found;
        }
        window *= 4;
    }
}

/// Read a UTF-8 file about `block` bytes at a time (BLOCK in practice; tests pass small ones), each block ending at
/// a safe cut, and call `f(text, bytes_done, file_size)`.
pub fn for_each_block(
    path: &str, specials: &[Vec<u8>], block: usize, mut f: impl FnMut(&str, usize, usize),
) -> Result<()> {
    let io = |action, source| Error::Io { action, path: path.to_string(), source };
    let mut file = File::open(path).map_err(|e| io("open", e))?;
    let size = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut buf: Vec<u8> = Vec::new();
    let mut done = 0usize;
    loop {
        let old = buf.len();
        buf.resize(old + block.max(1), 0);
        let n = read_full(&mut file, &mut buf[old..]).map_err(|e| io("read", e))?;
        buf.truncate(old + n);
        let eof = n == 0;
        let cut = if eof { buf.len() } else { last_safe_cut(&buf, specials).unwrap_or(0) };
        if cut == 0 && !eof {
            continue; // no safe cut yet: read more
        }
        let text = std::str::from_utf8(&buf[..cut])
            .map_err(|e| Error::NotUtf8 { path: path.to_string(), offset: done + e.valid_up_to() })?;
        done += cut;
        f(text, done, size);
        buf.drain(..cut);
        if eof {
            return Ok(());
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_before_space_between_letters_or_after_specials() {
        assert_eq!(find_safe_cut(b"hello world", 3, &[], 100), Some(5));
        assert_eq!(find_safe_cut(b"x<|endoftext|>y", 0, &[b"<|endoftext|>".to_vec()], 100), Some(14));
        assert_eq!(find_safe_cut(b"1 2 3", 0, &[], 100), None);
        assert_eq!(last_safe_cut(b"a b c d", &[]), Some(5));
    }

    #[test]
    fn bounds_cover_everything_in_order() {
        let text = "the quick brown fox jumps over the lazy dog ".repeat(100);
        let b = chunk_bounds(text.as_bytes(), 7, &[]);
        assert_eq!(b[0], 0);
        assert_eq!(*b.last().unwrap(), text.len());
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        assert!(b.len() > 2);
    }
}
