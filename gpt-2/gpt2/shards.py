"""Token shards on disk: the format that `python gpt-2/prepare.py` writes and every reader checks (no torch here).

A shard directory:

    DIR/manifest.json       tokenizer spec + hash, dtype, eot_token, vocab_size, and per shard: file, split, tokens,
                            docs, bytes (UTF-8 bytes of the documents' text, for bits per byte)
    DIR/val_00000.bin       the first shard is the validation split
    DIR/train_00001.bin ... the training split

A shard file is a 256-byte header (magic, version, itemsize, token/doc/byte counts, the tokenizer's sha256) and then
the tokens, uint16 (uint32 when the vocab needs it). Every document starts with the end-of-text token and a shard
holds whole documents. The header lets `read_manifest` catch a shard whose dtype, length or tokenizer disagrees with
the manifest, or a truncated one, by reading 256 bytes per shard.

    m = read_manifest("data/shakespeare")             # checks every shard's header and size
    val = open_shard("data/shakespeare", m["shards"][0], m["dtype"])   # read-only memory-mapped tokens

The loaders that turn shards into training batches are in gpt2/data.py.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from scratch.files import atomic_open, atomic_write

MANIFEST = "manifest.json"
MAGIC = b"GPT2SHRD"
VERSION = 1
HEADER_BYTES = 256
# magic, version, itemsize, tokens, docs, bytes, sha256 of the tokenizer
_HEADER = struct.Struct("<8sIIQQQ32s")
DTYPES = {"uint16": np.uint16, "uint32": np.uint32}


# ----------------------------------------------------------------------------------------------------------------
# dtype, tokenizer hash, shard files and manifest


def dtype_for_vocab(vocab_size: int, dtype: str = "auto") -> str:
    """The shard dtype for a vocab: uint16 when every id fits, else uint32; an explicit dtype is checked."""
    need = "uint16" if vocab_size <= 2**16 else "uint32"
    if dtype == "auto":
        return need
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: use auto, uint16 or uint32")
    if dtype == "uint16" and need == "uint32":
        raise ValueError(f"a vocab of {vocab_size} ids does not fit uint16 (max 65536): use --dtype uint32 or auto")
    return dtype


def tokenizer_hash(spec: str, tok) -> str:
    """sha256 (hex) naming a tokenizer's exact vocabulary: of the .model file, else of pattern, ranks and specials."""
    path = Path(spec)
    if path.suffix == ".model" and path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    h = hashlib.sha256()
    # bpe.Tokenizer and tiktoken.Encoding hold the same vocabulary under different names: hash it the same way
    ranks = getattr(tok, "mergeable_ranks", None) or getattr(tok, "_mergeable_ranks", None)
    if ranks is not None:
        h.update((getattr(tok, "pattern", None) or tok._pat_str).encode())
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            h.update(rank.to_bytes(4, "little") + len(token).to_bytes(2, "little") + token)
        specials = getattr(tok, "special_tokens", None) or tok._special_tokens
        for name, rank in sorted(specials.items()):
            h.update(rank.to_bytes(4, "little") + name.encode())
        return h.hexdigest()
    for i in range(tok.n_vocab):  # any other tokenizer: the bytes of every id
        try:
            h.update(tok.decode_single_token_bytes(i) + b"\0")
        except (KeyError, ValueError):
            h.update(b"\1")
    return h.hexdigest()


def write_shard(path: Path, tokens: np.ndarray, docs: int, nbytes: int, tok_hash: str) -> None:
    """Write header + tokens atomically (temp file, then rename): a shard file is either whole or absent."""
    header = _HEADER.pack(MAGIC, VERSION, tokens.dtype.itemsize, len(tokens), docs, nbytes, bytes.fromhex(tok_hash))
    with atomic_open(path) as f:
        f.write(header.ljust(HEADER_BYTES, b"\0"))
        f.write(np.ascontiguousarray(tokens).tobytes())


def read_header(path: Path) -> dict:
    """The header of a shard file (clear error when it is not one)."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if len(raw) < HEADER_BYTES or raw[:8] != MAGIC:
        raise ValueError(f"{path} is not a gpt2 token shard (bad header): rerun prepare.py to rewrite it")
    magic, version, itemsize, tokens, docs, nbytes, digest = _HEADER.unpack_from(raw)
    if version != VERSION:
        raise ValueError(f"{path}: shard format version {version}, this code reads {VERSION}: rerun prepare.py")
    return {"itemsize": itemsize, "tokens": tokens, "docs": docs, "bytes": nbytes, "tokenizer_hash": digest.hex()}


def write_manifest(data_dir: Path, manifest: dict) -> None:
    """Write manifest.json atomically (temp file, then rename)."""
    atomic_write(Path(data_dir) / MANIFEST, json.dumps(manifest, indent=1) + "\n")


def read_manifest(data_dir: str | Path, allow_incomplete: bool = False, check_shards: bool = True) -> dict:
    """Read DIR/manifest.json and check every shard file against it (header and size); clear errors."""
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: write token shards first with `python gpt-2/prepare.py --out {data_dir} ...`"
        )
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}): rerun prepare.py") from None
    missing = [k for k in ("tokenizer", "tokenizer_hash", "dtype", "eot_token", "vocab_size", "shards") if k not in m]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: not a gpt2 shard manifest; rerun prepare.py")
    if m["dtype"] not in DTYPES:
        raise ValueError(f"{path}: unknown dtype {m['dtype']!r} (expected uint16 or uint32)")
    if m["dtype"] == "uint16" and m["vocab_size"] > 2**16:
        raise ValueError(f"{path}: vocab_size {m['vocab_size']} does not fit dtype uint16: rerun prepare.py")
    if not m.get("complete", True) and not allow_incomplete:
        raise ValueError(
            f"{data_dir}: prepare.py did not finish ({len(m['shards'])} shards so far): rerun the same "
            f"prepare.py command to resume it"
        )
    for i in range(len(m["shards"]) if check_shards else 0):
        check_shard(data_dir, m, i)
    return m


def check_shard(data_dir: Path, m: dict, i: int) -> None:
    """Check shard i's file against the manifest: split, presence, header (dtype, tokenizer, length), size."""
    s, path = m["shards"][i], Path(data_dir) / MANIFEST
    if s["split"] != ("val" if i == 0 else "train"):
        raise ValueError(
            f"{path}: shard {i} ({s['file']}) has split {s['split']!r}; the first shard is val, the others train"
        )
    f = Path(data_dir) / s["file"]
    if not f.is_file():
        raise FileNotFoundError(
            f"shard {f} listed in {path} is missing: rerun prepare.py with the same arguments to rewrite it"
        )
    h = read_header(f)
    if h["itemsize"] != np.dtype(m["dtype"]).itemsize:
        raise ValueError(
            f"{f} holds {8 * h['itemsize']}-bit tokens but the manifest says {m['dtype']}: it comes "
            f"from another prepare run; rerun prepare.py into a fresh --out"
        )
    if h["tokenizer_hash"] != m["tokenizer_hash"]:
        raise ValueError(
            f"{f} was written with another tokenizer than the manifest's {m['tokenizer']!r}: "
            f"rerun prepare.py into a fresh --out"
        )
    if h["tokens"] != s["tokens"]:
        raise ValueError(f"{f} holds {h['tokens']} tokens but the manifest says {s['tokens']}: rerun prepare.py")
    size, want = f.stat().st_size, HEADER_BYTES + s["tokens"] * np.dtype(m["dtype"]).itemsize
    if size != want:
        raise ValueError(
            f"{f} is {'truncated' if size < want else 'too long'}: {size} bytes, expected {want}; "
            f"rerun prepare.py with the same arguments to rewrite it"
        )


def open_shard(data_dir: Path, shard: dict, dtype: str) -> np.ndarray:
    """A read-only array over a shard's tokens, memory-mapped (the OS pages them in on demand). A plain ndarray view
    of the memmap: slicing an np.memmap costs microseconds of subclass bookkeeping per slice."""
    if shard["tokens"] == 0:
        return np.empty(0, dtype=DTYPES[dtype])
    return np.memmap(
        Path(data_dir) / shard["file"], dtype=DTYPES[dtype], mode="r", offset=HEADER_BYTES, shape=(shard["tokens"],)
    ).view(np.ndarray)


def bytes_per_token(data_dir: str | Path, split: str = "val") -> float:
    """UTF-8 bytes of text per token of a split (bits per byte = loss / ln 2 / bytes_per_token)."""
    shards = split_shards(read_manifest(data_dir), split, data_dir)
    return sum(s["bytes"] for s in shards) / sum(s["tokens"] for s in shards)


def split_shards(m: dict, split: str, data_dir) -> list[dict]:
    """The manifest's shards of one split ("train" or "val"); a clear error when there are none."""
    if split not in ("train", "val"):
        raise ValueError(f"unknown split {split!r}: use train or val")
    shards = [s for s in m["shards"] if s["split"] == split]
    if not shards:
        raise ValueError(
            f"{data_dir} has no {split} shard ({len(m['shards'])} shards in all; the first is val): "
            f"prepare more data or a smaller --shard-tokens"
        )
    return shards
