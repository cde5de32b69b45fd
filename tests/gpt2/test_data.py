"""Loaders (gpt2/data.py) and manifest checks (gpt2/shards.py) on small shard directories whose tokens name their
own position.

Every token of a synthetic shard is unique (its global position + 1) except the end-of-text token 0 that opens each
document, so a window's first non-eot token says exactly which window it is: the oracle for coverage, disjointness
and order. Loaders look at token values only to find documents (the eot token), so this is the real code path.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gpt2.data import KINDS, iter_eval_batches, make_loader
from gpt2.shards import HEADER_BYTES, bytes_per_token, read_manifest, write_manifest, write_shard

EOT = 0
HASH = "ab" * 32


def make_shards(root, lengths, doc_len=(2, 9), seed=0, dtype="uint32"):
    """A shard dir: shard i has lengths[i] tokens, documents of random length, tokens = position + 1 except eot."""
    rng = np.random.default_rng(seed)
    shards, pos = [], 0
    root.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(lengths):
        tokens = np.arange(pos + 1, pos + n + 1, dtype=np.int64)
        starts, p = [], 0
        while p < n:
            starts.append(p)
            p += int(rng.integers(*doc_len))
        if n - starts[-1] < 2 and len(starts) > 1:  # every document has >= 2 tokens
            starts.pop()
        tokens[starts] = EOT
        split = "val" if i == 0 else "train"
        shards.append(
            {"file": f"{split}_{i:05d}.bin", "split": split, "tokens": n, "docs": len(starts), "bytes": 3 * n}
        )
        write_shard(root / shards[-1]["file"], tokens.astype(dtype), len(starts), 3 * n, HASH)
        pos += n
    write_manifest(
        root,
        {
            "tokenizer": "synthetic",
            "tokenizer_hash": HASH,
            "dtype": dtype,
            "eot_token": EOT,
            "vocab_size": pos + 1,
            "complete": True,
            "shards": shards,
        },
    )
    return root


def shard_tokens(root):
    m = read_manifest(root)
    return [np.fromfile(root / s["file"], dtype=m["dtype"], offset=HEADER_BYTES).astype(np.int64) for s in m["shards"]]


def window_key(x: torch.Tensor) -> np.ndarray:
    """The first non-eot token of each row (a window never holds two eots in a row: documents have >= 2 tokens)."""
    x = x.numpy()
    return np.where(x[:, 0] != EOT, x[:, 0], x[:, 1])


# train shards: 37, 100, 61 and 8 tokens (the last is shorter than T+1 = 9: no window); with T=8 that makes
# 4 + 12 + 7 = 23 windows, which 3 ranks x B=4 = 12 per step do not divide: the wrap case.
LENGTHS = [50, 37, 100, 61, 8]
T, B = 8, 4


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_shards(tmp_path_factory.mktemp("shards"), LENGTHS)


def expected_windows(data):
    """Window starts (global token position + 1 of x[0]) of the train split in shard-major order."""
    starts = []
    pos = LENGTHS[0]
    for n in LENGTHS[1:]:
        starts += [pos + o for o in range(0, n - T, T) if o + T + 1 <= n]
        pos += n
    return np.array(starts)


def stream(kind, data, world, steps, seed=0, batch=B):
    """The windows all ranks read, in stream order (step, rank, row), each as its full (T+1)-token array."""
    loaders = [make_loader(kind, data, batch, T, rank=r, world_size=world, seed=seed) for r in range(world)]
    rows = []
    for _ in range(steps):
        for ld in loaders:
            x, y = ld.next_batch()
            assert x.shape == (batch, T) and x.dtype == torch.long
            assert torch.equal(x[:, 1:], y[:, :-1])
            rows.append(torch.cat([x, y[:, -1:]], 1).numpy())
    return np.concatenate(rows), loaders[0]


@pytest.mark.parametrize("kind", ["sequential", "global"])
@pytest.mark.parametrize("world", [1, 3])
def test_every_window_once_per_epoch(data, kind, world):
    W = len(expected_windows(data))
    rows, ld = stream(kind, data, world, steps=3 * (-(-W // (world * B))) + 1)
    assert ld.W == W == 23 and ld.batches_per_epoch == -(-W // (world * B))
    toks = np.concatenate(shard_tokens(data))
    starts = []
    for r in rows:  # locate each window by its unique token and check it is the source slice
        k = r[0] if r[0] != EOT else r[1]
        s = k - 1 if r[0] != EOT else k - 2
        np.testing.assert_array_equal(r, toks[s : s + T + 1])
        starts.append(s)
    starts = np.array(starts)
    orders = [starts[e * W : (e + 1) * W] for e in range(3)]
    for order in orders:  # each epoch: every window exactly once, nothing dropped
        np.testing.assert_array_equal(np.sort(order), expected_windows(data))
    if kind == "sequential":
        for order in orders:
            np.testing.assert_array_equal(order, expected_windows(data))
    else:
        assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


@pytest.mark.parametrize("kind", KINDS)
def test_ranks_disjoint_and_union_is_the_global_stream(data, kind):
    """Ranks of a step read disjoint windows (but for the step that wraps into the next epoch, whose windows of the
    new epoch may repeat ones of the old); 3 ranks x B=4 read exactly what 1 rank with B=12 reads."""
    three, _ = stream(kind, data, world=3, steps=4)
    one, _ = stream(kind, data, world=1, steps=4, batch=12)
    np.testing.assert_array_equal(three, one)
    epoch = np.arange(len(three)) // 23
    for step in range(4):
        for e in (0, 1, 2):
            keys = [tuple(r) for r, ep in zip(three[step * 12 : (step + 1) * 12], epoch[step * 12 :]) if ep == e]
            assert len(set(keys)) == len(keys)


def test_shuffle_shards_reorders_documents_not_shards(data):
    """Every epoch: shards in blocks in one order fixed by the seed (the original's code shuffles its shard list once),
    each block a new permutation of that shard's documents, read front to back with every window once."""
    W = 23
    rows, ld = stream("shuffle-shards", data, world=1, steps=3 * 6)
    shards = shard_tokens(data)[1:]
    bounds = np.cumsum([0] + LENGTHS)[1:]  # token values of shard i lie in (bounds[i], bounds[i+1]]

    def shard_of(r):
        k = r[0] if r[0] != EOT else r[1]
        return int(np.searchsorted(bounds, k, side="left")) - 1

    shard_orders, doc_orders = [], []
    for e in range(3):
        epoch = rows[e * W : (e + 1) * W]
        ids = [shard_of(r) for r in epoch]
        blocks = [ids[0]] + [b for a, b in zip(ids, ids[1:]) if b != a]
        assert sorted(blocks) == [0, 1, 2]  # each shard with windows is one contiguous block
        shard_orders.append(blocks)
        for s in blocks:
            got = np.concatenate([r[:T] for r, i in zip(epoch, ids) if i == s])
            src = shards[s]
            docs = np.split(src, np.flatnonzero(src == EOT)[1:])
            assert len(got) == (len(src) - 1) // T * T
            # the read tokens are whole documents of this shard, each once, in some order, then a prefix of one
            pieces = np.split(got, np.flatnonzero(got == EOT)[1:])
            if len(pieces[-1]) == 1:  # the prefix is just the eot of the next document
                pieces = pieces[:-1]
            first = {int(d[1]): d for d in docs}
            seen = [int(p[1]) for p in pieces]
            assert len(set(seen)) == len(seen)
            for p in pieces[:-1]:
                np.testing.assert_array_equal(p, first[int(p[1])])
            np.testing.assert_array_equal(pieces[-1], first[int(pieces[-1][1])][: len(pieces[-1])])
            doc_orders.append((e, s, seen))
    per_shard = {s: [o for e, s2, o in doc_orders if s2 == s] for s in range(3)}
    assert any(o[0] != o[1] for o in per_shard.values())  # a new document order each epoch
    assert shard_orders[0] == shard_orders[1] == shard_orders[2]  # the shard order repeats every epoch
    assert shard_orders[0] == [int(i) for i in ld.shard_order(0) if LENGTHS[1 + i] > T]


@pytest.mark.parametrize("kind", ["shuffle-shards", "global"])
def test_seed_decides_the_order(data, kind):
    a, _ = stream(kind, data, world=1, steps=6, seed=1)
    b, _ = stream(kind, data, world=1, steps=6, seed=1)
    c, _ = stream(kind, data, world=1, steps=6, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_mid_epoch_gives_the_same_batches(data, kind):
    world, first, then = 2, 5, 9  # 5 steps of 8 windows = 40: past the first epoch boundary (W = 23)
    ref = [make_loader(kind, data, B, T, rank=r, world_size=world, seed=7) for r in range(world)]
    for _ in range(first):
        for ld in ref:
            ld.next_batch()
    state = json.loads(json.dumps(ref[0].state_dict()))  # JSON round trip, as in a checkpoint
    assert state["epoch"] == 1 and state["position"] == 40 - 23 and state["seed"] == 7
    assert all(ld.state_dict() == ref[0].state_dict() for ld in ref)
    resumed = [make_loader(kind, data, B, T, rank=r, world_size=world, seed=0) for r in range(world)]
    for ld in resumed:
        ld.load_state_dict(state)
        assert ld.epoch == 1
    for _ in range(then):
        for a, b in zip(ref, resumed):
            xa, ya = a.next_batch()
            xb, yb = b.next_batch()
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_resume_refuses_other_data_or_kind(data, tmp_path):
    state = make_loader("global", data, B, T).state_dict()
    with pytest.raises(ValueError, match="kind"):
        make_loader("sequential", data, B, T).load_state_dict(state)
    other = make_shards(tmp_path / "other", [50, 80, 80])
    with pytest.raises(ValueError, match="windows"):
        make_loader("global", other, B, T).load_state_dict(state)


def test_eval_batches_cover_val_in_order_and_ranks_agree(data):
    val = shard_tokens(data)[0]  # 50 tokens: 6 windows of T+1
    one = list(iter_eval_batches(data, 2, T))
    assert len(one) == 3
    x = torch.cat([b[0] for b in one]).numpy()
    np.testing.assert_array_equal(x.reshape(-1), val[: 6 * T])
    two = [list(iter_eval_batches(data, 2, T, rank=r, world_size=2)) for r in range(2)]
    assert len(two[0]) == len(two[1]) == 1  # 6 windows // (2 ranks x 2): the same count on every rank
    np.testing.assert_array_equal(torch.cat([two[0][0][0], two[1][0][0]]).numpy(), x[:4])
    assert len(list(iter_eval_batches(data, 2, T, max_batches=2))) == 2
    again = list(iter_eval_batches(data, 2, T))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(one, again))


def test_bytes_per_token(data):
    assert bytes_per_token(data) == 3.0 and bytes_per_token(data, "train") == 3.0


# ---------------------------------------------------------------------------------------------------------------
# bad input: clear errors


def test_missing_manifest_says_run_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare.py"):
        read_manifest(tmp_path)


def _corrupt(tmp_path, how):
    root = make_shards(tmp_path / "d", [50, 60], dtype="uint16")
    m = json.loads((root / "manifest.json").read_text())
    f = root / m["shards"][1]["file"]
    if how == "truncated":
        f.write_bytes(f.read_bytes()[:-10])
    elif how == "dtype":
        write_shard(f, np.arange(60, dtype=np.uint32), 1, 3, HASH)
    elif how == "tokenizer":
        write_shard(f, np.arange(60, dtype=np.uint16), 1, 3, "cd" * 32)
    elif how == "length":
        write_shard(f, np.arange(61, dtype=np.uint16), 1, 3, HASH)
    elif how == "vocab":
        m["vocab_size"] = 100_000
        write_manifest(root, m)
    elif how == "incomplete":
        m["complete"] = False
        write_manifest(root, m)
    elif how == "not a shard":
        f.write_bytes(b"\0" * 400)
    return root, f


@pytest.mark.parametrize(
    "how, match",
    [
        ("truncated", "truncated"),
        ("dtype", "16|32"),
        ("tokenizer", "tokenizer"),
        ("length", "61 tokens"),
        ("vocab", "does not fit"),
        ("incomplete", "did not finish"),
        ("not a shard", "not a gpt2 token shard"),
    ],
)
def test_shard_disagreeing_with_manifest_is_a_clear_error(tmp_path, how, match):
    root, f = _corrupt(tmp_path, how)
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    with pytest.raises(ValueError, match=match):
        make_loader("global", root, 2, 4)
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before  # nothing overwritten


def test_batch_larger_than_the_data_is_a_clear_error(data):
    with pytest.raises(ValueError, match="B x T too large"):
        make_loader("sequential", data, 4, 64)  # no shard holds 65 tokens
    with pytest.raises(ValueError, match="B x T too large"):
        make_loader("global", data, 20, T, world_size=2)  # 23 windows < 2 x 20
    with pytest.raises(ValueError, match="unknown loader"):
        make_loader("random", data, 2, T)
    with pytest.raises(ValueError, match="rank"):
        make_loader("global", data, 2, T, rank=2, world_size=2)
