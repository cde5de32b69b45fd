"""The three training loaders that read token shards (sequential, shuffle-shards, global).

The shard format (manifest.json, val_00000.bin, train_00001.bin, ...) is in gpt2/shards.py, written by
`python gpt-2/prepare.py`.

Loaders cut each shard into non-overlapping windows of T+1 tokens (x = w[:-1], y = w[1:]; a shard of n tokens has
(n - 1) // T windows, its last < T tokens are not used). An epoch is an order of all W windows of the split; the
loader reads the endless stream epoch 0 ++ epoch 1 ++ ... and each next_batch() call consumes the next
world_size * B windows of it, rank r taking the r-th block of B. So every window is read exactly once per epoch across
all ranks, nothing stops early and nothing is dropped: when W is not a multiple of world_size * B the last batch of an
epoch is completed with the first windows of the next epoch's order. The position in that stream is the same on every
rank, so one rank's state_dict() resumes all of them (also under another world size or batch size).

    loader = make_loader("global", "data/shakespeare", batch_size=8, seq_len=256)
    x, y = loader.next_batch()            # LongTensors (8, 256)
    state = loader.state_dict()           # {"kind": "global", "epoch": 0, "position": 8, "seed": 0, ...}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gpt2.shards import DTYPES, open_shard, read_manifest, split_shards

KINDS = ("sequential", "shuffle-shards", "global")


# ----------------------------------------------------------------------------------------------------------------
# loaders


class WindowLoader:
    """Base of the three loaders: the stream of windows, rank slicing, gathering, state. Subclasses say where the
    j-th window of epoch e lives (`_locate`) and over which token array (`_tokens`)."""

    kind = ""

    def __init__(
        self,
        data_dir,
        batch_size: int,
        seq_len: int,
        split: str = "train",
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
    ):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size ({batch_size}) and seq_len ({seq_len}) must be positive")
        self.data_dir = Path(data_dir)
        self.manifest = read_manifest(data_dir)
        self.shards = split_shards(self.manifest, split, data_dir)
        self.B, self.T, self.split = batch_size, seq_len, split
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.eot = self.manifest["eot_token"]
        self.mmaps = [open_shard(self.data_dir, s, self.manifest["dtype"]) for s in self.shards]
        self.windows = np.array([(len(mm) - 1) // seq_len if len(mm) > 0 else 0 for mm in self.mmaps], np.int64)
        self.W = int(self.windows.sum())  # windows per epoch, all ranks together
        biggest = max(s["tokens"] for s in self.shards)
        if self.W < world_size * batch_size:
            raise ValueError(
                f"B x T too large for this data: the {split} split ({len(self.shards)} shards, the "
                f"largest {biggest} tokens) has {self.W} windows of T+1={seq_len + 1} tokens but one step"
                f" takes world_size x B = {world_size * batch_size}: lower --batch-size/--seq-len or "
                f"prepare more data"
            )
        self.batches_per_epoch = -(-self.W // (world_size * batch_size))  # ceil: every window at least once
        self.pos = 0  # windows of the stream consumed by all ranks together

    # --- what subclasses define
    def _locate(self, epoch: int, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard index, token offset) of windows j (indices into epoch `epoch`'s order)."""
        raise NotImplementedError

    def _tokens(self, epoch: int, shard: int) -> np.ndarray:
        return self.mmaps[shard]

    # --- the stream
    @property
    def epoch(self) -> int:
        return self.pos // self.W

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next (x, y) of this rank, LongTensors (B, T) on CPU; y is x shifted by one token."""
        start = self.pos + self.rank * self.B
        s = start + np.arange(self.B, dtype=np.int64)  # stream indices of this rank's windows
        buf = np.empty((self.B, self.T + 1), dtype=DTYPES[self.manifest["dtype"]])
        epochs = s // self.W
        for e in np.unique(epochs):  # one epoch, or two at an epoch boundary
            rows = np.flatnonzero(epochs == e)
            shard, off = self._locate(int(e), s[rows] - e * self.W)
            for r, sh, o in zip(rows.tolist(), shard.tolist(), off.tolist()):
                buf[r] = self._tokens(int(e), sh)[o : o + self.T + 1]
        self.pos += self.world_size * self.B
        # the int64 copies in numpy: torch would spread them over its intra-op threads, which on a busy machine
        # can wait tens of ms for a preempted thread
        return (
            torch.from_numpy(buf[:, :-1].astype(np.int64, order="C")),
            torch.from_numpy(buf[:, 1:].astype(np.int64, order="C")),
        )

    def _seq_locate(self, windows: np.ndarray, order: np.ndarray | None, j: np.ndarray):
        """Windows j of an epoch that reads shards in `order` (None = as listed), each shard's windows in turn."""
        counts = windows if order is None else windows[order]
        cum = np.concatenate([[0], np.cumsum(counts)])
        slot = np.searchsorted(cum, j, side="right") - 1
        shard = slot if order is None else order[slot]
        return shard, (j - cum[slot]) * self.T

    # --- state
    def state_dict(self) -> dict:
        """JSON-able state: kind, epoch, position (windows into the epoch, all ranks together), seed, and what must
        match on resume."""
        return {
            "kind": self.kind,
            "epoch": self.epoch,
            "position": self.pos % self.W,
            "seed": self.seed,
            "seq_len": self.T,
            "windows": self.W,
            "split": self.split,
            "tokenizer_hash": self.manifest["tokenizer_hash"],
        }

    def load_state_dict(self, d: dict) -> None:
        """Resume exactly where state_dict() was taken (same data, kind and seq_len; B and world size may differ)."""
        for key, mine in (
            ("kind", self.kind),
            ("seq_len", self.T),
            ("split", self.split),
            ("windows", self.W),
            ("tokenizer_hash", self.manifest["tokenizer_hash"]),
        ):
            if key in d and d[key] != mine:
                raise ValueError(
                    f"loader state has {key}={d[key]!r} but this loader has {mine!r}: resume with the "
                    f"same data directory, loader kind and seq_len"
                )
        self.seed = int(d["seed"])
        self.pos = int(d["epoch"]) * self.W + int(d["position"])
        self._reset_caches()

    def _reset_caches(self) -> None:
        pass


class SequentialLoader(WindowLoader):
    """The baseline: shards in order, each read front to back in contiguous windows, the same order every epoch."""

    kind = "sequential"

    def _locate(self, epoch, j):
        return self._seq_locate(self.windows, None, j)


class ShuffleShardsLoader(WindowLoader):
    """The periodicity fix, as the original's code (commit 6061123) has it: the shard order is shuffled once (from the
    seed) and kept every epoch; each time a shard is read, its documents are in a new order (from (seed, epoch,
    shard)); windows are then read contiguously from the reshuffled shard. (The original's README says the shard
    order is reshuffled; its code shuffles it once at start-up.)

    A reshuffled shard is built in memory once per epoch when first needed (a copy of its tokens; the two most
    recent are kept, e.g. 2 x 200 MB for 100M-token uint16 shards)."""

    kind = "shuffle-shards"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._doc_starts: dict[int, np.ndarray] = {}
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def shard_order(self, epoch: int) -> np.ndarray:
        """The same every epoch: the original shuffles its shard list once."""
        return np.random.default_rng([self.seed]).permutation(len(self.shards))

    def doc_order(self, epoch: int, shard: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, shard]).permutation(len(self._starts(shard)))

    def _starts(self, shard: int) -> np.ndarray:
        """Where each document of a shard starts (at its end-of-text token; leading tokens count as a document)."""
        if shard not in self._doc_starts:
            starts = np.flatnonzero(np.asarray(self.mmaps[shard]) == self.eot)
            if len(starts) == 0 or starts[0] != 0:
                starts = np.concatenate([[0], starts])
            self._doc_starts[shard] = starts
        return self._doc_starts[shard]

    def _locate(self, epoch, j):
        return self._seq_locate(self.windows, self.shard_order(epoch), j)

    def _tokens(self, epoch, shard):
        key = (epoch, shard)
        if key not in self._cache:
            mm = self.mmaps[shard]
            starts = self._starts(shard)
            ends = np.append(starts[1:], len(mm))
            order = self.doc_order(epoch, shard)
            self._cache[key] = np.concatenate([mm[starts[d] : ends[d]] for d in order])
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _reset_caches(self):
        self._cache.clear()


class GlobalLoader(WindowLoader):
    """Global shuffling: a permutation of all W windows of all shards, new every epoch from (seed, epoch)."""

    kind = "global"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._perms: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cum = np.concatenate([[0], np.cumsum(self.windows)])

    def permutation(self, epoch: int) -> np.ndarray:
        """Epoch e's order of window ids (int32 while W < 2^31 to halve its memory: 40 MB for 10B tokens)."""
        if epoch not in self._perms:
            dtype = np.int32 if self.W < 2**31 else np.int64
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.W).astype(dtype)
            while len(self._perms) > 2:
                self._perms.popitem(last=False)
        return self._perms[epoch]

    def _locate(self, epoch, j):
        w = self.permutation(epoch)[j].astype(np.int64)  # window ids in shard-major order
        shard = np.searchsorted(self._cum, w, side="right") - 1
        return shard, (w - self._cum[shard]) * self.T

    def _reset_caches(self):
        self._perms.clear()


LOADERS = {cls.kind: cls for cls in (SequentialLoader, ShuffleShardsLoader, GlobalLoader)}


def make_loader(
    kind: str,
    data_dir,
    batch_size: int,
    seq_len: int,
    split: str = "train",
    rank: int = 0,
    world_size: int = 1,
    seed: int = 0,
) -> WindowLoader:
    """A training loader: kind is sequential | shuffle-shards | global (see the module docstring)."""
    if kind not in LOADERS:
        raise ValueError(f"unknown loader {kind!r}: use one of {', '.join(KINDS)}")
    return LOADERS[kind](data_dir, batch_size, seq_len, split=split, rank=rank, world_size=world_size, seed=seed)


def iter_eval_batches(
    data_dir,
    batch_size: int,
    seq_len: int,
    split: str = "val",
    rank: int = 0,
    world_size: int = 1,
    max_batches: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) over the split's non-overlapping windows in order, the same every call, for val loss.

    Every rank yields the same number of batches (so a DDP all-reduce after each matches up): the
    floor(W / (world_size * B)) full global batches, at most max_batches of them; the last W mod (world_size * B)
    windows are not evaluated."""
    loader = SequentialLoader(data_dir, batch_size, seq_len, split=split, rank=rank, world_size=world_size)
    n = loader.W // (world_size * batch_size)
    if max_batches is not None:
        n = min(n, max_batches)
    for _ in range(n):
        yield loader.next_batch()
