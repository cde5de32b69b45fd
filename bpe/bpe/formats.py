"""Tokenizer files: our `.model` (+ a human-readable `.vocab`), minbpe's, tiktoken's and HuggingFace's.

This module reads and writes plain data, as tiktoken's load.py does: mergeable ranks (token bytes -> id), merges,
special tokens, the split pattern and a name. It knows nothing of `Tokenizer`, which builds itself from what
`load_model` returns (a dict of its constructor's arguments, like tiktoken's `Encoding(**openai_public.gpt2())`)
and hands its fields to `save_model` and the exports.

Our `.model` format ("bpe v2"), one UTF-8 text file:

    bpe v2 bytes=52431 sha256=9f86d0...      <- line 1: the length and sha256 of everything after this line
    {"name": "shakespeare", "pattern": "...", "special_tokens": {"<|endoftext|>": 4095}}
    merges 3839
    101 32          <- merge 0: ids 101 and 32 make id 256
    ...

A tokenizer imported from tiktoken has ranks but no merges; it is saved with `ranks N` followed by N lines
`<base64 token bytes> <id>` instead (tiktoken's own file format). Loading checks the length and the checksum first
(a truncated or corrupted file is an error naming the file, never a silently different tokenizer), then the header,
the counts and every id. `bpe v1` files (the same without line 1's length and checksum) still load; they are only
checked for their final newline, counts and ids, so a flipped digit in a v1 file goes unnoticed: re-save it
(`Tokenizer.load(p).save(prefix)`) to get the check.

`minbpe v1` and `simple-bpe v1` files (karpathy/minbpe and tokenizers derived from it) load too: line 1 the version,
line 2 the pattern, line 3 the number of special tokens, then `token id` lines, then merges `a b`.

    >>> from bpe import Tokenizer
    >>> tok = Tokenizer.train("to be or not to be " * 20, vocab_size=260, name="hamlet")
    >>> tok.save("out/hamlet")                   # = save_model("out/hamlet", tok.mergeable_ranks, ...)
    PosixPath('out/hamlet.model')
    >>> print(open("out/hamlet.model").read().splitlines()[2])
    merges 4
    >>> spec = load_model("out/hamlet.model")    # plain data: Tokenizer.load is Tokenizer(**spec)
    >>> sorted(spec), spec["name"]
    (['mergeable_ranks', 'merges', 'name', 'pattern', 'special_tokens'], 'hamlet')
    >>> Tokenizer(**spec).encode("to be") == tok.encode("to be")
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scratch.files import atomic_write

from .encoding import merges_from_ranks, ranks_from_merges

VERSION = "bpe v2"
VERSION_V1 = "bpe v1"  # no length or checksum: still read
MINBPE_VERSIONS = ("minbpe v1", "simple-bpe v1")
Pair = tuple[int, int]


# ------------------------------------------------------------------------------------------------ our format
def save_model(
    prefix: str | os.PathLike,
    mergeable_ranks: dict[bytes, int],
    special_tokens: dict[str, int],
    pattern: str,
    name: str,
    merges: Sequence[Pair] | None = None,
) -> Path:
    """Write PREFIX.model and PREFIX.vocab; returns the .model path. With merges, the file stores them (the ranks
    follow from them); without (a tokenizer imported from tiktoken), it stores the ranks."""
    prefix = Path(prefix)
    header = {"name": name, "pattern": pattern, "special_tokens": special_tokens}
    lines = [json.dumps(header, ensure_ascii=False)]
    if merges is not None:
        lines.append(f"merges {len(merges)}")
        lines += [f"{a} {b}" for a, b in merges]
    else:
        ranks = sorted(mergeable_ranks.items(), key=lambda kv: kv[1])
        lines.append(f"ranks {len(ranks)}")
        lines += [f"{base64.b64encode(t).decode()} {r}" for t, r in ranks]
    body = ("\n".join(lines) + "\n").encode("utf-8")
    first = f"{VERSION} bytes={len(body)} sha256={hashlib.sha256(body).hexdigest()}\n".encode()
    vocab_text = render_vocab(mergeable_ranks, special_tokens, merges)  # all rendered before anything is written
    model_path = prefix.with_name(prefix.name + ".model")
    atomic_write(model_path, first + body)
    atomic_write(prefix.with_name(prefix.name + ".vocab"), vocab_text)
    return model_path


def render_vocab(
    mergeable_ranks: dict[bytes, int], special_tokens: dict[str, int], merges: Sequence[Pair] | None = None
) -> str:
    """One line per token for people: `[a][b] -> [ab] id` for merges, `[token] id` otherwise (bytes shown safely)."""
    show = lambda b: b.decode("utf-8", errors="replace").encode("unicode_escape").decode("ascii")  # noqa: E731
    decoder = {i: t for t, i in mergeable_ranks.items()}
    decoder.update({i: s.encode("utf-8") for s, i in special_tokens.items()})
    out = []
    inverse = {256 + i: pair for i, pair in enumerate(merges or [])}
    for i in sorted(decoder):
        b = decoder[i]
        if i in inverse:
            a, c = inverse[i]
            out.append(f"[{show(decoder[a])}][{show(decoder[c])}] -> [{show(b)}] {i}")
        else:
            out.append(f"[{show(b)}] {i}")
    return "\n".join(out) + "\n"


def load_model(path: str | os.PathLike) -> dict[str, Any]:
    """Read a `bpe v2`, `bpe v1`, `minbpe v1` or `simple-bpe v1` .model file; any problem is a ValueError that names
    the file (and the line, where there is one).

    Returns the Tokenizer's constructor arguments: mergeable_ranks, special_tokens, pattern, name and merges (None
    for a file that stores ranks).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {path} not found: train one with `python bpe/train.py --out PREFIX`")
    data = path.read_bytes()
    first, _, body = data.partition(b"\n")
    version = first.decode("utf-8", "replace").strip()
    try:
        if version.split(" bytes=")[0] == VERSION:
            _check_integrity(version, body)
            return _parse_ours(_text_lines(body))
        if version == VERSION_V1:
            if not data.endswith(b"\n"):
                raise ValueError("it does not end with a newline, as every saved file does")
            return _parse_ours(_text_lines(body))
        if version in MINBPE_VERSIONS:
            return _parse_minbpe(_text_lines(data), path.stem)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is malformed or truncated ({e}): re-save it or train again") from None
    raise ValueError(
        f"{path} is not a tokenizer .model file: its first line is {version[:40]!r}, expected {VERSION!r}, "
        f"{VERSION_V1!r}, {MINBPE_VERSIONS[0]!r} or {MINBPE_VERSIONS[1]!r}"
    )


def _check_integrity(version: str, body: bytes) -> None:
    """Line 1 of a v2 file is `bpe v2 bytes=N sha256=HEX`: the body after it must have that length and digest."""
    match = re.fullmatch(re.escape(VERSION) + r" bytes=(\d+) sha256=([0-9a-f]{64})", version)
    if match is None:
        raise ValueError(f"line 1 should read '{VERSION} bytes=N sha256=HEX', not {version[:100]!r}")
    if len(body) != int(match[1]):
        raise ValueError(f"line 1 promises {match[1]} bytes after it but the file holds {len(body)}")
    if hashlib.sha256(body).hexdigest() != match[2]:
        raise ValueError("its sha256 differs from the one on line 1: the file is corrupted")


def _text_lines(data: bytes) -> list[str]:
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise ValueError(f"it is not UTF-8 text (invalid byte at offset {e.start})") from None
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _spec(
    ranks: dict[bytes, int], specials: dict[str, int], pattern: str, name: str, merges: list[Pair] | None = None
) -> dict[str, Any]:
    return {"mergeable_ranks": ranks, "special_tokens": specials, "pattern": pattern, "name": name, "merges": merges}


def _parse_ours(lines: list[str]) -> dict[str, Any]:
    """`lines` from the JSON header (line 2 of the file) on; the body's lines start at line 4."""
    header = json.loads(lines[0])
    kind, count = lines[1].split()
    body = lines[2:]
    if len(body) != int(count):
        raise ValueError(f"header promises {count} {kind} but the file holds {len(body)}")
    specials = {str(k): _int(v, f"special token {k!r}") for k, v in header["special_tokens"].items()}
    pattern, name = header["pattern"], header["name"]
    if not isinstance(pattern, str) or not isinstance(name, str):
        raise ValueError("the header's pattern and name must be strings")
    first_body_line = 4
    if kind == "merges":
        merges = [_merge(line, i, first_body_line + i) for i, line in enumerate(body)]
        return _spec(ranks_from_merges(merges), specials, pattern, name, merges)
    if kind == "ranks":
        ranks = {}
        for i, line in enumerate(body):
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = _int(rank, f"line {first_body_line + i}: rank")
        if len(ranks) != len(body):
            raise ValueError("a token appears twice in the ranks")
        return _spec(ranks, specials, pattern, name)
    raise ValueError(f"unknown section {kind!r} (expected 'merges' or 'ranks')")


def _parse_minbpe(lines: list[str], name: str) -> dict[str, Any]:
    pattern = lines[1]
    n_special = int(lines[2])
    specials = {}
    for line in lines[3 : 3 + n_special]:
        token, idx = line.rsplit(" ", 1)
        specials[token] = _int(idx, f"special token {token!r}")
    if len(specials) != n_special:
        raise ValueError(f"expected {n_special} special tokens, found {len(specials)}")
    first = 4 + n_special
    merges = [_merge(line, i, first + i) for i, line in enumerate(lines[3 + n_special :])]
    return _spec(ranks_from_merges(merges), specials, pattern, name, merges)


def _int(value: Any, what: str) -> int:
    """A non-negative id from text or JSON (not a float, a bool or '-3')."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} has id {value!r}: ids are integers >= 0")
    return value


def _merge(line: str, index: int, line_no: int) -> Pair:
    """Merge `index` (it makes id 256 + index) from its line: two ids that already exist."""
    parts = line.split(" ")
    if len(parts) != 2:
        raise ValueError(f"line {line_no}: a merge is two ids 'a b', not {line[:40]!r}")
    a, b = (_int(p, f"line {line_no}: merge") for p in parts)
    if a >= 256 + index or b >= 256 + index:
        raise ValueError(f"line {line_no}: merge ({a}, {b}) uses an id not made yet (ids so far: 0..{255 + index})")
    return a, b


# ------------------------------------------------------------------------------------------------ exports
def export_tiktoken(path: str | os.PathLike, mergeable_ranks: dict[bytes, int]) -> Path:
    """Write the ranks in tiktoken's file format: `tiktoken.load.load_tiktoken_bpe(path)` reads it.

    Build the Encoding with tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=load_tiktoken_bpe(path),
    special_tokens=special_tokens).
    """
    path = Path(path)
    ranks = sorted(mergeable_ranks.items(), key=lambda kv: kv[1])
    atomic_write(path, "".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks))
    return path


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, the alphabet HF byte-level BPE vocabularies are written in."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


# An atom (\p{..}, a [...] class, an escape or one char) followed by a possessive interval such as {1,3}+.
_POSSESSIVE_INTERVAL = re.compile(r"(\\[pP]\{\w+\}|\[(?:\\.|[^\]])*\]|\\.|[^\\()|])(\{\d+(?:,\d*)?\})\+")


def onig_pattern(pattern: str) -> str:
    """The split pattern in a form HF tokenizers' Oniguruma engine reads the same way.

    Oniguruma takes `X{1,3}+` as "X{1,3}, one or more times" (so `\\p{N}{1,3}+` swallows any run of digits),
    not as a possessive interval; `(?>X{1,3})` says "possessive" in both engines. For example
    `onig_pattern(r"\\p{N}{1,3}+|\\s+")` is `r"(?>\\p{N}{1,3})|\\s+"`.
    """
    return _POSSESSIVE_INTERVAL.sub(r"(?>\1\2)", pattern)


def export_hf(
    path: str | os.PathLike,
    mergeable_ranks: dict[bytes, int],
    special_tokens: dict[str, int],
    pattern: str,
    merges: Sequence[Pair] | None = None,
) -> Path:
    """Write a HuggingFace `tokenizers` tokenizer.json (Split by our pattern, byte-level BPE, ByteLevel decoder).

    Without merges (ranks imported from tiktoken) they are recovered from the ranks."""
    b2u = byte_to_unicode()
    enc = lambda b: "".join(b2u[x] for x in b)  # noqa: E731
    vocab = {enc(t): r for t, r in mergeable_ranks.items()}
    # Specials go in the model's vocab too: HF numbers an added token that is missing there as the next free id,
    # which is wrong when ids have gaps (cl100k_base has no token 100256).
    clash = sorted(set(special_tokens) & set(vocab))
    if clash:
        raise ValueError(f"cannot export to HF: special token(s) {clash} spell an ordinary token in HF's byte alphabet")
    vocab.update(special_tokens)
    if merges is not None:
        vocab_bytes = {i: t for t, i in mergeable_ranks.items()}
        hf_merges = [[enc(vocab_bytes[a]), enc(vocab_bytes[b])] for a, b in merges]
    else:
        hf_merges = [[enc(a), enc(b)] for a, b in merges_from_ranks(mergeable_ranks)]
    added = [
        {
            "id": i,
            "content": s,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for s, i in sorted(special_tokens.items(), key=lambda kv: kv[1])
    ]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": onig_pattern(pattern)}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            # tiktoken (and our engine) take a piece that is itself a token as is, before any merging
            "ignore_merges": True,
            "vocab": vocab,
            "merges": hf_merges,
        },
    }
    path = Path(path)
    atomic_write(path, json.dumps(spec, ensure_ascii=False))
    return path
