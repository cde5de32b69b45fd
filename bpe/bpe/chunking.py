"""Where a corpus can be cut so that each piece pre-tokenizes exactly as it would inside the whole text.

Parallel counting (Python and Rust) and streaming encoders cut the text into chunks. A cut is *safe* when no
pre-token and no special token straddles it:
  - right after a special token (specials are split out before the regex runs), or
  - between an ASCII letter and a space that is followed by an ASCII letter ("a|b c" -> "a" | " b c"): with the GPT-2,
    cl100k and o200k patterns a letter run always ends before a space and " b..." always starts a new piece.

    >>> find_safe_cut(b"hello world", 3, [])
    5
    >>> find_safe_cut(b"x<|endoftext|>y", 0, [b"<|endoftext|>"])
    14

bpe-rs/src/chunk.rs implements the same rule; the tests compare counts across both and against an uncut run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SAFE_SPACE = re.compile(rb"(?<=[A-Za-z]) (?=[A-Za-z])")


def find_safe_cut(data: bytes, start: int, specials: Sequence[bytes], window: int = 1 << 20) -> int | None:
    """First safe cut at or after `start` (within `window` bytes), or None when there is none."""
    end = min(len(data), start + window)
    best = None
    for special in specials:
        i = data.find(special, start, end + len(special))
        if i != -1 and (best is None or i + len(special) < best):
            best = i + len(special)
    m = _SAFE_SPACE.search(data, start, end)
    if m is not None and (best is None or m.start() < best) and not _inside_special(data, m.start(), specials):
        best = m.start()
    return best


def _inside_special(data: bytes, pos: int, specials: Sequence[bytes]) -> bool:
    """True when some occurrence of a special token spans position `pos` (a special containing ' ')."""
    for special in specials:
        if b" " not in special:
            continue
        lo = max(0, pos - len(special))
        i = data.find(special, lo, pos + len(special))
        while i != -1 and i < pos:
            if i + len(special) > pos:
                return True
            i = data.find(special, i + 1, pos + len(special))
    return False


def chunk_bounds(data: bytes, n_chunks: int, specials: Sequence[bytes]) -> list[int]:
    """Offsets [0, c1, ..., len(data)] splitting data into at most n_chunks safely cut pieces."""
    bounds = [0]
    step = max(1, len(data) // max(1, n_chunks))
    for k in range(1, n_chunks):
        target = max(k * step, bounds[-1])
        cut = find_safe_cut(data, target, specials)
        if cut is None or cut <= bounds[-1] or cut >= len(data):
            continue
        bounds.append(cut)
    bounds.append(len(data))
    return bounds
