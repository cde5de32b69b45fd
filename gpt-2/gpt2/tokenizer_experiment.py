"""The tokenizer-effect experiment: does the tokenizer change how well the same GPT-2 learns the same text?

    python gpt-2/tokenizer_experiment.py                     # small CPU scale, a few minutes
    python gpt-2/tokenizer_experiment.py --vocab-size 16384 --tokenizer-bytes 1G --preset gpt2 --steps 5000 \
        --batch-tokens 524288 --micro-batch 16 --seq-len 1024 --device cuda --out runs/tok-exp-16k   # near the original

Two byte-level BPE tokenizers of the same vocabulary are trained by bpe-rs on two domains: A, Shakespeare's plays
(the default offline corpus, or any UTF-8 file), and B, other English text (default ../shared/data/gutenberg-en.txt,
Project Gutenberg books). Then:

1. compression: bytes per token of both and of GPT-2's tokenizer on held-out text of both domains
   (bpe.report.compression_table; text no tokenizer was trained on)
2. training: the same rope GPT-2 is trained on domain A's text once per tokenizer (A's, B's, GPT-2's) through the
   stages of gpt2.pipeline, which the demo runs too (gpt2.prepare shards, gpt2.train), for the same number of steps
   of the same number of tokens, and evaluated on domain A's held-out text in bits per byte (loss per byte of text:
   fair across vocabularies and compression rates)

Writes OUT/results.md (both tables) and OUT/tokenizer-experiment.png; --image PATH saves a copy of the plot there
too (e.g. images/tokenizer-experiment.png, never by default). OUT/outputs.json records what the experiment writes in
OUT: a rerun replaces those and nothing else; a file of those names from elsewhere stops it before any work (give
another --out, or pass --overwrite).
The original (16K tokenizers on TinyStoriesV2 and FineWeb, GPT-2 124M for 5K steps on FineWeb) is cited in
bpe/README.md beside this experiment's figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from bpe import Tokenizer
from bpe.corpus import EOT, default_corpus
from bpe.report import bytes_per_token, compression_table
from gpt2.evaluate import bits_per_byte
from gpt2.pipeline import (
    PipelineConfig,
    add_pipeline_flags,
    banner,
    claim_outputs,
    corpus_file,
    evaluate_model,
    pipeline_settings,
    prepare_shards,
    set_threads,
    train_model,
)
from gpt2.plot import load_run
from gpt2.prepare import count_at_least
from gpt2.shards import bytes_per_token as shard_bytes_per_token
from gpt2.shards import read_manifest
from scratch.cli import ArgumentParser
from scratch.files import atomic_write
from scratch.plot import plt, save_figure

GUTENBERG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gutenberg-en.txt"
PLAYS = "shakespeare-plays"
MADE_BY = "gpt-2/tokenizer_experiment.py"
PLOT = "tokenizer-experiment.png"

# The experiment's settings at CPU scale (the command line overrides most): the same model and steps for every
# tokenizer. During training the trainer writes a 24-token sample at each evaluation, skips HellaSwag (chance at
# this size) and keeps only the final checkpoint.
DEFAULTS = PipelineConfig(
    out="runs/tokenizer-experiment",
    vocab_size=4096,
    config="rope",
    preset="tiny",
    steps=60,
    batch_tokens=4096,
    micro_batch=16,
    seq_len=128,
    eval_every=20,
    val_batches=8,
    eval_sample_tokens=24,
    hellaswag=None,
    keep_last=1,
    device="auto",
    threads=None,
    seed=1337,
)


@dataclass
class Domain:
    name: str
    train: Path  # the text the tokenizer (and, for domain A, the model) trains on
    heldout: Path  # text nothing trains on: compression and val


@dataclass
class Row:
    """One trained model: which tokenizer, and what it reached."""

    tokenizer: str
    trained_on: str
    vocab: int
    params: int
    val_bytes_per_token: float
    train_bytes_per_token: float
    tokens_seen: int
    val_loss: float

    @property
    def val_bpb(self) -> float:
        return bits_per_byte(self.val_loss, self.val_bytes_per_token)

    @property
    def bytes_seen(self) -> float:
        return self.tokens_seen * self.train_bytes_per_token


def results_table(rows: list[Row]) -> str:
    """Markdown, one row per model; the best (lowest) bits per byte in bold, the others' gap to it in percent."""
    best = min(r.val_bpb for r in rows)
    lines = [
        "| tokenizer | trained on | vocab | params | val bytes/token | tokens seen | text seen | val loss "
        "(nats/token) | val bits/byte | vs best |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        bpb = f"{r.val_bpb:.4f}"
        gap = "best" if r.val_bpb == best else f"+{100 * (r.val_bpb / best - 1):.1f}%"
        lines.append(
            f"| {r.tokenizer} | {r.trained_on} | {r.vocab:,} | {r.params:,} | {r.val_bytes_per_token:.2f} | "
            f"{r.tokens_seen:,} | {r.bytes_seen / 1e6:.2f} MB | {r.val_loss:.4f} | "
            f"{f'**{bpb}**' if r.val_bpb == best else bpb} | {gap} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- domains
def domain_from_file(path: Path, out: Path, train_bytes: int, heldout_bytes: int) -> Domain:
    """The first TRAIN_BYTES of a file to train on and its last HELDOUT_BYTES held out, cut at line ends, as files
    under OUT (a clear error when the file is missing or too small for both)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: pass a UTF-8 text file for this domain (e.g. --domain-b "
            f"../shared/data/multilingual.txt)"
        )
    size = path.stat().st_size
    if size < 2 * heldout_bytes:
        raise ValueError(f"{path} has {size:,} bytes, too few to hold out {heldout_bytes:,}: lower --heldout-bytes")
    train_bytes = min(train_bytes, size - heldout_bytes)
    with open(path, "rb") as f:
        head = f.read(train_bytes)
        f.seek(size - heldout_bytes)
        tail = f.read()
    head = head[: head.rfind(b"\n") + 1] or head
    tail = tail[tail.find(b"\n") + 1 :]
    name = path.stem
    for part, data in (("train", head), ("heldout", tail)):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 text ({e.reason} in its {part} part): convert it first") from None
        atomic_write(out / f"{name}.{part}.txt", data)
    return Domain(name, out / f"{name}.train.txt", out / f"{name}.heldout.txt")


def load_domain(spec: str, out: Path, train_bytes: int, heldout_bytes: int) -> Domain:
    if spec == PLAYS:
        train, heldout = default_corpus()
        return Domain(PLAYS, train, heldout)
    return domain_from_file(Path(spec), out, train_bytes, heldout_bytes)


# ---------------------------------------------------------------------------------------------------------- the run
def outputs(domains: list[str], vocab_size: int, with_gpt2: bool = True) -> list[str]:
    """Every name the experiment writes under OUT for these domains (PLAYS or a file's path)."""
    names = [PLAYS if d == PLAYS else Path(d).stem for d in domains]
    toks = [f"{n}-{vocab_size}" for n in names] + (["gpt2"] if with_gpt2 else [])
    files = [f"{n}.{part}.txt" for n in names if n != PLAYS for part in ("train", "heldout")]
    models = [f"{t}.{ext}" for t in toks if t != "gpt2" for ext in ("model", "vocab")]
    runs = [f"{kind}-{t}" for t in toks for kind in ("data", "model")]
    return [*files, *models, "corpus.txt", *runs, "results.md", PLOT]


def run_experiment(
    a: Domain, b: Domain, cfg: PipelineConfig, image: Path | None, with_gpt2: bool = True
) -> tuple[str, list[Row]]:
    """Train both tokenizers (cfg.vocab_size tokens each), compare compression, train one model per tokenizer;
    returns (markdown, rows). OUT must be ready (claim_outputs); the plot goes to OUT/PLOT, and to IMAGE if given."""
    vocab_size = cfg.vocab_size
    set_threads(cfg)
    out = Path(cfg.out)
    t_start = time.perf_counter()

    banner(f"1/3 tokenizers: {vocab_size:,} tokens each, trained by bpe-rs on {a.name} and on {b.name}")
    specs: dict[str, str] = {}
    toks: dict[str, Tokenizer] = {}
    sources: dict[str, str] = {}
    for d in (a, b):
        t0 = time.perf_counter()
        tok = Tokenizer.train(
            path=d.train,
            vocab_size=vocab_size,
            pattern="gpt4",
            special_tokens=[EOT],
            progress=True,
            name=f"{d.name}-{vocab_size}",
        )
        model_path = tok.save(out / tok.name)
        print(f"{tok.name}: {d.train.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s -> {model_path}")
        specs[tok.name], toks[tok.name], sources[tok.name] = str(model_path), tok, d.name
    if with_gpt2:
        specs["gpt2"], toks["gpt2"], sources["gpt2"] = "gpt2", Tokenizer.from_tiktoken("gpt2"), "WebText (OpenAI)"

    banner("2/3 compression on held-out text (bytes per token; higher = shorter sequences)")
    texts = {f"{d.name} (held out)": d.heldout.read_text(encoding="utf-8") for d in (a, b)}
    compression = compression_table(toks, texts)
    print(compression)

    banner(
        f"3/3 the same rope GPT-2 ({cfg.preset}, {cfg.steps} steps x {cfg.batch_tokens:,} tokens) on {a.name}, "
        f"once per tokenizer"
    )
    corpus = corpus_file(a.heldout, a.train, out)
    rows, runs = [], {}
    for name, spec in specs.items():
        data = out / f"data-{name}"  # claim_outputs removed an earlier run's: the trainer refuses old checkpoints
        prepare_shards(spec, corpus, a.heldout, data)
        run, _ = train_model(cfg, data, run_name=f"model-{name}")
        loss, _, bpt = evaluate_model(cfg, run.checkpoint, data)
        log = load_run(run.run_dir)
        runs[name] = log
        rows.append(
            Row(
                name,
                sources[name],
                read_manifest(data)["vocab_size"],
                log.header["num_params"],
                bpt,
                shard_bytes_per_token(data, "train"),
                cfg.steps * cfg.batch_tokens,
                loss,
            )
        )
        print(f"{name}: val loss {loss:.4f}, {rows[-1].val_bpb:.4f} bits per byte")
        print(
            f"compression check: {bytes_per_token(toks[name], texts[f'{a.name} (held out)']):.3f} bytes/token "
            f"(report) vs {bpt:.3f} (val shard)"
        )

    minutes = (time.perf_counter() - t_start) / 60
    device = next(iter(runs.values())).header.get("device")
    md = "\n".join(
        [
            f"# Tokenizer-effect experiment ({vocab_size:,}-token tokenizers; {cfg.preset} rope GPT-2, "
            f"{cfg.steps} steps x {cfg.batch_tokens:,} tokens on {a.name}; {device}, {minutes:.1f} min)",
            "",
            "## Compression (bytes per token on held-out text)",
            "",
            compression,
            "",
            f"## Training on {a.name}: val bits per byte on its held-out text",
            "",
            results_table(rows),
            "",
        ]
    )
    atomic_write(out / "results.md", md.encode())
    for path in (out / PLOT, image) if image is not None else (out / PLOT,):
        plot_experiment(toks, texts, runs, rows, path)
        print(f"saved {path}")
    print(f"\n{md}\nwrote {out / 'results.md'}")
    return md, rows


def plot_experiment(toks: dict, texts: dict, runs: dict, rows: list[Row], image: Path) -> Path:
    """Left: bytes per token of every tokenizer on both held-out texts. Right: val bits per byte against steps."""
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / len(texts)
    bpt = {label: [bytes_per_token(t, text) for t in toks.values()] for label, text in texts.items()}
    for j, (label, vals) in enumerate(bpt.items()):
        xs = [i + (j - (len(texts) - 1) / 2) * width for i in range(len(toks))]
        bars = ax0.bar(xs, vals, width, label=label)
        ax0.bar_label(bars, fmt="%.2f", fontsize=8)
    ax0.set_ylim(0, 1.25 * max(max(v) for v in bpt.values()))  # room for the legend above the bars
    ax0.set_xticks(range(len(toks)), list(toks), rotation=10)
    ax0.set_ylabel("bytes per token (higher = better compression)")
    ax0.set_title("compression on held-out text")
    ax0.legend()
    for row in rows:
        evals = [(e["step"], e["val_bpb"]) for e in runs[row.tokenizer].evals]
        ax1.plot(*zip(*evals), marker=".", label=f"{row.tokenizer}: {row.val_bpb:.3f} (final, whole val)")
    ax1.set_xlabel("step")
    ax1.set_ylabel("val bits per byte")
    ax1.set_title("same model, same steps, same text: val bits per byte")
    ax1.grid(alpha=0.3)
    ax1.legend()
    return save_figure(fig, image)


# ---------------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, each checked here (one line naming the flag, exit 2, before any work); args.cfg is the
    PipelineConfig they make."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # domains
    p.add_argument(
        "--domain-a", default=PLAYS, help=f"{PLAYS} (default) or a UTF-8 file: tokenizer A and the models train on it"
    )
    p.add_argument("--domain-b", default=str(GUTENBERG), help="a UTF-8 file for tokenizer B")
    p.add_argument(
        "--tokenizer-bytes", type=count_at_least(1), default="4M", help="text per file-domain to train on (K/M/G)"
    )
    p.add_argument(
        "--heldout-bytes", type=count_at_least(1), default="1M", help="text per file-domain held out (its end)"
    )
    p.add_argument("--no-gpt2", action="store_true", help="leave GPT-2's tokenizer out (it needs tiktoken's cache)")
    # --out, --overwrite, tokenizers (--vocab-size), model and training (the same for every tokenizer)
    add_pipeline_flags(p, DEFAULTS)
    p.add_argument("--image", default=None, help="also save the plot here (e.g. images/tokenizer-experiment.png)")
    args = p.parse_args(argv)
    for flag, spec in (("--domain-a", args.domain_a), ("--domain-b", args.domain_b)):
        if spec != PLAYS and not Path(spec).is_file():
            p.error(f"argument {flag}: {spec} is not a file: give {PLAYS} or a UTF-8 text file")
    if args.image is not None and Path(args.image).is_dir():
        p.error(f"argument --image: {args.image} is a folder: give a file name")
    if outputs([args.domain_a], 1) == outputs([args.domain_b], 1):
        p.error("--domain-a and --domain-b name the same domain: give two different texts")
    try:
        args.cfg = dataclasses.replace(DEFAULTS, **pipeline_settings(args))
    except ValueError as e:  # PipelineConfig.check: the rules between flags
        p.error(str(e))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    claim_outputs(
        out, MADE_BY, outputs([args.domain_a, args.domain_b], args.vocab_size, not args.no_gpt2), args.overwrite
    )
    sizes = args.tokenizer_bytes, args.heldout_bytes
    a = load_domain(args.domain_a, out, *sizes)
    b = load_domain(args.domain_b, out, *sizes)
    run_experiment(a, b, args.cfg, Path(args.image) if args.image else None, not args.no_gpt2)
    return 0
