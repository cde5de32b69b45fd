//! Safe cuts: where a corpus can be split so that every chunk pre-tokenizes as it would inside the whole text.
//! The same rule as bpe/bpe/chunking.py: right after a special token, or at a space between two ASCII letters
//! ("a| b"): a letter run always ends before a space, and " b..." always starts a new piece.

use memchr::memmem;
use std::fs::File;
use std::io::Read;
use std::sync::mpsc;

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
/// a safe cut, and call `f(text, bytes_done, file_size)`. With `background`, the next block is read and checked on a
/// thread of its own while `f` works on this one (done in turn, reading and the UTF-8 check left a core idle).
/// Without, everything runs on the calling thread: what a caller asked to use one core gets. Memory: two blocks
/// either way (the block being handled and the next one's buffer, both reused).
pub fn for_each_block(
    path: &str, specials: &[Vec<u8>], block: usize, background: bool, mut f: impl FnMut(&str, usize, usize),
) -> Result<()> {
    let mut file = File::open(path).map_err(|e| io_error(path, "open", e))?;
    let size = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    if !background {
        let spare = std::cell::Cell::new(None);
        return read_blocks(&mut file, path, specials, block, || spare.take(), |text, done| {
            f(&text, done, size);
            spare.set(Some(text.into_bytes()));
            true
        });
    }
    // Rendezvous: the reader hands a block over only when `f` is done with the previous one, and gets it back.
    let (blocks, received) = mpsc::sync_channel::<Result<(String, usize)>>(0);
    let (give_back, returned) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let spare = || returned.try_recv().ok();
            let read = read_blocks(&mut file, path, specials, block, spare, |text, done| {
                blocks.send(Ok((text, done))).is_ok() // false: the receiver stopped
            });
            if let Err(e) = read {
                let _ = blocks.send(Err(e));
            }
        });
        for message in received {
            let (text, done) = message?;
            f(&text, done, size);
            let _ = give_back.send(text.into_bytes());
        }
        Ok(())
    })
}

/// The reading loop of `for_each_block`: `deliver(text, bytes_done)` gets each checked block (false stops the
/// loop); `spare` offers a buffer that a delivered block has been given back in, to reuse.
fn read_blocks(
    file: &mut File, path: &str, specials: &[Vec<u8>], block: usize, mut spare: impl FnMut() -> Option<Vec<u8>>,
    mut deliver: impl FnMut(String, usize) -> bool,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut done = 0usize;
    loop {
        let n = file.take(block.max(1) as u64).read_to_end(&mut buf);
        let eof = n.map_err(|e| io_error(path, "read", e))? == 0;
        let cut = if eof { buf.len() } else { last_safe_cut(&buf, specials).unwrap_or(0) };
        if cut == 0 && !eof {
            continue; // no safe cut yet: read more
        }
        let mut next = spare().unwrap_or_default();
        next.clear();
        next.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        let text = String::from_utf8(buf).map_err(|e| Error::NotUtf8 {
            path: path.to_string(),
            offset: done + e.utf8_error().valid_up_to(),
        })?;
        done += cut;
        if !deliver(text, done) || eof {
            return Ok(()); // stopped, or the file is done
        }
        buf = next;
    }
}

fn io_error(path: &str, action: &'static str, source: std::io::Error) -> Error {
    Error::Io { action, path: path.to_string(), source }
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

    #[test]
    fn blocks_rebuild_the_file_and_locate_a_bad_byte() {
        let dir = std::env::temp_dir().join(format!("bpe-rs-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.txt");
        let path = path.to_str().unwrap();
        let specials = [b"<|endoftext|>".to_vec()];
        let text = "ab cd<|endoftext|>é中 ".repeat(300) + &"x".repeat(5_000) + " the end";
        // on a reader thread and on the caller's own, every block size gives the file back and finds the bad byte
        for (block, background) in [1, 7, 64, 4_096, 1 << 20].into_iter().flat_map(|b| [(b, true), (b, false)]) {
            std::fs::write(path, &text).unwrap();
            let (mut joined, mut last) = (String::new(), 0);
            for_each_block(path, &specials, block, background, |t, done, size| {
                joined.push_str(t);
                assert_eq!((done, size), (joined.len(), text.len()), "progress counts bytes handed over");
                last = done;
            })
            .unwrap();
            assert_eq!((joined.as_str(), last), (text.as_str(), text.len()), "block {block}, {background}");
            let mut bad = text.clone().into_bytes();
            bad[4_321] = 0xff;
            std::fs::write(path, &bad).unwrap();
            let err = for_each_block(path, &specials, block, background, |_, _, _| {}).unwrap_err();
            assert!(matches!(err, Error::NotUtf8 { offset: 4_321, .. }), "block {block}, {background}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
