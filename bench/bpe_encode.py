"""Encoding and decoding benchmarks: bpe-rs against tiktoken, quicktok, bpe-openai and HF tokenizers, same ranks.

    python bench/bpe_encode.py            # gpt2, cl100k_base, o200k_base; 10 MB of Gutenberg and multilingual.txt
    python bench/bpe_encode.py --full     # also the whole 73 MB Gutenberg corpus
    python bench/bpe_encode.py --encodings o200k_base --runs 5
    python bench/bpe_encode.py --warm     # no encoder forgets what it remembered in the previous run

Same machine, same run, same text, same thread count; median of --runs rounds, each of which times every encoder of a
setting once, in rotating order (a slow minute on a shared VM slows all alike). Before timing, every encoder's output is
asserted equal to tiktoken's. Three modes: "whole text, 1 thread" encodes the corpus as one string; "8 KB documents,
1 thread" makes one call per piece of about 8 KB (the per-call cost matters); "batch, all cores" encodes a list of
pieces of at most 64 KB (its documents, split on <|endoftext|>, cut at line ends) in parallel. bpe-openai refuses
inputs of 1M characters or more and HF tokenizers is slow on one huge string by design, so neither runs whole text.
quicktok (no gpt2 ranks) returns its batch as flat numpy arrays, like our encode_ordinary_batch_to_numpy
("bpe-rs (numpy)"); "bpe-rs" returns lists, like tiktoken. HF tokenizers loads the tokenizer.json our exporter writes
(tested to give tiktoken's ids). Three encoders remember work across calls: bpe-rs its merges (bpe-rs/src/cache.rs),
quicktok a memo of pair validity (2^21 slots on x86, shared by its threads, kept by the Tokenizer), HF tokenizers
its word cache. Before every timed run each forgets it (bpe-rs clears its cache, quicktok's Tokenizer is built
anew, HF's cache is cleared), so each run is a first pass over the text, not a replay of the previous run;
--warm skips that, and every encoder then replays.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
import tempfile
from collections.abc import Callable

from common import corpus_slice, interleaved_medians, machine, markdown_table, median_time, plot_bpe, save_results

EOT = "<|endoftext|>"
TEN_MB = 10 * 1024 * 1024
PIECE_CHARS = 1 << 16
DOC_CHARS = 1 << 13


def batch_pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """The text's documents (split on <|endoftext|>) cut at line ends into pieces of about `size` chars at most."""
    pieces = []
    for doc in filter(None, text.split(EOT)):
        piece = ""
        for line in re.split(r"(?<=\n)", doc):
            if piece and len(piece) + len(line) > size:
                pieces.append(piece)
                piece = ""
            piece += line
        pieces.append(piece)
    return pieces


def map_list(fn: Callable, items: list) -> list:
    """[fn(x) for x in items]: one call per document."""
    return [fn(x) for x in items]


def flat_to_lists(ids, offsets) -> list[list[int]]:
    """A flat (ids, offsets) batch as one list of ids per text, to compare with tiktoken's batch."""
    return [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


def encoders(name: str, threads: int) -> dict[str, dict[str, Callable]]:
    """{label: {"one": encode a string, "batch": encode a list, "decode": ids to bytes}}; a missing key: not offered."""
    import bpe_openai
    import quicktok
    import tiktoken
    from tokenizers import Tokenizer as HFTokenizer

    from bpe import Tokenizer
    from bpe.formats import export_hf

    ours = Tokenizer.from_tiktoken(name)
    tik = tiktoken.get_encoding(name)
    with tempfile.TemporaryDirectory() as d:
        path = export_hf(
            os.path.join(d, "tokenizer.json"), ours.mergeable_ranks, ours.special_tokens, ours.pattern, ours.merges
        )
        hf = HFTokenizer.from_file(str(path))
    found = {  # "reset": called before each timed run, so no encoder replays what it remembered from the last run
        "bpe-rs": {
            "one": ours.encode_ordinary,
            "batch": lambda docs: ours.encode_ordinary_batch(docs, num_threads=threads),
            "decode": ours.decode_bytes,
            "reset": ours.clear_cache,
        },
        "bpe-rs (numpy)": {
            "batch": lambda docs: ours.encode_ordinary_batch_to_numpy(docs, num_threads=threads),
            "reset": ours.clear_cache,
        },
        "tiktoken": {
            "one": tik.encode_ordinary,
            "batch": lambda docs: tik.encode_ordinary_batch(docs, num_threads=threads),
            "decode": tik.decode_bytes,
        },
        "HF tokenizers": {  # on one huge string HF is slow and single-threaded by design: documents and batch only
            "doc": lambda t: hf.encode(t, add_special_tokens=False).ids,
            "batch": lambda docs: [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)],
            "reset": hf.model._clear_cache,
        },
    }
    try:  # bpe-openai ships cl100k_base and o200k_base only, and refuses inputs of 1M characters or more
        gh = bpe_openai.get_encoding(name)
        found["bpe-openai"] = {
            "doc": gh.encode_ordinary,
            "batch": lambda docs: gh.encode_ordinary_batch(docs, num_threads=threads),
        }
    except ValueError:
        pass
    try:  # quicktok ships cl100k_base and o200k_base (not gpt2); its batch returns flat numpy arrays
        qt = [quicktok.Tokenizer(name, "")]  # its validity memo lives as long as the Tokenizer: reset builds anew

        def forget() -> None:
            qt[0] = quicktok.Tokenizer(name, "")

        found["quicktok"] = {
            "one": lambda t: qt[0].encode_ordinary(t),
            "batch": lambda docs: qt[0].encode_batch(docs, threads=threads),
            "decode": lambda ids: qt[0].decode_bytes(ids),
            "reset": forget,
        }
    except RuntimeError:
        pass
    return found


def bench_corpus(
    label: str, text: str, name: str, runs: int, threads: int, python_ref: bool, warm: bool = False
) -> list[dict]:
    """MB/s of every encoder in three modes: the whole text as one string (1 thread), one call per ~8 KB document
    (1 thread), and a batch of ~64 KB pieces (all cores); plus decoding. Ids asserted equal to tiktoken's first."""
    batch_docs, small_docs = batch_pieces(text), batch_pieces(text, DOC_CHARS)
    nbytes = len(text.encode("utf-8"))
    rows = []
    encs = encoders(name, threads)
    tik = encs["tiktoken"]
    want, want_batch = tik["one"](text), tik["batch"](batch_docs)
    want_small = [tik["one"](d) for d in small_docs]

    def same_batch(out) -> bool:
        return (flat_to_lists(*out) if isinstance(out, tuple) else out) == want_batch

    # setting -> {encoder: (encode, check)}: every encoder of a setting is checked, then timed in the same rounds
    cases: dict[str, dict[str, tuple[Callable, Callable]]] = {}
    for enc, api in encs.items():
        one, doc = api.get("one"), api.get("doc", api.get("one"))
        if one:
            cases.setdefault("whole text, 1 thread", {})[enc] = (functools.partial(one, text), lambda ids: ids == want)
        if doc:
            every_doc = functools.partial(map_list, doc, small_docs)
            cases.setdefault("8 KB documents, 1 thread", {})[enc] = (every_doc, lambda ids: ids == want_small)
        cases.setdefault("batch, all cores", {})[enc] = (functools.partial(api["batch"], batch_docs), same_batch)
        if "decode" in api:
            cases.setdefault("decode", {})[enc] = (functools.partial(api["decode"], want), lambda b: b == text.encode())
    secs = {}
    for setting, found in cases.items():
        for enc, (fn, check) in found.items():
            assert check(fn()), f"{enc} ({setting}) ids differ from tiktoken's on {label}"
        timed = {enc: (fn, None if warm else encs[enc].get("reset")) for enc, (fn, _) in found.items()}
        secs.update({(enc, setting): s for enc, s in interleaved_medians(timed, runs).items()})
    for enc in encs:  # rows in the order of the tables: by encoder, then setting
        for setting in cases:
            if (enc, setting) in secs:
                row = {"encoder": enc, "setting": f"{name}, {setting}", "corpus": label}
                rows.append(row | {"mb_per_s": nbytes / secs[enc, setting] / 1e6})
                print(rows[-1], file=sys.stderr)
    if python_ref:
        from bpe import Tokenizer

        py = Tokenizer.from_tiktoken(name, backend="python")
        sample = text[:1_000_000]
        secs, ids = median_time(lambda: py.encode_ordinary(sample), 1, warmup=0)
        assert ids == tik["one"](sample)
        rows.append(
            {
                "encoder": "bpe (python reference)",
                "setting": f"{name}, whole text, 1 thread",
                "corpus": label + " (1 MB)",
                "mb_per_s": len(sample.encode()) / secs / 1e6,
            }
        )
    return rows


def pathological(runs: int) -> list[list[object]]:
    """Milliseconds to encode runs of one character, text without spaces, NUL bytes and back-to-back special tokens
    as the input grows 10x at a time (about 10x more time is linear); ids asserted equal to tiktoken's."""
    import tiktoken

    from bpe import Tokenizer

    ours, tik = Tokenizer.from_tiktoken("cl100k_base"), tiktoken.get_encoding("cl100k_base")
    makers = {
        "one char ('a' * n)": lambda n: "a" * n,
        "one non-ASCII char ('é' * n)": lambda n: "é" * n,
        "no spaces ('xyz...')": lambda n: ("xyzw" * n)[:n],
        "NUL bytes": lambda n: "\x00" * n,
        "<|endoftext|> * n/13": lambda n: "<|endoftext|>" * (n // 13),
    }
    rows = []
    for label, make in makers.items():
        allowed = "all" if "endoftext" in label else set()
        for n in (10_000, 100_000, 1_000_000):
            text = make(n)
            ours_s, ids = median_time(
                lambda t=text, a=allowed: ours.encode(t, allowed_special=a), runs, before=ours.clear_cache
            )
            tik_s, want = median_time(lambda t=text, a=allowed: tik.encode(t, allowed_special=a), runs)
            assert ids == want
            rows.append([label, f"{n:,}", f"{ours_s * 1e3:.1f}", f"{tik_s * 1e3:.1f}"])
    return rows


def ratio(rows: list[dict], r: dict, other: str) -> str:
    """r's MB/s over `other`'s in the same corpus and setting ("" when `other` was not measured there)."""
    same = [x for x in rows if x["encoder"] == other and (x["corpus"], x["setting"]) == (r["corpus"], r["setting"])]
    return f"{r['mb_per_s'] / same[0]['mb_per_s']:.2f}x" if same else ""


def goals(rows: list[dict]) -> list[list[str]]:
    """Per corpus and setting: our best encoder's MB/s and its ratio to tiktoken and quicktok."""
    out = []
    for corpus, setting in dict.fromkeys((r["corpus"], r["setting"]) for r in rows):
        ours = [
            r for r in rows if r["corpus"] == corpus and r["setting"] == setting and r["encoder"].startswith("bpe-rs")
        ]
        if ours:
            best = max(ours, key=lambda r: r["mb_per_s"])
            out.append(
                [
                    corpus,
                    setting,
                    f"{best['mb_per_s']:.1f}",
                    ratio(rows, best, "tiktoken"),
                    ratio(rows, best, "quicktok"),
                ]
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--full", action="store_true", help="also the whole 73 MB corpus")
    p.add_argument("--pathological", action="store_true", help="only the long-run scaling table")
    p.add_argument("--warm", action="store_true", help="no reset between runs: every encoder replays its memory")
    p.add_argument(
        "--encodings", nargs="+", default=["gpt2", "cl100k_base", "o200k_base"], help="tiktoken rank sets to measure"
    )
    args = p.parse_args()
    if args.pathological:
        print(markdown_table(["input", "chars", "bpe-rs ms", "tiktoken ms"], pathological(args.runs)))
        return
    corpora = {
        "gutenberg 10 MB": corpus_slice("gutenberg-en.txt", TEN_MB),
        "multilingual 12 MB": corpus_slice("multilingual.txt"),
    }
    if args.full:
        corpora["gutenberg 73 MB"] = corpus_slice("gutenberg-en.txt")
    rows = []
    for name in args.encodings:
        for i, (label, text) in enumerate(corpora.items()):
            rows += bench_corpus(label, text, name, args.runs, args.threads, python_ref=(i == 0), warm=args.warm)
    table = [
        [
            r["corpus"],
            r["setting"],
            r["encoder"],
            f"{r['mb_per_s']:.1f}",
            ratio(rows, r, "tiktoken"),
            ratio(rows, r, "quicktok"),
        ]
        for r in rows
    ]
    memory = "warm: encoders keep what they remembered" if args.warm else "each run a first pass"
    print(f"# BPE encoding benchmarks ({machine()}, {args.threads} threads for 'all cores', {memory})\n")
    print(markdown_table(["corpus", "ranks, setting", "encoder", "MB/s", "vs tiktoken", "vs quicktok"], table))
    print("\n## bpe-rs against the goals (>= 4x tiktoken, >= 1.5x quicktok; batch: the faster of lists and numpy)\n")
    print(markdown_table(["corpus", "ranks, setting", "bpe-rs MB/s", "vs tiktoken", "vs quicktok"], goals(rows)))
    if args.warm:  # the plot shows first passes only
        return
    plotted = "cl100k_base" if "cl100k_base" in args.encodings else args.encodings[0]
    saved = [r for r in rows if r["corpus"] == "gutenberg 10 MB" and r["setting"].startswith(plotted + ",")]
    save_results("bpe_encode", {"encoding": [r for r in saved if "decode" not in r["setting"]]})
    plot = plot_bpe()
    if plot:
        print(f"\nplot: {plot}")


if __name__ == "__main__":
    main()
