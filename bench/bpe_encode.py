"""Encoding and decoding benchmarks: bpe-rs against tiktoken, bpe-openai and HF tokenizers on the same ranks.

    python bench/bpe_encode.py            # gpt2 and cl100k_base ranks, 10 MB of Gutenberg, multilingual.txt
    python bench/bpe_encode.py --full     # also the whole 73 MB Gutenberg corpus
    python bench/bpe_encode.py --encodings o200k_base    # GPT-4o's ranks

Same machine, same run, same text, same thread count; median of --runs. Before timing, every encoder's ids are
asserted equal to tiktoken's. "1 thread" encodes the text as one string; "all cores" encodes it as a batch of
pieces of at most 64 KB (its documents, split on <|endoftext|>, cut at line ends), so that the cores share the work
evenly and bpe-openai (which refuses inputs of 1M characters or more) takes part. HF tokenizers loads the
tokenizer.json our exporter writes (tested to give tiktoken's ids).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile

from common import corpus_slice, machine, markdown_table, median_time, plot_bpe, save_results

EOT = "<|endoftext|>"
TEN_MB = 10 * 1024 * 1024
PIECE_CHARS = 1 << 16


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


def encoders(name: str, threads: int):
    """{label: (encode one string, encode a batch, decode ids to bytes)} for one set of ranks."""
    import bpe_openai
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
    found = {
        "bpe-rs": (
            ours.encode_ordinary,
            lambda docs: ours.encode_ordinary_batch(docs, num_threads=threads),
            ours.decode_bytes,
        ),
        "tiktoken": (
            tik.encode_ordinary,
            lambda docs: tik.encode_ordinary_batch(docs, num_threads=threads),
            tik.decode_bytes,
        ),
        "HF tokenizers": (
            lambda t: hf.encode(t, add_special_tokens=False).ids,
            lambda docs: [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)],
            lambda ids: hf.decode(ids).encode(),
        ),
    }
    try:  # bpe-openai ships cl100k_base and o200k_base only
        gh = bpe_openai.get_encoding(name)
        found["bpe-openai"] = (
            gh.encode_ordinary,
            lambda docs: gh.encode_ordinary_batch(docs, num_threads=threads),
            gh.decode_bytes,
        )
    except ValueError:
        pass
    return found


def bench_corpus(label: str, text: str, name: str, runs: int, threads: int, python_ref: bool) -> list[dict]:
    docs = batch_pieces(text)
    nbytes = len(text.encode("utf-8"))
    doc_bytes = sum(len(d.encode("utf-8")) for d in docs)
    rows = []
    encs = encoders(name, threads)
    want = encs["tiktoken"][0](text)
    want_docs = encs["tiktoken"][1](docs)
    for enc, (one, batch, decode) in encs.items():
        # HF on one huge string is slow and single-threaded by design, and bpe-openai refuses one:
        # both are measured on the batch only.
        if enc not in ("HF tokenizers", "bpe-openai"):
            assert one(text) == want, f"{enc} ids differ from tiktoken's on {label}"
            secs, _ = median_time(lambda one=one: one(text), runs)
            rows.append(
                {"encoder": enc, "setting": f"{name}, 1 thread", "corpus": label, "mb_per_s": nbytes / secs / 1e6}
            )
        assert batch(docs) == want_docs, f"{enc} batch ids differ from tiktoken's on {label}"
        secs, _ = median_time(lambda batch=batch: batch(docs), runs)
        rows.append(
            {"encoder": enc, "setting": f"{name}, all cores", "corpus": label, "mb_per_s": doc_bytes / secs / 1e6}
        )
        if enc in ("bpe-rs", "tiktoken"):
            assert decode(want) == text.encode("utf-8")
            secs, _ = median_time(lambda decode=decode: decode(want), runs)
            rows.append(
                {"encoder": enc, "setting": f"{name}, decode", "corpus": label, "mb_per_s": nbytes / secs / 1e6}
            )
        print(rows[-1], file=sys.stderr)
    if python_ref:
        from bpe import Tokenizer

        py = Tokenizer.from_tiktoken(name, backend="python")
        sample = text[:1_000_000]
        secs, ids = median_time(lambda: py.encode_ordinary(sample), 1, warmup=0)
        assert ids == encs["tiktoken"][0](sample)
        rows.append(
            {
                "encoder": "bpe (python reference)",
                "setting": f"{name}, 1 thread",
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
        "no spaces ('xyz...')": lambda n: ("xyzw" * n)[:n],
        "NUL bytes": lambda n: "\x00" * n,
        "<|endoftext|> * n/13": lambda n: "<|endoftext|>" * (n // 13),
    }
    rows = []
    for label, make in makers.items():
        allowed = "all" if "endoftext" in label else set()
        for n in (10_000, 100_000, 1_000_000):
            text = make(n)
            ours_s, ids = median_time(lambda t=text, a=allowed: ours.encode(t, allowed_special=a), runs)
            tik_s, want = median_time(lambda t=text, a=allowed: tik.encode(t, allowed_special=a), runs)
            assert ids == want
            rows.append([label, f"{n:,}", f"{ours_s * 1e3:.1f}", f"{tik_s * 1e3:.1f}"])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--full", action="store_true", help="also the whole 73 MB corpus")
    p.add_argument("--pathological", action="store_true", help="only the long-run scaling table")
    p.add_argument(
        "--encodings", nargs="+", default=["gpt2", "cl100k_base"], help="tiktoken rank sets (o200k_base too)"
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
            rows += bench_corpus(label, text, name, args.runs, args.threads, python_ref=(i == 0))
    table = []
    for r in rows:
        base = next(
            (
                x["mb_per_s"]
                for x in rows
                if x["encoder"] == "tiktoken" and x["setting"] == r["setting"] and x["corpus"] == r["corpus"]
            ),
            None,
        )
        table.append(
            [
                r["corpus"],
                r["setting"],
                r["encoder"],
                f"{r['mb_per_s']:.1f}",
                f"{r['mb_per_s'] / base:.2f}x" if base else "",
            ]
        )
    print(f"# BPE encoding benchmarks ({machine()}, {args.threads} threads for 'all cores')\n")
    print(markdown_table(["corpus", "ranks, setting", "encoder", "MB/s", "vs tiktoken"], table))
    save_results("bpe_encode", {"encoding": [r for r in rows if r["corpus"] == "gutenberg 10 MB"]})
    plot = plot_bpe()
    if plot:
        print(f"\nplot: {plot}")


if __name__ == "__main__":
    main()
