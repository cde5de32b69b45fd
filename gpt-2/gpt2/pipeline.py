"""The pipeline the demo and the tokenizer experiment run: corpus -> tokenizer -> shards -> train -> evaluate.

    cfg = PipelineConfig(out="runs/x", vocab_size=4096, config="rope", preset="mini", steps=500, ...)  # checked here
    corpus = corpus_file(heldout_txt, train_txt, Path(cfg.out))
    tokenizer, _ = train_tokenizer(cfg)                             # bpe.cli on the default corpus
    manifest, _ = prepare_shards(str(tokenizer), corpus, heldout_txt, Path(cfg.out) / "data")
    run, _ = train_model(cfg, Path(cfg.out) / "data")               # gpt2.train
    loss, bpb, bytes_per_token = evaluate_model(cfg, run.checkpoint, Path(cfg.out) / "data")

Each stage calls the code a full-size run uses (bpe.cli, gpt2.prepare, gpt2.train, gpt2.evaluate) and, where there is
one, returns the stand-alone command that does the same. The held-out documents come first in corpus.txt and the
first shard holds exactly their tokens, so the val split is exactly the held-out text.

The command lines of both callers share their flags (add_pipeline_flags: types checked at parse time, then
PipelineConfig.check) and their rule for OUT (claim_outputs): a run replaces only what an earlier run of the same
command wrote there, as OUT/outputs.json records, unless --overwrite says otherwise.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from bpe import cli as bpe_cli
from bpe.corpus import EOT
from gpt2.configs import TrainConfig, resolve
from gpt2.evaluate import evaluate_checkpoint
from gpt2.prepare import dataset_source, prepare, txt_documents
from gpt2.tokenizer import load_tokenizer
from gpt2.train import Run, train
from scratch.cli import UsageError, non_negative_int, positive_int
from scratch.device import pick_device
from scratch.files import atomic_write

MIN_VOCAB = 258  # 256 bytes + <|endoftext|> + at least one merge
OUTPUTS = "outputs.json"  # what a demo / experiment run wrote under OUT: a later run may replace those, nothing else


@dataclass
class PipelineConfig:
    """Everything the stages decide. No defaults: each caller states its own values. Checked when made."""

    out: str  # every stage writes under this directory
    # tokenizer
    vocab_size: int
    # model and training: experiment `config` of gpt2.configs (e.g. "rope") with these TrainConfig settings on top
    config: str
    preset: str  # gpt2.model preset
    steps: int
    batch_tokens: int  # tokens per optimizer step
    micro_batch: int
    seq_len: int
    eval_every: int
    val_batches: int  # micro-batches per evaluation during training; evaluate_model reads the whole val split
    eval_sample_tokens: int  # the trainer's short sample at each evaluation (0: none)
    hellaswag: str | None  # the trainer's HellaSwag evaluation: None (skip), "auto" or a jsonl path
    keep_last: int  # checkpoints the trainer keeps (it saves every `steps`: the final one)
    device: str  # auto | cpu | cuda | mps
    threads: int | None  # torch intra-op threads on CPU (None or 0: torch's default)
    seed: int

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """The tokenizer's rule here; the model and training settings are TrainConfig's to check (TrainConfig.check)."""
        if self.vocab_size < MIN_VOCAB:
            raise ValueError(
                f"--vocab-size {self.vocab_size} leaves no merges (256 bytes + <|endoftext|>): use >= {MIN_VOCAB}"
            )
        self.train_config(Path(self.out) / "data").check()

    def train_overrides(self, data: Path, run_name: str = "model") -> dict:
        """gpt2.train's TrainConfig fields for the run (on top of experiment `config`): a checkpoint at the end, and
        about 20 console lines. The order of the keys is the order of the flags in the equivalent command."""
        return dict(
            model=self.preset,
            data=str(data),
            total_batch_tokens=self.batch_tokens,
            micro_batch=self.micro_batch,
            seq_len=self.seq_len,
            max_steps=self.steps,
            eval_every=self.eval_every,
            val_batches=self.val_batches,
            hellaswag=self.hellaswag,
            sample_tokens=self.eval_sample_tokens,
            out=str(Path(self.out)),
            run_name=run_name,
            ckpt_every=self.steps,
            keep_last=self.keep_last,
            log_every=max(1, self.steps // 20),
            device=self.device,
            seed=self.seed,
        )

    def train_config(self, data: Path, run_name: str = "model") -> TrainConfig:
        return resolve(self.config, **self.train_overrides(data, run_name))


# The flags both command lines share, with the type that checks each at parse time (ranges; PipelineConfig.check
# adds the rules between them): field -> (type, help).
FLAGS: dict[str, tuple] = {
    "vocab_size": (positive_int, f"BPE vocabulary: 256 bytes + merges + <|endoftext|> (>= {MIN_VOCAB})"),
    "preset": (str, "model preset: tiny, mini, small, ..., gpt2 (124M)"),
    "steps": (positive_int, "optimizer steps"),
    "batch_tokens": (positive_int, "tokens per optimizer step (a multiple of micro-batch x seq-len)"),
    "micro_batch": (positive_int, "sequences per forward pass"),
    "seq_len": (positive_int, "tokens per sequence (<= the preset's block size)"),
    "eval_every": (positive_int, "val loss + a short sample every N steps"),
    "val_batches": (positive_int, "val micro-batches per evaluation during training"),
    "device": (str, "auto (GPU if present) | cpu | cuda | mps"),
    "threads": (
        non_negative_int,
        "torch CPU threads (default: torch's own, every core); on a machine shared with other jobs --threads 1 is "
        "often faster for these small matmuls",
    ),
    "seed": (non_negative_int, "random seed (model init, batches, samples)"),
}


def add_pipeline_flags(p: argparse.ArgumentParser, defaults: PipelineConfig) -> None:
    """--vocab-size, --steps, ... (FLAGS), with DEFAULTS' values, plus --out and --overwrite."""
    p.add_argument("--out", default=defaults.out, help="run folder (a rerun replaces only what its last run wrote)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace files in --out that another command (or you) put there"
    )
    for name, (kind, help) in FLAGS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, default=getattr(defaults, name), help=help)


def pipeline_settings(args: argparse.Namespace) -> dict:
    """The PipelineConfig fields the parsed flags set."""
    return {"out": args.out, **{name: getattr(args, name) for name in FLAGS}}


def claim_outputs(out: Path, made_by: str, outputs: list[str], overwrite: bool = False) -> None:
    """Make OUT ready for a run of MADE_BY that writes OUTPUTS (names under OUT): existing ones that the last run of
    MADE_BY recorded in OUT/outputs.json are removed; any other existing one is refused (UsageError naming it and
    the two ways out) unless OVERWRITE. The record is written before anything else, so that a run killed half-way
    is still ours to replace."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file: give a folder")
    record = out / OUTPUTS
    owned = _owned(record, made_by)
    existing = [n for n in outputs if (out / n).exists() or (out / n).is_symlink()]
    foreign = [n for n in existing if n not in (owned or ())]
    if owned is None and record.exists():  # another command's record, or a file of the user's that has its name
        foreign.append(OUTPUTS)
    if foreign and not overwrite:
        raise UsageError(
            f"{out / foreign[0]} exists and was not written by {made_by}: give another --out, or pass --overwrite "
            f"to replace it"
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(record, json.dumps({"made_by": made_by, "outputs": outputs}, indent=1) + "\n")
    for name in existing:
        path = out / name
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _owned(record: Path, made_by: str) -> set[str] | None:
    """The names a run of MADE_BY recorded as its outputs (None: no record of MADE_BY's there)."""
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("made_by") != made_by or not isinstance(data.get("outputs"), list):
        return None
    return set(data["outputs"])


# ---------------------------------------------------------------------------------------------------------- helpers
def cmd(script: str, **flags) -> str:
    """A shell command line: `uv run --no-sync python SCRIPT --flag value ...` (None skipped, True -> bare flag)."""
    parts = ["uv", "run", "--no-sync", "python", script]
    for k, v in flags.items():
        if v is None or v is False:
            continue
        parts.append("--" + k.replace("_", "-"))
        if v is not True:
            parts.append(str(v))
    return shlex.join(parts)


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def set_threads(cfg: PipelineConfig) -> None:
    """cfg.threads torch intra-op threads when computing on the CPU (small matmuls: fewer threads are often faster)."""
    if cfg.threads and pick_device(cfg.device).type == "cpu":
        torch.set_num_threads(cfg.threads)


# ---------------------------------------------------------------------------------------------------------- stages
def corpus_file(heldout: Path, train_text: Path, out: Path) -> Path:
    """OUT/corpus.txt: the held-out documents, then the training ones (prepare.py makes the first shard val)."""
    path = out / "corpus.txt"
    atomic_write(path, heldout.read_bytes() + EOT.encode() + train_text.read_bytes())
    return path


def train_tokenizer(cfg: PipelineConfig) -> tuple[Path, str]:
    """A byte-level BPE of cfg.vocab_size tokens, trained by bpe-rs on the default corpus's training plays through
    bpe.cli (which prints its compression on the held-out plays); returns (OUT/tokenizer.model, equivalent command)."""
    out = Path(cfg.out)
    args = dict(vocab_size=cfg.vocab_size, out=out / "tokenizer")
    bpe_cli.main([a for k, v in args.items() for a in (f"--{k.replace('_', '-')}", str(v))])
    return out / "tokenizer.model", cmd("bpe/train.py", **args)


def val_shard_tokens(tok, heldout: Path) -> int:
    """Tokens prepare.py writes for the held-out documents ([eot] + ids each): the shard size that makes them the
    val shard exactly. Uses the same document split as prepare.py (txt_documents)."""
    docs = list(txt_documents(heldout))
    return sum(1 + len(ids) for ids in tok.encode_ordinary_batch(docs))


def prepare_shards(
    tokenizer: str, corpus: Path, heldout: Path, out: Path, workers: int | None = None
) -> tuple[dict, str]:
    """Shards of corpus.txt under OUT with TOKENIZER (a gpt2.tokenizer spec); returns (manifest, equivalent command)."""
    shard_tokens = val_shard_tokens(load_tokenizer(tokenizer), heldout)
    manifest = prepare(dataset_source(str(corpus)), tokenizer, out, shard_tokens, workers=workers)
    return manifest, cmd("gpt-2/prepare.py", dataset=corpus, tokenizer=tokenizer, shard_tokens=shard_tokens, out=out)


def train_model(cfg: PipelineConfig, data: Path, run_name: str = "model") -> tuple[Run, str]:
    """Train experiment cfg.config on the shards in DATA through gpt2.train, into OUT/RUN_NAME; returns
    (Run, equivalent command)."""
    run = train(cfg.train_config(data, run_name))
    return run, train_command(cfg, data, run_name)


def train_command(cfg: PipelineConfig, data: Path, run_name: str = "model") -> str:
    """`python gpt-2/train.py ...`: the same run as train_model's, from the command line."""
    kw = cfg.train_overrides(data, run_name)
    return cmd("gpt-2/train.py", config=cfg.config, **{**kw, "hellaswag": kw["hellaswag"] or "none"})


def evaluate_model(cfg: PipelineConfig, checkpoint: Path, data: Path) -> tuple[float, float, float]:
    """(val loss in nats/token, bits per byte, bytes per token) of a checkpoint over the whole val split."""
    return evaluate_checkpoint(checkpoint, data, cfg.micro_batch, cfg.seq_len, pick_device(cfg.device))
