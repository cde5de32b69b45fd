"""The experiment study: the original's six configs (and context-length, tokenizer and fine-tuning variants) x several
seeds at one stated scale, resumable, then a table with spread over seeds and paired differences, and plots.

    python gpt-2/study.py --out runs/study                    # the CPU study: all variants, seeds 0 1 2, 2 jobs
    python gpt-2/study.py --out runs/study --seeds 0 1 2 3    # add a seed: finished runs are skipped
    python gpt-2/study.py --out runs/study --variants baseline lr-inc --seeds 0   # a part of it, in one sitting
    python gpt-2/study.py --out runs/study --report-only      # the table and plots from the runs so far
    python gpt-2/study.py --out runs/study-gpu --scale gpu --device cuda --jobs 1   # the same study on a GPU

Stages, all under OUT (OUT/study.json records the scale and the corpus; a rerun with other settings is refused):
1. corpus: documents cut from a corpus of books (default ../shared/data/gutenberg-en.txt, 113 Gutenberg books
   joined by <|endoftext|>; --corpus FILE for another; the offline Shakespeare plays when neither is there):
   `docs_per_book` excerpts of ~`doc_chars` characters from the middle of each book, every 9th book held out.
   Many short documents of many authors: the loaders' orderings differ, and the held-out books are unseen text.
2. tokenizers: byte-level BPE trained by bpe-rs on the training documents (the scale's vocabulary, and 16,384 for the
   tokenizer variant), so the compute goes to the transformer, not to a 50,257-wide output layer.
3. shards (gpt2.prepare; the held-out books are exactly the val shard, ~8 training shards).
4. runs: each (variant, seed) is one `python -m gpt2.train` process into OUT/runs/VARIANT-sSEED (its console
   output in OUT/logs/). A finished run is skipped; an interrupted one resumes from its checkpoint (one per epoch).
   --jobs N runs N at once with 1 torch thread each (small models: near-linear on N cores).
5. report: OUT/results.md and OUT/study-{curves,effects,periodicity}.png; --images DIR also writes the plots there.

A variant's seed sets its initial weights and its loader's shuffles; two variants with the same seed are compared
seed by seed (gpt2.stats.paired_difference), which cancels much of the seed-to-seed spread.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bpe import cli as bpe_cli
from bpe.corpus import EOT, default_corpus
from gpt2.configs import EXPERIMENTS
from gpt2.model import PRESETS
from gpt2.pipeline import corpus_file, prepare_shards
from gpt2.plot import RunLogData, load_run
from gpt2.shards import MANIFEST, read_manifest
from gpt2.stats import Difference, paired_difference, summary
from gpt2.train import options_from_argv
from scratch.cli import ArgumentParser, UsageError, non_negative_int, positive_int, run
from scratch.files import atomic_write, file_digest
from scratch.plot import plt, save_figure

GUTENBERG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gutenberg-en.txt"
HELDOUT_EVERY = 9  # every 9th book is held out: 13 of the 113 Gutenberg books


# ---------------------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Scale:
    """Everything that sets the size of the study's runs (recorded in OUT/study.json)."""

    preset: str  # gpt2.model preset
    vocab_size: int  # the study's tokenizer
    seq_len: int
    batch_tokens: int  # tokens per optimizer step
    micro_batch: int
    epochs: int  # passes over the training documents: several, so the loaders' orderings matter
    evals: int  # evaluations per run (and at step 0)
    doc_chars: int  # a document: ~this many characters of a book, cut at a paragraph end
    docs_per_book: int
    finetune_chars: int  # Shakespeare for the fine-tuning pair: this many characters of plays (a quarter held out)
    finetune_steps: int


SCALES = {
    # chosen by measurement on a 2-core laptop-class CPU (gpt-2/README.md, "The study"): ~1M params, 2K vocab
    "cpu": Scale("mini", 2048, 128, 4096, 32, 4, 10, 3000, 3, 1_000_000, 100),
    # seconds, for the tests
    "smoke": Scale("tiny", 300, 32, 256, 8, 3, 2, 400, 2, 20_000, 4),
    # one command for a GPU (not run here): a 6-layer model on ~10x the text, 16K vocabulary
    "gpu": Scale("small", 16384, 512, 65536, 64, 4, 20, 4000, 30, 4_000_000, 400),
}


@dataclass(frozen=True)
class Variant:
    """One arm of the study: an experiment of gpt2.configs plus what this arm changes."""

    name: str
    config: str  # a gpt2.configs experiment
    compare_to: str | None  # the variant it is paired against in the table
    context: float = 1.0  # times the scale's seq_len
    vocab_size: int | None = None  # None: the scale's
    finetune: bool = False  # trained on Shakespeare; init from the `rope` run of the same seed unless `scratch`
    scratch: bool = False
    what: str = ""


VARIANTS = {
    v.name: v
    for v in [
        *(
            Variant(name, name, prev, what=EXPERIMENTS[name].description)
            for prev, name in zip([None, *EXPERIMENTS][:-1], EXPERIMENTS)
        ),
        Variant("rope-short-ctx", "rope", "rope", context=0.5, what="rope, half the context"),
        Variant(
            "rope-long-ctx", "rope", "rope", context=4, what="rope, 4x the context (block size above the preset's)"
        ),
        Variant("rope-V16k", "rope", "rope", vocab_size=16384, what="rope with a 16,384-token BPE (bits per byte)"),
        Variant(
            "shakespeare-scratch", "rope", None, finetune=True, scratch=True, what="rope on Shakespeare, from init"
        ),
        Variant(
            "shakespeare-finetune", "rope", "shakespeare-scratch", finetune=True, what="from the rope run's weights"
        ),
    ]
}
FINETUNE_LR = 3e-4  # fine-tuning: a lower peak than pretraining's 1.5e-3, as nanoGPT's finetune_shakespeare lowers its


# ------------------------------------------------------------------------------------------------------------ corpus
def book_excerpts(book: str, docs: int, doc_chars: int) -> list[str]:
    """DOCS documents of about DOC_CHARS characters each, consecutive paragraphs from the middle of BOOK (away from
    the Gutenberg header and licence); fewer when the book is short."""
    paragraphs = [p.strip() for p in book.split("\n\n") if p.strip()]
    out, piece = [], []
    for p in paragraphs[len(paragraphs) // 3 :]:
        piece.append(p)
        if sum(len(x) for x in piece) >= doc_chars:
            out.append("\n\n".join(piece))
            piece = []
            if len(out) == docs:
                break
    return out


def source_books(corpus: Path | None) -> tuple[list[str], str]:
    """The books (documents of the corpus file) and a description of where they came from."""
    if corpus is None:
        corpus = GUTENBERG if GUTENBERG.is_file() else None
    if corpus is None:  # a clone without ../shared: the offline Shakespeare plays, one play a book
        train, heldout = default_corpus()
        books = (train.read_text(encoding="utf-8") + EOT + heldout.read_text(encoding="utf-8")).split(EOT)
        return books, "the offline Shakespeare plays (bpe.corpus.default_corpus)"
    if not corpus.is_file():
        raise UsageError(f"--corpus {corpus}: no such file (give a UTF-8 file of documents joined by {EOT})")
    books = [b for b in corpus.read_text(encoding="utf-8").split(EOT) if b.strip()]
    return books, f"{corpus} ({corpus.stat().st_size:,} bytes, md5 {file_digest(corpus)})"


def write_corpus(out: Path, scale: Scale, books: list[str]) -> tuple[Path, Path]:
    """OUT/corpus/{train,heldout}.txt: excerpts of every book, every HELDOUT_EVERY-th book held out."""
    train, heldout = [], []
    for i, book in enumerate(books):
        (heldout if i % HELDOUT_EVERY == 0 else train).extend(book_excerpts(book, scale.docs_per_book, scale.doc_chars))
    if not train or not heldout:
        raise UsageError(f"the corpus has {len(books)} documents: the study needs at least {HELDOUT_EVERY + 1}")
    paths = out / "corpus" / "train.txt", out / "corpus" / "heldout.txt"
    for path, docs in zip(paths, (train, heldout)):
        atomic_write(path, EOT.join(docs))
    return paths


def shakespeare_corpus(out: Path, chars: int) -> tuple[Path, Path]:
    """OUT/corpus/shakespeare-{train,heldout}.txt: CHARS characters of the offline plays' training text and a quarter
    of that of its held-out plays (bpe.corpus.default_corpus), each cut at a paragraph end."""
    paths = []
    for part, source, n in zip(("train", "heldout"), default_corpus(), (chars, chars // 4)):
        text = source.read_text(encoding="utf-8")[:n]
        path = out / "corpus" / f"shakespeare-{part}.txt"
        if not path.is_file():
            atomic_write(path, text[: text.rfind("\n\n") + 1] or text)
        paths.append(path)
    return paths[0], paths[1]


# ------------------------------------------------------------------------------------------------------- preparation
def make_tokenizer(out: Path, train_txt: Path, vocab_size: int) -> Path:
    prefix = out / f"tokenizer-{vocab_size}"
    if not prefix.with_suffix(".model").is_file():
        bpe_cli.main(["--data", str(train_txt), "--vocab-size", str(vocab_size), "--out", str(prefix)])
    return prefix.with_suffix(".model")


def make_shards(tokenizer: Path, train_txt: Path, heldout_txt: Path, data: Path) -> Path:
    """Shards of heldout + train documents (val shard = the held-out documents exactly), unless already complete."""
    if not (data / MANIFEST).is_file() or not read_manifest(data, allow_incomplete=True).get("complete", True):
        corpus = corpus_file(heldout_txt, train_txt, data.parent / "corpus" / data.name)
        prepare_shards(str(tokenizer), corpus, heldout_txt, data)
    return data


def prepare_study(out: Path, scale: Scale, corpus: Path | None, variants: list[Variant]) -> dict[str, Path]:
    """Corpus, tokenizers and shards the variants need; returns {data key: shard folder}."""
    record = out / "study.json"
    books, source = source_books(corpus)
    settings = {"scale": dataclasses.asdict(scale), "corpus": source, "heldout_every": HELDOUT_EVERY}
    if record.is_file():
        old = json.loads(record.read_text())
        if old != settings:
            changed = sorted(k for k in settings if old.get(k) != settings[k])
            raise UsageError(
                f"{out} holds a study with other settings ({', '.join(changed)} differ; see {record}): give another "
                "--out, or the same --scale and --corpus"
            )
    else:
        if out.is_file() or (out.is_dir() and any(out.iterdir())):
            raise UsageError(f"--out {out} holds something that is not a study: give a new or empty folder")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(record, json.dumps(settings, indent=1) + "\n")
    train_txt, heldout_txt = (out / "corpus" / "train.txt", out / "corpus" / "heldout.txt")
    if not heldout_txt.is_file():
        train_txt, heldout_txt = write_corpus(out, scale, books)
    data = {}
    for vocab in sorted({v.vocab_size or scale.vocab_size for v in variants}):
        tok = make_tokenizer(out, train_txt, vocab)
        data[f"v{vocab}"] = make_shards(tok, train_txt, heldout_txt, out / f"data-{vocab}")
        if any(v.finetune for v in variants) and vocab == scale.vocab_size:
            plays_train, plays_heldout = shakespeare_corpus(out, scale.finetune_chars)
            data["shakespeare"] = make_shards(tok, plays_train, plays_heldout, out / f"data-shakespeare-{vocab}")
    return data


# -------------------------------------------------------------------------------------------------------------- runs
def run_name(variant: Variant, seed: int) -> str:
    return f"{variant.name}-s{seed}"


def train_tokens(data: Path) -> int:
    return sum(s["tokens"] for s in read_manifest(data)["shards"] if s["split"] == "train")


def run_flags(out: Path, scale: Scale, variant: Variant, seed: int, data: dict[str, Path], device: str) -> list[str]:
    """gpt-2/train.py's flags for one run."""
    seq_len = round(scale.seq_len * variant.context)
    shards = data["shakespeare" if variant.finetune else f"v{variant.vocab_size or scale.vocab_size}"]
    steps = (
        scale.finetune_steps if variant.finetune else max(1, scale.epochs * train_tokens(shards) // scale.batch_tokens)
    )
    epochs = max(1, round(steps * scale.batch_tokens / train_tokens(shards)))
    micro = max(1, min(scale.micro_batch, scale.batch_tokens // seq_len))
    val_tokens = sum(s["tokens"] for s in read_manifest(shards)["shards"] if s["split"] == "val")
    flags = {
        "config": variant.config,
        "model": scale.preset,
        "data": shards,
        "total-batch-tokens": scale.batch_tokens,
        "micro-batch": micro,
        "seq-len": seq_len,
        "max-steps": steps,
        "eval-every": max(1, steps // scale.evals),
        "val-batches": max(1, val_tokens // (micro * seq_len)),  # the whole val split
        "hellaswag": "none",  # at this scale HellaSwag is at chance (25%): it would only cost time
        "sample-tokens": 0,
        "seed": seed,
        "out": out / "runs",
        "run-name": run_name(variant, seed),
        "ckpt-every": max(1, steps // epochs),
        "keep-last": 1,
        "log-every": max(1, steps // 10),
        "device": device,
    }
    if seq_len > PRESETS[scale.preset]["block_size"]:
        flags["block-size"] = seq_len
    if variant.finetune:
        flags["max-lr"] = FINETUNE_LR
        if not variant.scratch:
            flags["init-from"] = out / "runs" / run_name(VARIANTS["rope"], seed)
            flags["model"] = None  # the source's architecture
    return [a for k, v in flags.items() if v is not None for a in (f"--{k}", str(v))]


def run_state(run_dir: Path) -> str:
    """'done' (ended at its last step), 'partial' (has a checkpoint to resume) or 'new'."""
    log = run_dir / "log.jsonl"
    if log.is_file():
        for line in reversed(log.read_text(encoding="utf-8").splitlines()):
            rec = json.loads(line)
            if rec.get("type") == "end" and not rec.get("stopped"):
                return "done"
    return "partial" if any(run_dir.glob("ckpt_*.pt")) else "new"


def check_same_settings(run_dir: Path, flags: list[str]) -> None:
    """A run folder kept from an earlier sitting must hold the run these flags describe (the experiment's settings
    included: a changed config table must not mix old and new runs in one table)."""
    log = run_dir / "log.jsonl"
    if not log.is_file():
        return
    with open(log, encoding="utf-8") as f:
        saved = json.loads(f.readline())["train_config"]
    wanted = options_from_argv(flags)[0].to_dict()
    diffs = [
        f"{k} {saved.get(k)!r} vs now {v!r}" for k, v in wanted.items() if _setting(k, saved.get(k)) != _setting(k, v)
    ]
    if diffs:
        raise UsageError(
            f"{run_dir} was made with other settings ({'; '.join(diffs)[:300]}): move it away or use another --out"
        )


JOB_CONTROL = ("device", "stop_at", "keep_last", "log_every", "ckpt_every", "wandb")  # do not change the result


def _setting(key: str, value):
    """What must agree between a kept run and the study: paths as resolved, the experiment's numbers (not its prose)."""
    if key in ("data", "out", "init_from") and value:
        return str(Path(value).resolve())
    if key == "experiment" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in ("description", "commit")}
    return None if key in JOB_CONTROL else value


def launch(out: Path, name: str, flags: list[str], threads: int) -> float:
    """One training run as its own process (its console output to OUT/logs/NAME.txt); returns its wall seconds."""
    run_dir = out / "runs" / name
    check_same_settings(run_dir, flags)
    state = run_state(run_dir)
    if state == "done":
        return 0.0
    extra = ["--resume"] if state == "partial" else (["--overwrite"] if run_dir.exists() else [])
    # a run folder without a checkpoint is this study's own interrupted run (no other command writes OUT/runs)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "gpt2.train", *flags, *extra, "--threads", str(threads)]
    t0 = time.time()
    with open(out / "logs" / f"{name}.txt", "a", encoding="utf-8") as console:
        console.write("$ " + " ".join(cmd) + "\n")
        console.flush()
        done = subprocess.run(
            cmd, stdout=console, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    if done.returncode != 0:
        raise RuntimeError(f"run {name} failed (exit {done.returncode}): see {out / 'logs' / (name + '.txt')}")
    return time.time() - t0


def run_all(out: Path, scale: Scale, variants: list[Variant], seeds: list[int], data, device: str, jobs: int) -> None:
    """Every (variant, seed), seed-major (a first sitting completes whole seeds); fine-tunes after their sources."""
    waves = [
        [v for v in variants if not v.finetune or v.scratch],
        [v for v in variants if v.finetune and not v.scratch],
    ]
    total = len(seeds) * len(variants)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with tqdm(total=total, desc="study runs", unit="run") as bar, ThreadPoolExecutor(jobs) as pool:
        for wave in waves:
            todo = [(v, s) for s in seeds for v in wave]
            futures = {
                pool.submit(launch, out, run_name(v, s), run_flags(out, scale, v, s, data, device), threads): (v, s)
                for v, s in todo
            }
            for f in futures:
                f.result()
                bar.update(1)


# ------------------------------------------------------------------------------------------------------------ report
@dataclass
class Arm:
    variant: Variant
    runs: dict[int, RunLogData]  # seed -> its log

    def final(self, key: str) -> dict[int, float]:
        return {s: r.evals[-1][key] for s, r in self.runs.items() if r.evals}

    def best(self, key: str) -> dict[int, float]:
        return {s: min(e[key] for e in r.evals) for s, r in self.runs.items() if r.evals}


def load_arms(out: Path, variants: list[Variant], seeds: list[int]) -> dict[str, Arm]:
    arms = {}
    for v in variants:
        runs = {
            s: load_run(out / "runs" / run_name(v, s))
            for s in seeds
            if run_state(out / "runs" / run_name(v, s)) == "done"
        }
        if runs:
            arms[v.name] = Arm(v, runs)
    return arms


def paired(arms: dict[str, Arm], name: str, key: str) -> Difference | None:
    """arm NAME minus the arm it is compared to, over the seeds both finished."""
    arm = arms[name]
    ref = arms.get(arm.variant.compare_to or "")
    if ref is None:
        return None
    a, b = ref.final(key), arm.final(key)
    seeds = sorted(set(a) & set(b))
    return paired_difference([a[s] for s in seeds], [b[s] for s in seeds]) if seeds else None


def fmt(values: dict[int, float]) -> str:
    s = summary(list(values.values()))
    return f"{s.mean:.4f} ± {s.sd:.4f}" if s.n > 1 else f"{s.mean:.4f}"


def verdict(d: Difference | None) -> str:
    if d is None:
        return ""
    if d.n < 2:
        return f"{d.mean:+.4f} (one seed: no interval)"
    word = "clear" if d.clear else "within noise"
    return f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}] {word}"


def results_table(arms: dict[str, Arm]) -> str:
    """Per arm: seeds, final and best val loss and final bits per byte (mean ± sd over seeds), the paired difference
    of the final value against the arm it is compared to (95% CI; bits per byte where vocabularies differ)."""
    rows = [
        "| variant | what it changes | seeds | params | steps | final val loss | min val loss | final bits/byte "
        "| Δ vs | Δ final (95% CI) | min/run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, arm in arms.items():
        first = next(iter(arm.runs.values()))
        key = "val_bpb" if arm.variant.vocab_size else "val_loss"
        minutes = summary([r.train[-1]["time_s"] / 60 for r in arm.runs.values() if r.train]).mean
        rows.append(
            f"| {name} | {arm.variant.what} | {len(arm.runs)} | {first.header['num_params']:,} | "
            f"{first.header['max_steps']} | {fmt(arm.final('val_loss'))} | {fmt(arm.best('val_loss'))} | "
            f"{fmt(arm.final('val_bpb'))} | {arm.variant.compare_to or ''}{' (bpb)' if key == 'val_bpb' else ''} | "
            f"{verdict(paired(arms, name, key))} | {minutes:.1f} |"
        )
    return "\n".join(rows)


def epoch_starts(run: RunLogData) -> list[int]:
    """The steps at which the loader started a new epoch (the train records carry the loader's epoch)."""
    epochs = [r.get("epoch") or 0 for r in run.train]
    return [i for i in range(1, len(epochs)) if epochs[i] != epochs[i - 1]]


def epoch_residuals(run: RunLogData) -> list[np.ndarray]:
    """The train loss minus its moving-average trend, cut into epochs of equal length (from the loader's epoch in
    each train record); the epoch-by-epoch pattern that a loader replaying its order leaves."""
    starts = [0, *epoch_starts(run)]
    per_epoch = min(b - a for a, b in zip(starts, starts[1:])) if len(starts) > 1 else 0
    if per_epoch < 8:
        return []
    loss = np.array([r["loss"] for r in run.train])
    k = max(3, per_epoch // 8) | 1  # moving-average window for the trend (odd)
    resid = loss - np.convolve(np.pad(loss, k // 2, mode="edge"), np.ones(k) / k, mode="valid")
    return [resid[a : a + per_epoch] for a in starts if a + per_epoch <= len(resid)]


def epoch_correlation(run: RunLogData) -> float | None:
    """How periodic the train loss is: the correlation of each epoch's detrended loss curve with the next epoch's, step
    by step, averaged over epoch pairs after the first (a loader that replays its order gives a high value; a fresh
    shuffle ~0). None with fewer than three epochs."""
    epochs = epoch_residuals(run)[1:]  # the first epoch is mostly the fast initial descent: skip it
    pairs = [np.corrcoef(a, b)[0, 1] for a, b in zip(epochs, epochs[1:])]
    return float(np.mean(pairs)) if pairs else None


def periodicity_table(arms: dict[str, Arm]) -> str:
    rows = [
        "| loader (variant) | epoch-to-epoch correlation of the detrended train loss (mean ± sd over seeds) |",
        "|---|---|",
    ]
    for name in ("baseline", "periodicity-fix", "global-datafix"):
        if name in arms:
            corr = {s: c for s, r in arms[name].runs.items() if (c := epoch_correlation(r)) is not None}
            if corr:
                rows.append(f"| {EXPERIMENTS[name].loader} ({name}) | {fmt(corr)} |")
    return "\n".join(rows)


def plot_curves(
    arms: dict[str, Arm], names: list[str], path: Path, title: str, key: str = "val_loss", span: float = 1.5
) -> Path | None:
    """Mean val curve per arm with a min-max band over seeds; the y axis from the lowest value up SPAN."""
    names = [n for n in names if n in arms]
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in names:
        runs = list(arms[name].runs.values())
        steps = [e["step"] for e in runs[0].evals]
        vals = np.array([[e[key] for e in r.evals][: len(steps)] for r in runs if len(r.evals) >= len(steps)])
        line = ax.plot(steps, vals.mean(0), label=f"{name} (T={runs[0].header['seq_len']}, n={len(vals)})")[0]
        ax.fill_between(steps, vals.min(0), vals.max(0), color=line.get_color(), alpha=0.2)
    ax.set(xlabel="step", ylabel=key.replace("_", " "), title=title)
    low = min(e[key] for n in names for r in arms[n].runs.values() for e in r.evals)
    ax.set_ylim(low - 0.05, low + span)
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_effects(arms: dict[str, Arm], path: Path) -> Path | None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels, means, errs = [], [], []
    for name, arm in arms.items():
        key = "val_bpb" if arm.variant.vocab_size else "val_loss"
        d = paired(arms, name, key)
        if d is None or d.n < 2:
            continue
        labels.append(f"{name}\nvs {arm.variant.compare_to}" + (" (bpb)" if key == "val_bpb" else "") + f", n={d.n}")
        means.append(d.mean)
        errs.append([[d.mean - d.low], [d.high - d.mean]])
    if not labels:
        plt.close(fig)
        return None
    y = np.arange(len(labels))
    ax.errorbar(means, y, xerr=np.concatenate(errs, axis=1), fmt="o", capsize=4)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="Δ final val loss vs the variant before it (mean over seeds, 95% CI); < 0 is better")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_periodicity(arms: dict[str, Arm], path: Path) -> Path | None:
    """Per loader: the train loss with epoch boundaries (left), and each epoch's detrended loss over its own steps,
    overlaid (right): a replayed order draws the same curve every epoch."""
    names = [n for n in ("baseline", "periodicity-fix", "global-datafix") if n in arms]
    if not names:
        return None
    fig, axes = plt.subplots(len(names), 2, figsize=(13, 2.5 * len(names)), squeeze=False, width_ratios=(3, 2))
    for (left, right), name in zip(axes, names):
        seed, run = min(arms[name].runs.items())
        loss = [r["loss"] for r in run.train]
        left.plot(range(1, len(loss) + 1), loss, lw=0.8)
        starts = epoch_starts(run)
        for step in starts:
            left.axvline(step, color="grey", ls="--", lw=0.8)
        first = starts[0] if starts else 0
        left.set_ylim(min(loss[first:]) - 0.2, max(loss[first:]) + 0.2)
        corr = epoch_correlation(run)
        note = f", epoch-to-epoch r = {corr:.2f}" if corr is not None else ""
        left.set_title(f"{name}: {EXPERIMENTS[name].loader} loader (seed {seed}{note})", fontsize=9)
        left.set(ylabel="train loss", xlabel="step (dashed: epoch boundaries)")
        for e, resid in enumerate(epoch_residuals(run)[1:], start=2):
            right.plot(resid, lw=0.8, label=f"epoch {e}")
        right.set_title("train loss minus its trend, epochs overlaid", fontsize=9)
        right.set(xlabel="step within the epoch")
        right.legend(fontsize=7)
    return save_figure(fig, path)


def report(out: Path, variants: list[Variant], seeds: list[int], images: Path | None, overwrite: bool) -> str:
    arms = load_arms(out, variants, seeds)
    if not arms:
        raise UsageError(f"no finished runs under {out / 'runs'} yet: run the study first")
    settings = json.loads((out / "study.json").read_text())
    text = "\n\n".join(
        [
            f"# Study results ({out})",
            f"Scale: {settings['scale']}. Corpus: {settings['corpus']}.",
            results_table(arms),
            periodicity_table(arms),
        ]
    )
    atomic_write(out / "results.md", text + "\n")
    ladder = [n for n in EXPERIMENTS]
    plots = {
        "study-curves.png": lambda p: plot_curves(
            arms, ladder, p, "the six configs: val loss (band: min-max over seeds)"
        ),
        "study-context.png": lambda p: plot_curves(
            arms, ["rope-short-ctx", "rope", "rope-long-ctx"], p, "context length (rope)"
        ),
        "study-finetune.png": lambda p: plot_curves(
            arms, ["shakespeare-scratch", "shakespeare-finetune"], p, "Shakespeare: from init vs fine-tuned", span=3.0
        ),
        "study-effects.png": lambda p: plot_effects(arms, p),
        "study-periodicity.png": lambda p: plot_periodicity(arms, p),
    }
    for name, draw in plots.items():
        if draw(out / name) is None:
            continue
        if images is not None:
            target = images / f"gpt2-{name}"
            if target.exists() and not overwrite:
                raise UsageError(f"{target} exists: pass --overwrite to replace it")
            atomic_write(target, (out / name).read_bytes())
    return text


# --------------------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description="The GPT-2 experiment study: variants x seeds, resumable; see gpt2/study.py.")
    # what to run
    p.add_argument("--out", type=Path, default=Path("runs/study"), help="the study folder (resumable)")
    p.add_argument("--scale", choices=list(SCALES), default="cpu")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=non_negative_int, default=[0, 1, 2])
    p.add_argument("--corpus", type=Path, default=None, help="documents joined by <|endoftext|> (default: Gutenberg)")
    # how
    p.add_argument("--jobs", type=positive_int, default=2, help="runs at once (each with cores / jobs threads)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps")
    # report
    p.add_argument("--report-only", action="store_true", help="only the table and plots of the finished runs")
    p.add_argument("--images", type=Path, default=None, help="also write the plots here (e.g. images/)")
    p.add_argument("--overwrite", action="store_true", help="replace existing plots in --images")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # a name given twice would run twice at once into one folder
    args.variants, args.seeds = list(dict.fromkeys(args.variants)), list(dict.fromkeys(args.seeds))
    variants = [VARIANTS[n] for n in args.variants]
    scale = SCALES[args.scale]
    if "shakespeare-finetune" in args.variants and "rope" not in args.variants:
        raise UsageError("--variants shakespeare-finetune fine-tunes the rope runs: include rope")
    if not args.report_only:
        data = prepare_study(args.out, scale, args.corpus, variants)
        t0 = time.time()
        run_all(args.out, scale, variants, args.seeds, data, args.device, args.jobs)
        print(f"runs finished in {(time.time() - t0) / 60:.1f} min (this sitting)")
    print(report(args.out, variants, args.seeds, args.images, args.overwrite))
    return 0


if __name__ == "__main__":
    run(main)
