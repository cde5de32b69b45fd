"""Rank-based BPE encoding in pure Python: the readable reference the Rust engine (bpe-rs) is checked against.

Encoding a pre-token repeatedly merges the adjacent pair whose concatenation has the lowest rank, leftmost first,
until no adjacent pair forms a token. This is tiktoken's rule; for a trained tokenizer the rank of a token is its id.

    >>> ranks = {bytes([i]): i for i in range(256)} | {b"aa": 256, b"ab": 257}
    >>> bpe_encode(b"aab", ranks)  # "aa" has the lower rank, so it wins over "ab"
    [256, 98]
"""

from __future__ import annotations

from collections.abc import Sequence

Pair = tuple[int, int]


def bpe_encode(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Token ids of one pre-token under `ranks` (bytes -> rank)."""
    token = ranks.get(piece)
    if token is not None:
        return [token]  # whole piece is a token: the common case for frequent words
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best_i, best_rank = -1, None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_i, best_rank = i, rank
        if best_rank is None:
            break
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [ranks[p] for p in parts]


def ranks_from_merges(merges: Sequence[Pair]) -> dict[bytes, int]:
    """Byte ids 0..255 then one token per merge, ranked (and numbered) in merge order."""
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        if a >= len(vocab) or b >= len(vocab):
            raise ValueError(f"merge ({a}, {b}) refers to a token that does not exist yet (only {len(vocab)} so far)")
        vocab.append(vocab[a] + vocab[b])
    return {token: i for i, token in enumerate(vocab)}


def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """Recover each multi-byte token's merge (left bytes, right bytes) by BPE over lower-ranked tokens only.

    Needed to export tiktoken-style vocabularies (which store ranks, not merges) to merge-based formats.
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) == 1:
            continue
        lower = _LowerRanks(ranks, rank)
        parts = [token[i : i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best = min(range(len(parts) - 1), key=lambda i: lower.get(parts[i] + parts[i + 1], float("inf")))
            if lower.get(parts[best] + parts[best + 1]) is None:
                break
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) cannot be built from two lower-ranked tokens")
        merges.append((parts[0], parts[1]))
    return merges


class _LowerRanks:
    """A view of `ranks` restricted to ranks below `limit` (avoids copying 100k-entry dicts per token)."""

    def __init__(self, ranks: dict[bytes, int], limit: int):
        self.ranks, self.limit = ranks, limit

    def get(self, key: bytes, default=None):
        r = self.ranks.get(key)
        return r if r is not None and r < self.limit else default
