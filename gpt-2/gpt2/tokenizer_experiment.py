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

Writes OUT/results.md (both tables) and a plot (--image, default images/tokenizer-experiment.png).
The original (16K tokenizers on TinyStoriesV2 and FineWeb, GPT-2 124M for 5K steps on FineWeb) is cited in
bpe/README.md beside this experiment's figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bpe import Tokenizer
from bpe.corpus import EOT, default_corpus
from bpe.report import bytes_per_token, compression_table
from gpt2.data import bytes_per_token as shard_bytes_per_token
from gpt2.data import read_manifest
from gpt2.evaluate import bits_per_byte
from gpt2.pipeline import PipelineConfig, banner, corpus_file, evaluate_model, prepare_shards, set_threads, train_model
from gpt2.plot import load_run
from gpt2.prepare import parse_count
from scratch.files import atomic_write
from scratch.plot import plt, save_figure

GUTENBERG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gutenberg-en.txt"
PLAYS = "shakespeare-plays"

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
    threads=1,
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
def run_experiment(
    a: Domain, b: Domain, cfg: PipelineConfig, image: Path | None, with_gpt2: bool = True
) -> tuple[str, list[Row]]:
    """Train both tokenizers (cfg.vocab_size tokens each), compare compression, train one model per tokenizer;
    returns (markdown, rows)."""
    vocab_size = cfg.vocab_size
    set_threads(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
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
        data = out / f"data-{name}"
        for old in (data, out / f"model-{name}"):  # a rerun starts over (the trainer refuses old checkpoints)
            shutil.rmtree(old, ignore_errors=True)
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
    if image is not None:
        plot_experiment(toks, texts, runs, rows, image)
        print(f"saved {image}")
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
def main(argv: list[str] | None = None) -> str:
    D = DEFAULTS
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # domains
    p.add_argument(
        "--domain-a", default=PLAYS, help=f"{PLAYS} (default) or a UTF-8 file: tokenizer A and the models train on it"
    )
    p.add_argument("--domain-b", default=str(GUTENBERG), help="a UTF-8 file for tokenizer B")
    p.add_argument("--tokenizer-bytes", default="4M", help="text per file-domain to train on (K/M/G suffixes)")
    p.add_argument("--heldout-bytes", default="1M", help="text per file-domain held out (its end)")
    # tokenizers
    p.add_argument("--vocab-size", type=int, default=D.vocab_size, help="of both tokenizers (the original: 16384)")
    p.add_argument("--no-gpt2", action="store_true", help="leave GPT-2's tokenizer out (it needs tiktoken's cache)")
    # model and training (the same for every tokenizer)
    p.add_argument("--preset", default=D.preset)
    p.add_argument("--steps", type=int, default=D.steps)
    p.add_argument("--batch-tokens", type=int, default=D.batch_tokens)
    p.add_argument("--micro-batch", type=int, default=D.micro_batch)
    p.add_argument("--seq-len", type=int, default=D.seq_len)
    p.add_argument("--eval-every", type=int, default=D.eval_every)
    p.add_argument("--val-batches", type=int, default=D.val_batches)
    p.add_argument("--device", default=D.device)
    p.add_argument("--threads", type=int, default=D.threads, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=D.seed)
    # output
    p.add_argument("--out", default=D.out, help="run directory (its data-*/ and model-*/ are replaced)")
    p.add_argument("--image", default="images/tokenizer-experiment.png", help="the plot ('' for none)")
    args = p.parse_args(argv)
    try:
        cfg = dataclasses.replace(
            D,
            out=args.out,
            vocab_size=args.vocab_size,
            preset=args.preset,
            steps=args.steps,
            batch_tokens=args.batch_tokens,
            micro_batch=args.micro_batch,
            seq_len=args.seq_len,
            eval_every=args.eval_every,
            val_batches=args.val_batches,
            device=args.device,
            threads=args.threads,
            seed=args.seed,
        )
    except ValueError as e:  # checked before any work
        p.error(str(e))
    out = Path(args.out)
    sizes = parse_count(args.tokenizer_bytes), parse_count(args.heldout_bytes)
    a = load_domain(args.domain_a, out, *sizes)
    b = load_domain(args.domain_b, out, *sizes)
    if a.name == b.name:
        p.error(f"the two domains are the same ({a.name}): give two different texts")
    md, _ = run_experiment(a, b, cfg, Path(args.image) if args.image else None, not args.no_gpt2)
    return md
