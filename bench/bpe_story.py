"""The BPE trainer optimisation story: one row per step, all timed in one run on the same corpus slice.

    python bench/bpe_story.py                         # 1 MB of Gutenberg, vocab 512: ~6 min (naive ~2.5 of them)
    taskset -c 1 python bench/bpe_story.py --runs 3   # one core, as in bpe/README.md
    python bench/bpe_story.py --skip-original --slice-mb 0.25 --vocab-size 300    # a quick look

Steps, each one change on top of the previous (merges asserted equal to the naive trainer's, the oracle):
  1. naive       bpe.training.train_naive: every pre-token of the corpus, recounted after every merge
  2. profile     cProfile of step 1's first --profile-merges merges: where the time goes
  3. unique      unique pre-tokens with their counts, still a full recount per merge (a teaching step, written here:
                 it is not in bpe.training, which goes straight to step 4)
  4. heap        bpe.training.train_counts: only the words holding the merged pair are updated; a heap finds the best
  5. parallel    bpe.training.count_pretokens_file: pre-tokenization in worker processes over safely cut chunks
  6. rust        bpe_rs.train (bpe-rs): steps 4 and 5 in Rust
Then, unless --skip-original, the original project (garg-aayush/building-from-scratch, exported from its bare mirror
into a temp folder, never into this checkout): its trainer on the same slice file, and its Rust encoder (built with
cargo into the temp folder) against ours and tiktoken on the same text, ids compared. Its trainer breaks ties by
dict order (the first pair counted wins), ours by bytes, so its merges are compared as "first N equal".
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

import bpe_rs
from bpe import GPT2_PATTERN
from bpe.corpus import default_corpus
from bpe.training import Pair, best_pair, count_pretokens, count_pretokens_file, merge, train_counts, train_naive
from common import ROOT, SHARED, machine, markdown_table, median_time, save_results
from scratch.cli import ArgumentParser, UsageError, positive_float, positive_int, run

EOT = "<|endoftext|>"
SPECIALS = [EOT]
ORIGINAL_MIRROR = ROOT.parent / ".mirror" / "garg-aayush+building-from-scratch" / "repo"


# ------------------------------------------------------------------------------------------------ the steps
@dataclass
class Slice:
    """The corpus slice every step trains on: as a string, and as a file (for the file-based steps)."""

    text: str
    path: Path
    vocab: int  # total ids, <|endoftext|> included (as bpe/train.py counts)
    workers: int

    @property
    def num_merges(self) -> int:
        return self.vocab - 256 - len(SPECIALS)


def train_unique_counts(word_counts: dict[bytes, int], num_merges: int, progress: bool = False) -> list[Pair]:
    """Step 3: recount every pair after every merge, but over the unique pre-tokens, each weighted by its count."""
    words = [(list(w), c) for w, c in word_counts.items()]
    vocab = {i: bytes([i]) for i in range(256)}
    merges: list[Pair] = []
    for step in tqdm(range(num_merges), desc="unique counts", unit="merge", disable=not progress, leave=False):
        counts: dict[Pair, int] = defaultdict(int)
        for ids, c in words:
            for pair in zip(ids, ids[1:]):
                counts[pair] += c
        if not counts:
            break
        pair = best_pair(counts, vocab)  # the same tie rule as the naive trainer
        new_id = 256 + step
        # distinct words stay distinct after a merge, so no two entries ever need combining
        words = [(merge(ids, pair, new_id), c) for ids, c in words]
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        merges.append(pair)
    return merges


@dataclass
class Step:
    name: str
    what: str
    train: Callable[[Slice, bool], list[Pair]]


def steps(workers: int) -> list[Step]:
    return [
        Step(
            "1. naive",
            "`train_naive`: every pre-token of the corpus as a list of ids; after each merge, count every pair of "
            "every pre-token again (`Counter.update`) and rewrite every pre-token (`merge`)",
            lambda s, progress: train_naive(s.text, s.vocab, GPT2_PATTERN, SPECIALS),
        ),
        Step(
            "3. unique pre-tokens with counts",
            "count each distinct pre-token once (`count_pretokens`); the per-merge recount and rewrite run over the "
            "unique words, each pair weighted by its word's count (written in this script: a teaching step)",
            lambda s, progress: train_unique_counts(
                count_pretokens(s.text, GPT2_PATTERN, SPECIALS), s.num_merges, progress
            ),
        ),
        Step(
            "4. incremental pair updates + heap",
            "`train_counts`: a merge touches only the words that hold the pair (index pair -> words), subtracting "
            "their old pairs and adding their new ones; a heap with lazy deletion pops the next winner",
            lambda s, progress: train_counts(count_pretokens(s.text, GPT2_PATTERN, SPECIALS), s.num_merges, progress),
        ),
        Step(
            "5. parallel pre-tokenization",
            f"`count_pretokens_file(path, workers={workers})`: the slice file cut at safe points, pre-tokenized in "
            f"{workers} process(es), counts summed; then step 4's merging",
            lambda s, progress: train_counts(
                count_pretokens_file(s.path, GPT2_PATTERN, SPECIALS, s.workers), s.num_merges, progress
            ),
        ),
        Step(
            "6. Rust (bpe-rs)",
            f"`bpe_rs.train(path, workers={workers})`: steps 4 + 5 in Rust: rayon threads count pre-tokens "
            "(with a hand-written scanner for the split pattern), then the same incremental counts and a `BinaryHeap`, "
            "with no Python objects",
            lambda s, progress: [
                tuple(p) for p in bpe_rs.train(None, str(s.path), s.num_merges, GPT2_PATTERN, SPECIALS, s.workers)[0]
            ],
        ),
    ]


# ------------------------------------------------------------------------------------------------ profile
SHARES = {  # (label, function name, file name ending): the naive trainer's parts, by cumulative time
    "pair counting (`Counter.update`)": ("update", "__init__.py"),
    "rewriting pre-tokens (`merge`)": ("merge", "training.py"),
    "choosing the pair (`best_pair`)": ("best_pair", "training.py"),
    "pre-tokenization (regex)": ("pretokenize", "patterns.py"),
}


def profile_naive(s: Slice, merges: int) -> tuple[float, dict[str, float], str, list[Pair]]:
    """(seconds under cProfile, share of time per part, the top functions by cumulative time, the merges)."""
    prof = cProfile.Profile()
    t = time.perf_counter()
    got = prof.runcall(train_naive, s.text, 256 + len(SPECIALS) + merges, GPT2_PATTERN, SPECIALS)
    secs = time.perf_counter() - t
    stats = pstats.Stats(prof)
    total = next(v[3] for k, v in stats.stats.items() if k[2] == "train_naive")
    shares = {}
    for label, (func, file) in SHARES.items():
        cum = sum(v[3] for k, v in stats.stats.items() if k[2] == func and k[0].endswith(file))
        shares[label] = cum / total
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(12)
    return secs, shares, out.getvalue(), got


# ------------------------------------------------------------------------------------------------ the original
def export_original(repo: Path, dest: Path) -> str:
    """git archive the original's bpe/ folder into dest; returns its commit."""
    if not (repo / "HEAD").is_file():
        raise FileNotFoundError(f"{repo} is not a git mirror of the original project: pass --skip-original")
    commit = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(["git", "--git-dir", str(repo), "archive", "HEAD", "bpe"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return commit


def build_original_encoder(dest: Path) -> str | None:
    """cargo-build the original's PyO3 encoder into dest/mod/bpe_encode_rust.so; None, or why it could not."""
    if shutil.which("cargo") is None:
        return "cargo is not installed"
    env = {**os.environ, "PYO3_PYTHON": sys.executable, "CARGO_TARGET_DIR": str(dest / "target")}
    cmd = ["cargo", "build", "--release", "--lib", "--features", "python"]
    print("building the original's Rust encoder (cargo, about a minute)...", file=sys.stderr)
    try:
        out = subprocess.run(cmd, cwd=dest / "bpe" / "encode_rs", env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return "cargo build took over 15 minutes"
    if out.returncode != 0:
        return "cargo build failed: " + " ".join(out.stderr.strip().splitlines()[-1:])
    (dest / "mod").mkdir()
    shutil.copy(dest / "target" / "release" / "libbpe_encode.so", dest / "mod" / "bpe_encode_rust.so")
    return None


def original_child(dest: Path, slice_path: Path, vocab: int, runs: int, result: Path) -> None:
    """In a child process: the original's trainer on the slice file, then its encoders vs ours and tiktoken."""
    import tiktoken

    from bpe import Tokenizer

    spec = importlib.util.spec_from_file_location("original_bpe", dest / "bpe" / "bpe.py")
    original = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(sys.stderr):  # it prints as it goes
        spec.loader.exec_module(original)

        def train():
            tok = original.BpeTokenizer()
            # its vocab_size counts merges + 256; the special token is registered after, as its train_bpe.py does
            tok.train(input_file_path=str(slice_path), vocab_size=vocab - 1, special_tokens=SPECIALS,
                      boundary_split_token=EOT)  # fmt: skip
            return tok

        secs, tok = median_time(train, runs, warmup=0)
        tok.register_special_tokens({EOT: vocab - 1})
        tok.save(str(dest / "original"))
    out = {"train_seconds": secs, "merges": [list(p) for p in tok.merges]}
    text = slice_path.read_text(encoding="utf-8")
    ours = Tokenizer.load(dest / "original.model")  # the original's own file, read by our loader
    enc = tiktoken.Encoding("original", pat_str=ours.pattern, mergeable_ranks=ours.mergeable_ranks,
                            special_tokens=ours.special_tokens)  # fmt: skip
    encoders = {
        "tiktoken (same ranks)": lambda: enc.encode(text, allowed_special="all"),
        "bpe-rs (ours)": lambda: ours.encode(text, allowed_special="all"),
        "original, Python (`BpeTokenizer.encode`)": lambda: tok.encode(text, "all"),
    }
    if (dest / "mod" / "bpe_encode_rust.so").is_file():
        sys.path.insert(0, str(dest / "mod"))
        rust = importlib.import_module("bpe_encode_rust").PyBpeEncode()
        rust.load(str(dest / "original.model"))
        encoders["original, Rust (`encode_rs`)"] = lambda: rust.encode(text, "all")
    reference = enc.encode(text, allowed_special="all")
    out["encoding"] = []
    for name, fn in encoders.items():
        secs, ids = median_time(fn, runs, warmup=1, before=ours.clear_cache)  # only bpe-rs remembers merges
        out["encoding"].append({"encoder": name, "seconds": secs, "equal": list(ids) == reference})
    out["bytes"] = len(text.encode())
    result.write_text(json.dumps(out))


def run_original(args, s: Slice, tmp: Path) -> tuple[dict | None, str]:
    """(the child's results or None, a note on what was and was not done)."""
    dest = tmp / "original"
    dest.mkdir()
    commit = export_original(args.original_repo, dest)
    why = build_original_encoder(dest)
    note = f"original: garg-aayush/building-from-scratch @ {commit[:7]}, bpe/bpe.py and bpe/encode_rs"
    if why:
        note += f"; its Rust encoder was not timed: {why}"
    result = tmp / "original.json"
    cmd = [sys.executable, __file__, "--original-child", str(dest), str(s.path), str(s.vocab), str(args.runs),
           str(result)]  # fmt: skip
    print("timing the original's trainer and encoders...", file=sys.stderr)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None, note + "; its run failed: " + " ".join(out.stderr.strip().splitlines()[-1:])
    return json.loads(result.read_text()), note


# ------------------------------------------------------------------------------------------------ the table
def load_slice(mb: float) -> tuple[str, str]:
    """(text, its source): the first MB of ../shared/data/gutenberg-en.txt, else of the offline default corpus."""
    path = SHARED / "gutenberg-en.txt"
    if not path.is_file():
        path = default_corpus()[0]
    with open(path, "rb") as f:
        data = f.read(int(mb * 1e6))
    return data.decode("utf-8", errors="ignore"), str(path)


def first_equal(a: list, b: list) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if tuple(x) != tuple(y)), min(len(a), len(b)))
    return f"all {n:,}" if n == len(a) == len(b) else f"first {n:,} of {len(b):,} (tie rule differs)"


def story(args, s: Slice) -> tuple[list[list[object]], dict]:
    """Time every step (the naive one --naive-runs times, the others --runs times), merges checked; the rows."""
    rows, raw = [], {"steps": []}
    naive = prev = None
    todo = steps(s.workers)
    bar = tqdm(total=len(todo) + 1, desc="steps", unit="step")
    for k, step in enumerate(todo):
        bar.set_postfix_str(step.name)
        runs = args.naive_runs if k == 0 else args.runs
        secs, merges = median_time(lambda step=step: step.train(s, True), runs, warmup=0)
        bar.update()
        if naive is None:
            naive, prev = (secs, merges), secs
            rows.append([step.name, step.what, f"{secs:.2f}", "—", "1x", f"oracle ({len(merges):,} merges)"])
            raw["steps"].append({"step": step.name, "seconds": secs})
            rows.append(profile_row(args, s, naive[1], bar, raw))
            continue
        assert merges == naive[1], f"{step.name}: merges differ from the naive trainer's"
        rows.append([step.name, step.what, f"{secs:.3f}", f"{prev / secs:.1f}x", f"{naive[0] / secs:.0f}x", "yes"])
        raw["steps"].append({"step": step.name, "seconds": secs})
        prev = secs
    bar.close()
    raw["naive_merges"] = naive[1]
    return rows, raw


def profile_row(args, s: Slice, naive_merges: list[Pair], bar, raw: dict) -> list[object]:
    bar.set_postfix_str("2. profile")
    k = min(args.profile_merges, len(naive_merges))
    secs, shares, top, merges = profile_naive(s, k)
    bar.update()
    assert merges == naive_merges[:k], "the profiled naive run's merges differ from the timed run's"
    raw["profile"] = {"merges": k, "seconds": secs, "shares": shares, "top": top}
    where = ", ".join(f"{v:.0%} {label}" for label, v in shares.items())
    return [
        "2. profile",
        f"cProfile of step 1 for its first {k} merges (the cost per merge is about constant): {where} "
        "(cProfile's cost per call inflates `merge`, called once per pre-token per merge)",
        f"({secs:.2f} under cProfile)",
        "—",
        "—",
        f"first {k}: yes",
    ]


def original_rows(orig: dict, naive: tuple[float, list], unique_secs: float) -> tuple[list[list[object]], str]:
    train_row = [
        "original project's trainer",
        "`BpeTokenizer.train` (bpe/bpe.py), sequential: unique pre-tokens with counts and a full recount per merge, "
        "as step 3; ties go to the pair counted first",
        f"{orig['train_seconds']:.3f}",
        f"{unique_secs / orig['train_seconds']:.2f}x vs step 3",
        f"{naive[0] / orig['train_seconds']:.0f}x",
        first_equal(orig["merges"], naive[1]),
    ]
    mb = orig["bytes"] / 1e6
    ref = next(e["seconds"] for e in orig["encoding"] if e["encoder"].startswith("tiktoken"))
    enc_rows = [
        [e["encoder"], f"{e['seconds']:.3f}", f"{mb / e['seconds']:.1f}", f"{ref / e['seconds']:.2f}x", e["equal"]]
        for e in orig["encoding"]
    ]
    header = ["encoder (the original's merges, same text)", "seconds", "MB/s", "speed vs tiktoken", "ids == tiktoken"]
    return [train_row], markdown_table(header, enc_rows)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.original_child:
        dest, path, vocab, runs, result = args.original_child
        original_child(Path(dest), Path(path), int(vocab), int(runs), Path(result))
        return
    workers = args.workers or len(os.sched_getaffinity(0))
    text, source = load_slice(args.slice_mb)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="bpe-story-") as tmp:
        path = Path(tmp) / "slice.txt"
        path.write_bytes(text.encode())
        s = Slice(text, path, args.vocab_size, workers)
        rows, raw = story(args, s)
        notes = []
        if not args.skip_original:
            orig, note = run_original(args, s, Path(tmp))
            notes.append(note)
            if orig is not None:
                unique = raw["steps"][1]["seconds"]
                more, enc_table = original_rows(orig, (raw["steps"][0]["seconds"], raw["naive_merges"]), unique)
                rows += more
                raw["original"] = {k: v for k, v in orig.items() if k != "merges"}
    print(f"\n## BPE trainer optimisation story ({machine()}, {len(os.sched_getaffinity(0))} usable core(s))\n")
    print(
        f"{len(text.encode()) / 1e6:.2f} MB of {source}, GPT-2 split pattern, `<|endoftext|>` special, vocab "
        f"{args.vocab_size:,} ({s.num_merges:,} merges); medians of {args.runs} runs ({args.naive_runs} for step 1)\n"
    )
    header = ["step", "what changed", "seconds (median)", "speed-up vs previous", "vs naive", "merges equal naive"]
    print(markdown_table(header, rows))
    if "original" in raw:
        print()
        print(enc_table)
    for note in notes:
        print(f"\n{note}")
    print(f"\n### cProfile of the naive trainer ({raw['profile']['merges']} merges), top by cumulative time\n")
    print(raw["profile"]["top"].strip())
    raw.pop("naive_merges")
    saved = save_results("bpe_story", {"args": sys.argv[1:], "corpus": source, "bytes": len(text.encode()), **raw})
    print(f"\n{time.time() - t0:.0f} s in all; raw figures: {saved}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slice-mb", type=positive_float, default=1.0, help="MB of the corpus to train on (default 1)")
    p.add_argument("--vocab-size", type=positive_int, default=512, help="total ids: 256 + merges + 1 special")
    p.add_argument("--runs", type=positive_int, default=3, help="timed runs per step (median reported)")
    p.add_argument("--naive-runs", type=positive_int, default=1, help="timed runs of the naive trainer (minutes)")
    p.add_argument("--profile-merges", type=positive_int, default=20, help="merges of the naive trainer to profile")
    p.add_argument("--workers", type=int, default=0, help="processes/threads for steps 5-6 (0: the usable cores)")
    p.add_argument("--skip-original", action="store_true", help="skip the original project's trainer and encoder")
    p.add_argument("--original-repo", type=Path, default=ORIGINAL_MIRROR, help="bare git mirror of the original")
    p.add_argument("--original-child", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.vocab_size < 256 + len(SPECIALS) + 1:
        least = 256 + len(SPECIALS) + 1
        raise UsageError(f"--vocab-size {args.vocab_size} leaves no merge: it must be at least {least}")
    if args.workers < 0:
        raise UsageError("--workers must be 0 (all usable cores) or more")
    return args


if __name__ == "__main__":
    run(main)
