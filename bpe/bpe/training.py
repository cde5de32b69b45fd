"""BPE training in pure Python: the naive textbook trainer (the oracle) and an optimized one with identical merges.

    >>> merges = train_naive("aaab aaab", vocab_size=258)
    >>> merges  # (a, a) occurs most; then (aa, a) and (a, b) tie at 2, and b"aa" > b"a" decides
    [(97, 97), (256, 97)]

Token ids 0..255 are the raw bytes; merge i creates id 256 + i. Special tokens get the ids after the merges and never
take part in training: they are split out of the text first.

Tie rule (the same in every trainer here, Python and Rust): among the pairs with the highest count, the winner is the
lexicographically greatest pair, comparing the first token's bytes, then the second token's bytes. It makes training
deterministic whatever the order in which pairs were counted.

Run `python bpe/train.py --help` for the command line; bench/bpe_train.py times the trainers against each other.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from .chunking import chunk_bounds
from .patterns import GPT2_PATTERN, pretokenize, resolve_pattern, split_special

Pair = tuple[int, int]


# ---------------------------------------------------------------------------------------------- shared pieces
def num_merges_for(vocab_size: int, special_tokens: Sequence[str] = ()) -> int:
    """How many merges make a vocab of `vocab_size` ids: 256 bytes + merges + special tokens."""
    n = vocab_size - 256 - len(special_tokens)
    if n < 0:
        raise ValueError(
            f"vocab size {vocab_size} is too small: it must be at least 256 (one id per byte) plus "
            f"{len(special_tokens)} special token(s) = {256 + len(special_tokens)}; pass a larger --vocab-size"
        )
    return n


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair` in `ids`, left to right, with `new_id`."""
    out, i, a, b = [], 0, pair[0], pair[1]
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def best_pair(counts: dict[Pair, int], vocab: dict[int, bytes]) -> Pair:
    """The pair with the highest count; ties go to the greatest (first bytes, second bytes)."""
    return max(counts, key=lambda p: (counts[p], vocab[p[0]], vocab[p[1]]))


def ordinary_segments(text: str, special_tokens: Sequence[str]) -> list[str]:
    """The text between special tokens (the specials themselves are dropped: they never take part in merges)."""
    specials = set(special_tokens)
    return [part for part in split_special(text, special_tokens) if part not in specials]


# ---------------------------------------------------------------------------------------------- naive trainer
def train_naive(
    text: str, vocab_size: int, pattern: str = GPT2_PATTERN, special_tokens: Sequence[str] = (), verbose: bool = False
) -> list[Pair]:
    """The textbook trainer: after every merge, recount every pair in every pre-token of the corpus."""
    chunks = [
        list(piece.encode("utf-8"))
        for segment in ordinary_segments(text, special_tokens)
        for piece in pretokenize(segment, pattern)
    ]
    vocab = {i: bytes([i]) for i in range(256)}
    merges: list[Pair] = []
    for step in range(num_merges_for(vocab_size, special_tokens)):
        counts: Counter[Pair] = Counter()
        for ids in chunks:
            counts.update(zip(ids, ids[1:]))
        if not counts:
            break  # every pre-token is a single token: nothing left to merge
        pair = best_pair(counts, vocab)
        new_id = 256 + step
        chunks = [merge(ids, pair, new_id) for ids in chunks]
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        merges.append(pair)
        if verbose:
            print(f"merge {step + 1}: {pair} -> {new_id} ({vocab[new_id]!r}) had {counts[pair]} occurrences")
    return merges


# ---------------------------------------------------------------------------------------------- counting pre-tokens
def count_pretokens(text: str, pattern: str = GPT2_PATTERN, special_tokens: Sequence[str] = ()) -> Counter[bytes]:
    """How often each distinct pre-token (as UTF-8 bytes) occurs in the text, special tokens excluded."""
    counts: Counter[bytes] = Counter()
    for segment in ordinary_segments(text, special_tokens):
        counts.update(piece.encode("utf-8") for piece in pretokenize(segment, pattern))
    return counts


def _count_file_range(args: tuple[str, int, int, str, tuple[str, ...]]) -> Counter[bytes]:
    path, start, end, pattern, specials = args
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    return count_pretokens(decode_utf8(data, path, start), pattern, specials)


def decode_utf8(data: bytes, source: str | os.PathLike = "<text>", offset: int = 0) -> str:
    """Decode UTF-8 or raise a ValueError that says where the bad byte is and what to do."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{source} is not UTF-8 text (invalid byte 0x{data[e.start]:02x} at byte offset {offset + e.start}): "
            f"convert it first, e.g. `iconv -f latin1 -t utf-8 {source} > {Path(str(source)).stem}.utf8.txt`"
        ) from None


def count_pretokens_file(
    path: str | os.PathLike,
    pattern: str = GPT2_PATTERN,
    special_tokens: Sequence[str] = (),
    workers: int | None = None,
) -> Counter[bytes]:
    """Count pre-tokens of a UTF-8 file in parallel over chunks cut at safe boundaries (see chunking.py)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {path} not found: check the path")
    data = path.read_bytes()
    workers = workers or os.cpu_count() or 1
    bounds = chunk_bounds(data, workers * 4, [s.encode() for s in special_tokens])
    del data
    jobs = [(str(path), a, b, resolve_pattern(pattern), tuple(special_tokens)) for a, b in zip(bounds, bounds[1:])]
    counts: Counter[bytes] = Counter()
    if workers == 1 or len(jobs) == 1:
        parts: Iterable[Counter[bytes]] = map(_count_file_range, jobs)
    else:
        pool = ProcessPoolExecutor(workers)
        parts = pool.map(_count_file_range, jobs)
    for part in tqdm(parts, total=len(jobs), desc="pre-tokenizing", unit="chunk", leave=False):
        counts.update(part)
    if workers > 1 and len(jobs) > 1:
        pool.shutdown()
    return counts


# ---------------------------------------------------------------------------------------------- optimized trainer
class _Desc:
    """Wraps bytes so that heapq (a min-heap) pops the lexicographically *greatest* first (the tie rule)."""

    __slots__ = ("b",)

    def __init__(self, b: bytes):
        self.b = b

    def __lt__(self, other: _Desc) -> bool:
        return other.b < self.b

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.b == other.b


def train_counts(word_counts: dict[bytes, int], num_merges: int, progress: bool = False) -> list[Pair]:
    """Merges from unique pre-tokens and their counts, updating pair counts incrementally.

    Each merge touches only the words that contain the merged pair (found through `where`), subtracting their old
    pairs and adding their new ones; a heap keyed by (-count, bytes...) with lazy deletion finds the next winner.
    """
    words = [list(w) for w in word_counts]
    freqs = list(word_counts.values())
    vocab = {i: bytes([i]) for i in range(256)}
    counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        for pair in zip(w, w[1:]):
            counts[pair] += freqs[i]
            where[pair].add(i)
    heap = [(-c, _Desc(vocab[a]), _Desc(vocab[b]), (a, b)) for (a, b), c in counts.items()]
    heapq.heapify(heap)

    merges: list[Pair] = []
    for step in tqdm(range(num_merges), desc="merging", unit="merge", disable=not progress, leave=False):
        pair = _pop_best(heap, counts)
        if pair is None:
            break  # nothing left to merge
        new_id = 256 + step
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        merges.append(pair)
        delta: dict[Pair, int] = defaultdict(int)
        for i in where.pop(pair):
            old = words[i]
            new = merge(old, pair, new_id)
            if len(new) == len(old):
                continue  # a stale entry: this word no longer holds the pair
            f = freqs[i]
            for p in zip(old, old[1:]):
                delta[p] -= f
            for p in zip(new, new[1:]):
                delta[p] += f
                where[p].add(i)
            words[i] = new
        del counts[pair]
        delta.pop(pair, None)
        for p, d in delta.items():
            if d:
                counts[p] += d
                if counts[p] > 0:
                    heapq.heappush(heap, (-counts[p], _Desc(vocab[p[0]]), _Desc(vocab[p[1]]), p))
                else:
                    del counts[p]
    return merges


def _pop_best(heap: list, counts: dict[Pair, int]) -> Pair | None:
    """Pop heap entries until one matches the pair's current count (older entries are stale)."""
    while heap:
        neg, _, _, pair = heapq.heappop(heap)
        if counts.get(pair) == -neg:
            return pair
    return None


def train_fast(
    text: str | None = None,
    vocab_size: int = 512,
    pattern: str = GPT2_PATTERN,
    special_tokens: Sequence[str] = (),
    path: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> list[Pair]:
    """The optimized pure-Python trainer: same merges as train_naive, from a string or (in parallel) a file."""
    num_merges = num_merges_for(vocab_size, special_tokens)
    if path is not None:
        word_counts = count_pretokens_file(path, pattern, special_tokens, workers)
    else:
        word_counts = count_pretokens(text or "", pattern, special_tokens)
    return train_counts(word_counts, num_merges, progress)
