"""Training benchmarks: the Python trainers against each other, and bpe-rs against rustbpe and HF tokenizers.

    python bench/bpe_train.py                 # everything (the naive trainer alone takes a few minutes)
    python bench/bpe_train.py --skip-naive --runs 3
    python bench/bpe_train.py --big-only          # 16,384 tokens on the 2.6 GB corpus of bench/big_corpus.py

Every trainer runs in its own child process (so peak RSS is its own), on the same text, with the GPT-2 split
pattern and all cores; times are medians over --runs. Merges are compared inside the run: Rust == optimized Python
is asserted; competitors (whose tie rules differ) report how many leading merges equal ours.

At scale (--big / --big-only) each trainer streams the corpus from disk once: bpe-rs reads the file itself
(Tokenizer.train(path=...)); rustbpe and HF tokenizers get an iterator of pieces of at most ~64 KB cut at safe
points (bpe/bpe/chunking.py) with <|endoftext|> removed, so all three count the same pre-tokens.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from big_corpus import DEFAULT_OUT as BIG_CORPUS
from big_corpus import check as check_big_corpus
from bpe.chunking import chunk_bounds
from common import corpus_slice, machine, markdown_table, median_time, plot_bpe, save_results
from scratch.cli import run

EOT = "<|endoftext|>"
TEN_MB = 10 * 1024 * 1024
BIG_VOCAB = 16384
TRAINERS = ("bpe-rs", "rustbpe", "HF tokenizers")


# ------------------------------------------------------------------------------------------------ child process
def hf_tokenizer(vocab: int, show_progress: bool):
    """An untrained HF byte-level BPE with the GPT-2 split, and its trainer for `vocab` tokens."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    from bpe import GPT2_PATTERN

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    return tk, trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=alphabet, show_progress=show_progress)


def child(trainer: str, corpus: str, max_bytes: int, vocab: int, runs: int) -> dict:
    """Train in this process; print JSON with median seconds, peak RSS and the merges' token bytes."""
    text = corpus_slice(corpus, max_bytes or None)
    docs = [d for d in text.split(EOT) if d]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n_merges = vocab - 256
    if trainer == "bpe-rs":
        from bpe import GPT2_PATTERN, Tokenizer

        fn = lambda: Tokenizer.train(text, vocab + 1, GPT2_PATTERN, [EOT])  # noqa: E731  (+1: the special id)
        secs, tok = median_time(fn, runs, warmup=0)
        merged = [tok.token_bytes(256 + i) for i in range(len(tok.merges))]
    elif trainer == "bpe (python)":
        from bpe import GPT2_PATTERN, Tokenizer

        fn = lambda: Tokenizer.train(text, vocab + 1, GPT2_PATTERN, [EOT], trainer="python")  # noqa: E731
        secs, tok = median_time(fn, runs, warmup=0)
        merged = [tok.token_bytes(256 + i) for i in range(len(tok.merges))]
    elif trainer == "rustbpe":
        import rustbpe

        from bpe import GPT2_PATTERN

        def fn():
            t = rustbpe.Tokenizer()
            t.train_from_iterator(iter(docs), vocab, pattern=GPT2_PATTERN)
            return t

        secs, t = median_time(fn, runs, warmup=0)
        ranks = sorted(t.get_mergeable_ranks(), key=lambda kv: kv[1])
        merged = [bytes(b) for b, r in ranks if r >= 256]
    elif trainer == "HF tokenizers":

        def fn():
            tk, tr = hf_tokenizer(vocab, show_progress=False)
            tk.train_from_iterator(docs, tr)
            return tk

        secs, tk = median_time(fn, runs, warmup=0)
        merged = None  # HF's vocabulary is in its own byte alphabet; compared by size only
        n_merges = tk.get_vocab_size() - 256
    else:
        raise SystemExit(f"unknown trainer {trainer}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "trainer": trainer,
        "corpus": corpus,
        "bytes": len(text.encode()),
        "vocab": vocab,
        "seconds": secs,
        "peak_rss_mb": peak / 1024,
        "extra_rss_mb": (peak - base_rss) / 1024,
        "n_merges": n_merges,
        "merges": [m.hex() for m in merged] if merged is not None else None,
    }


# ------------------------------------------------------------------------------------------------ training at scale
def stream_pieces(path: Path, block: int = 1 << 20, piece: int = 1 << 16):
    """The text in ~`piece`-byte pieces cut at safe points, <|endoftext|> removed; one block in memory at a time."""
    carry = b""
    eot = EOT.encode()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc="feeding") as bar:
        while True:
            data = f.read(block)
            buf = carry + data
            bounds = chunk_bounds(buf, max(1, len(buf) // piece), [eot])
            last = len(bounds) - 1 if not data else len(bounds) - 2  # keep the tail: it may continue in the next block
            for a, b in zip(bounds[:last], bounds[1 : last + 1]):
                yield from filter(None, buf[a:b].decode("utf-8").split(EOT))
            bar.update(len(data))
            carry = buf[bounds[last] :]
            if not data:
                return


def child_big(trainer: str, path: Path, vocab: int) -> dict:
    """Train once on the whole file, streamed; JSON-able figures as `child` gives, plus the distinct pre-tokens."""
    from bpe import GPT2_PATTERN, Tokenizer

    start = time.perf_counter()
    unique = None
    if trainer == "bpe-rs":
        tok = Tokenizer.train(path=path, vocab_size=vocab + 1, special_tokens=[EOT], progress=True)
        merged, unique = [tok.token_bytes(256 + i) for i in range(len(tok.merges))], tok.unique_pretokens
    elif trainer == "rustbpe":
        import rustbpe

        t = rustbpe.Tokenizer()
        t.train_from_iterator(stream_pieces(path), vocab, buffer_size=256, pattern=GPT2_PATTERN)
        merged = [bytes(b) for b, r in sorted(t.get_mergeable_ranks(), key=lambda kv: kv[1]) if r >= 256]
    elif trainer == "HF tokenizers":
        tk, tr = hf_tokenizer(vocab, show_progress=True)
        tk.train_from_iterator(stream_pieces(path), tr)
        merged = None
    else:
        raise SystemExit(f"unknown trainer {trainer}")
    seconds = time.perf_counter() - start
    return {
        "trainer": trainer,
        "bytes": path.stat().st_size,
        "vocab": vocab,
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "unique_pretokens": unique,
        "merges": [m.hex() for m in merged] if merged is not None else None,
    }


def big_training(path: Path, trainers: list[str]) -> tuple[list[list[object]], list[dict]]:
    """One streamed run per trainer on the multi-GB corpus (checked against its manifest first): table rows, and
    each trainer's seconds and peak RSS for the plot."""
    manifest = check_big_corpus(path)
    size = f"{manifest['bytes'] / 1e9:.2f} GB ({manifest['copies']} copies, typos {manifest['typo_per_mille']}‰)"
    rows, results, ours = [], [], None
    for trainer in trainers:
        cmd = [sys.executable, __file__, "--child-big", trainer, str(path), str(BIG_VOCAB)]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # stderr (progress bars) goes to the terminal
        if out.returncode != 0:
            rows.append([size, f"{BIG_VOCAB:,}", trainer, "failed", "", "", f"exit {out.returncode}"])
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append({k: r[k] for k in ("trainer", "bytes", "seconds", "peak_rss_mb")})
        ours = ours or (r if trainer == "bpe-rs" else None)
        base = ours["seconds"] if ours else r["seconds"]
        rows.append(
            [
                size,
                f"{BIG_VOCAB:,}",
                trainer,
                f"{r['seconds']:.0f}",
                f"{r['seconds'] / base:.2f}x",
                f"{r['peak_rss_mb']:,.0f}",
                same_prefix(ours["merges"] if ours else None, r["merges"]),
            ]
        )
        if r["unique_pretokens"]:
            rows[-1][0] += f", {r['unique_pretokens']:,} distinct pre-tokens"
        print(rows[-1], file=sys.stderr)
    return rows, results


def run_child(trainer: str, corpus: str, max_bytes: int, vocab: int, runs: int) -> dict:
    cmd = [sys.executable, __file__, "--child", trainer, corpus, str(max_bytes), str(vocab), str(runs)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{trainer} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def same_prefix(a: list[str] | None, b: list[str] | None) -> str:
    if a is None or b is None:
        return "n/a"
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return "all" if n == len(a) == len(b) else f"first {n:,}"


# ------------------------------------------------------------------------------------------------ sections
def python_trainers(args) -> list[list[object]]:
    """Issue #2's goals: optimized Python vs naive (512 merges, Tiny Shakespeare) and vs the original on 10 MB."""
    from bpe.training import train_fast, train_naive

    rows = []
    text = corpus_slice("tinyshakespeare.txt")
    fast_s, fast = median_time(lambda: train_fast(text, 768), args.runs, warmup=0)
    if not args.skip_naive:
        naive_s, naive = median_time(lambda: train_naive(text, 768), args.naive_runs, warmup=0)
        assert naive == fast, "naive and optimized merges differ"
        rows.append(["naive Python, 512 merges, Tiny Shakespeare", f"{naive_s:.1f} s", "1x (oracle)"])
    rows.append(
        [
            "optimized Python, 512 merges, Tiny Shakespeare",
            f"{fast_s:.2f} s",
            f"{naive_s / fast_s:.0f}x faster than naive" if not args.skip_naive else "",
        ]
    )
    r = run_child("bpe (python)", "gutenberg-en.txt", TEN_MB, 2048, args.runs)
    rows.append(  # the original project's trainer is measured beside ours in bench/bpe_story.py
        ["optimized Python, 2,048 vocab, 10 MB Gutenberg", f"{r['seconds']:.1f} s", "see bench/bpe_story.py"]
    )
    args.python_2048 = r
    return rows


def rust_vs_competitors(args) -> tuple[list[list[object]], list[dict]]:
    rows, results = [], []
    jobs = [("gutenberg-en.txt", TEN_MB, v) for v in (2048, 8192, 16384)]
    if not args.quick:
        jobs += [("gutenberg-en.txt", 0, 16384), ("multilingual.txt", 0, 16384)]
    for corpus, max_bytes, vocab in jobs:
        ours = run_child("bpe-rs", corpus, max_bytes, vocab, args.runs)
        if getattr(args, "python_2048", None) and (corpus, max_bytes, vocab) == ("gutenberg-en.txt", TEN_MB, 2048):
            assert ours["merges"] == args.python_2048["merges"], "Rust and Python merges differ"
        label = f"{corpus} ({ours['bytes'] / 1e6:.0f} MB)"
        for trainer in TRAINERS:
            r = ours if trainer == "bpe-rs" else run_child(trainer, corpus, max_bytes, vocab, args.runs)
            if max_bytes == TEN_MB:
                results.append({k: r[k] for k in ("trainer", "vocab", "seconds", "peak_rss_mb")})
            rows.append(
                [
                    label,
                    f"{vocab:,}",
                    trainer,
                    f"{r['seconds']:.2f}",
                    f"{r['seconds'] / ours['seconds']:.2f}x",
                    f"{r['peak_rss_mb']:.0f} (+{r['extra_rss_mb']:.0f})",
                    same_prefix(ours["merges"], r["merges"]),
                ]
            )
            print(rows[-1], file=sys.stderr)
    return rows, results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="timed runs per measurement (median reported)")
    p.add_argument("--naive-runs", type=int, default=1, help="timed runs of the naive trainer (minutes each)")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--quick", action="store_true", help="10 MB slice only")
    p.add_argument("--big", action="store_true", help="also 16,384 tokens on the multi-GB corpus (tens of minutes)")
    p.add_argument("--big-only", action="store_true", help="only the multi-GB training table")
    p.add_argument("--big-corpus", type=Path, default=BIG_CORPUS, help="made by bench/big_corpus.py")
    p.add_argument("--big-trainers", nargs="+", default=list(TRAINERS), choices=TRAINERS)
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    p.add_argument("--child-big", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        trainer, corpus, max_bytes, vocab, runs = args.child
        print(json.dumps(child(trainer, corpus, int(max_bytes), int(vocab), int(runs))))
        return
    if args.child_big:
        trainer, path, vocab = args.child_big
        print(json.dumps(child_big(trainer, Path(path), int(vocab))))
        return
    t0 = time.time()
    print(f"# BPE training benchmarks ({machine()})\n")
    if args.big or args.big_only:
        big, big_results = big_training(args.big_corpus, args.big_trainers)
        big_table = markdown_table(
            ["corpus", "vocab", "trainer", "seconds", "time vs bpe-rs", "peak RSS MB", "merges equal to bpe-rs"], big
        )
        if args.big_only:
            print(big_table)
            print(f"\n{time.time() - t0:.0f} s in all")
            return
    print(markdown_table(["trainer", "median time", "speed-up"], python_trainers(args)))
    print()
    rows, results = rust_vs_competitors(args)
    print(
        markdown_table(
            [
                "corpus",
                "vocab",
                "trainer",
                "seconds",
                "time vs bpe-rs",
                "peak RSS MB (+training)",
                "merges equal to bpe-rs",
            ],
            rows,
        )
    )
    if args.big:
        print("\n" + big_table)
    save_results("bpe_train", {"training": results, "at_scale": big_results if args.big else []})
    plot = plot_bpe()
    print(f"\n{time.time() - t0:.0f} s in all" + (f"; plot: {plot}" if plot else ""))


if __name__ == "__main__":
    run(lambda _argv: main())  # a missing or changed big corpus: one line, exit 2
