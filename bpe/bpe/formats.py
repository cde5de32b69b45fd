"""Tokenizer files: our `.model` (+ a human-readable `.vocab`), minbpe's, tiktoken's and HuggingFace's.

This module reads and writes plain data, as tiktoken's load.py does: mergeable ranks (token bytes -> id), merges,
special tokens, the split pattern and a name. It knows nothing of `Tokenizer`, which builds itself from what
`load_model` returns (a dict of its constructor's arguments, like tiktoken's `Encoding(**openai_public.gpt2())`)
and hands its fields to `save_model` and the exports.

Our `.model` format ("bpe v1"), one UTF-8 text file:

    bpe v1
    {"name": "shakespeare", "pattern": "...", "special_tokens": {"<|endoftext|>": 4095}}
    merges 3839
    101 32          <- merge 0: ids 101 and 32 make id 256
    ...

A tokenizer imported from tiktoken has ranks but no merges; it is saved with `ranks N` followed by N lines
`<base64 token bytes> <id>` instead (tiktoken's own file format). Loading checks the header, the counts and every
id, so a truncated or edited file fails loudly instead of encoding wrongly.

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
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scratch.files import atomic_write

from .encoding import merges_from_ranks, ranks_from_merges

VERSION = "bpe v1"
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
    lines = [VERSION, json.dumps(header, ensure_ascii=False)]
    if merges is not None:
        lines.append(f"merges {len(merges)}")
        lines += [f"{a} {b}" for a, b in merges]
    else:
        ranks = sorted(mergeable_ranks.items(), key=lambda kv: kv[1])
        lines.append(f"ranks {len(ranks)}")
        lines += [f"{base64.b64encode(t).decode()} {r}" for t, r in ranks]
    vocab_text = render_vocab(mergeable_ranks, special_tokens, merges)  # all rendered before anything is written
    model_path = prefix.with_name(prefix.name + ".model")
    atomic_write(model_path, "\n".join(lines) + "\n")
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
    """Read a `bpe v1`, `minbpe v1` or `simple-bpe v1` .model file, with errors that say what is wrong.

    Returns the Tokenizer's constructor arguments: mergeable_ranks, special_tokens, pattern, name and merges (None
    for a file that stores ranks).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {path} not found: train one with `python bpe/train.py --out PREFIX`")
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a tokenizer .model file (it is not UTF-8 text)") from None
    if lines and lines[-1] == "":
        lines.pop()
    version = lines[0].strip() if lines else ""
    try:
        if version == VERSION:
            return _parse_ours(lines)
        if version in MINBPE_VERSIONS:
            return _parse_minbpe(lines, path.stem)
    except (ValueError, IndexError, KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is malformed or truncated ({e}): re-save it or train again") from None
    raise ValueError(
        f"{path} is not a tokenizer .model file: its first line is {version[:40]!r}, expected {VERSION!r}, "
        f"{MINBPE_VERSIONS[0]!r} or {MINBPE_VERSIONS[1]!r}"
    )


def _spec(
    ranks: dict[bytes, int], specials: dict[str, int], pattern: str, name: str, merges: list[Pair] | None = None
) -> dict[str, Any]:
    return {"mergeable_ranks": ranks, "special_tokens": specials, "pattern": pattern, "name": name, "merges": merges}


def _parse_ours(lines: list[str]) -> dict[str, Any]:
    header = json.loads(lines[1])
    kind, count = lines[2].split()
    body = lines[3:]
    if len(body) != int(count):
        raise ValueError(f"header promises {count} {kind} but the file holds {len(body)}")
    specials = {str(k): int(v) for k, v in header["special_tokens"].items()}
    if kind == "merges":
        merges = [_int_pair(line) for line in body]
        return _spec(ranks_from_merges(merges), specials, header["pattern"], header["name"], merges)
    if kind == "ranks":
        ranks = {}
        for line in body:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        return _spec(ranks, specials, header["pattern"], header["name"])
    raise ValueError(f"unknown section {kind!r} (expected 'merges' or 'ranks')")


def _parse_minbpe(lines: list[str], name: str) -> dict[str, Any]:
    pattern = lines[1]
    n_special = int(lines[2])
    specials = {}
    for line in lines[3 : 3 + n_special]:
        token, idx = line.rsplit(" ", 1)
        specials[token] = int(idx)
    if len(specials) != n_special:
        raise ValueError(f"expected {n_special} special tokens, found {len(specials)}")
    merges = [_int_pair(line) for line in lines[3 + n_special :]]
    return _spec(ranks_from_merges(merges), specials, pattern, name, merges)


def _int_pair(line: str) -> tuple[int, int]:
    a, b = line.split()
    return int(a), int(b)


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


def _byte_to_unicode() -> dict[int, str]:
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
    b2u = _byte_to_unicode()
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
