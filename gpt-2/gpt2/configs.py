"""The six named experiments of the GPT-2 reproduction, as one table of data, and the training config they fill in.

    python gpt-2/train.py --config rope            # the experiment names are the keys of EXPERIMENTS
    python -m gpt2.configs                          # print the table

Each experiment is one of the original's runs (GPT-2 124M, ~10B FineWeb-Edu tokens, one epoch), cumulative in the
order they were run: each row changes one thing from the row before it (swiglu is rope + SwiGLU). Every setting is
read from the original's `train_gpt2.py` at the commit in the table's last column, not from its README's prose (the
two disagree: gpt-2/README.md lists where).

    baseline        learned positions, GELU, max lr 6e-4, warmup 715 steps, sequential loader
    periodicity-fix + shuffle-shards loader (shard order shuffled once, documents reshuffled at every shard load)
    lr-inc          + max lr 1.5e-3 (2.5x) and warmup 300 steps
    global-datafix  + global loader (a permutation of all T-aligned windows of all shards)
    rope            + rotary position embeddings instead of learned positions
    swiglu          rope with a SwiGLU MLP instead of GELU

The warmup counts are for the original's 19,073-step epoch (10B tokens / 524,288 tokens per step). A shorter run keeps
the same *fraction* of the run as warmup (`TrainConfig.warmup`), so at any scale the experiments differ in the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from gpt2.model import PRESETS

# The original's run length: 10B tokens at 2**19 tokens per step (build-nanogpt's max_steps).
ORIGINAL_STEPS = 19073


@dataclass(frozen=True)
class Experiment:
    name: str
    pos_emb: str  # "learned" | "rope"
    mlp: str  # "gelu" | "swiglu"
    max_lr: float
    warmup_steps: int  # at ORIGINAL_STEPS; scaled for shorter runs
    loader: str  # "sequential" | "shuffle-shards" | "global" (gpt2.data.make_loader kinds)
    description: str
    commit: str  # the original's commit whose train_gpt2.py these settings are read from


# fmt: off
# A table reads best as one: its rows stay as wide as they need.
# ruff: noqa: E501
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [
    #          name               pos_emb    mlp       max_lr  warmup loader            what changed                                        original commit
    Experiment("baseline",        "learned", "gelu",   6e-4,   715,   "sequential",     "original GPT-2 architecture, build-nanogpt recipe", "301fb8c"),
    Experiment("periodicity-fix", "learned", "gelu",   6e-4,   715,   "shuffle-shards", "+ shard order shuffled once, documents reshuffled at every shard load", "6061123"),
    Experiment("lr-inc",          "learned", "gelu",   1.5e-3, 300,   "shuffle-shards", "+ 2.5x max learning rate, shorter warmup", "f1d6c78"),
    Experiment("global-datafix",  "learned", "gelu",   1.5e-3, 300,   "global",         "+ a permutation of all T-aligned windows of all shards", "c952c26"),
    Experiment("rope",            "rope",    "gelu",   1.5e-3, 300,   "global",         "+ rotary position embeddings (wpe removed)", "2e339d1"),
    Experiment("swiglu",          "rope",    "swiglu", 1.5e-3, 300,   "global",         "rope with a SwiGLU MLP", "b3dd4d8"),
]}
# fmt: on

# What the original reported for each experiment (124M, ~10B FineWeb-Edu tokens, 4x H100; swiglu stopped at ~15K steps).
ORIGINAL_RESULTS = {  # name: (min val loss, max HellaSwag acc_norm)
    "baseline": (3.0658, 0.3037),
    "periodicity-fix": (3.0639, 0.3055),
    "lr-inc": (3.0210, 0.3155),
    "global-datafix": (3.0045, 0.3169),
    "rope": (2.9874, 0.3202),
    "swiglu": (3.0311, 0.3175),
}


# The lowest value of each numeric setting (an int: inclusive; a float: exclusive), as the CLI's flag types enforce.
RANGES = {
    "total_batch_tokens": 1,
    "micro_batch": 1,
    "seq_len": 1,
    "block_size": 1,
    "max_lr": 0.0,
    "warmup_steps": 0,
    "weight_decay": 0,
    "grad_clip": 0.0,
    "seed": 0,
    "eval_every": 0,
    "val_batches": 1,
    "hellaswag_examples": 1,
    "sample_tokens": 0,
    "ckpt_every": 1,
    "keep_last": 0,
    "stop_at": 1,
    "log_every": 1,
}


@dataclass
class TrainConfig:
    """Everything a run needs; saved with the run (log.jsonl, checkpoints) as a dict of primitives."""

    # experiment and model
    config: str = "baseline"  # a key of EXPERIMENTS
    model: str | None = "gpt2"  # a gpt2.model preset name (gpt2, tiny, mini, small, ...); None: init_from's
    block_size: int | None = None  # None: the preset's (or init_from's)
    init_from: str | None = None  # fine-tune: a gpt2 checkpoint or run folder, or "gpt2" (OpenAI's weights)
    # data
    data: str = "data/edu10B"  # shard directory written by gpt-2/prepare.py
    # batch: total_batch_tokens = micro_batch * seq_len * world_size * grad_accum_steps
    total_batch_tokens: int = 524288  # 2**19, GPT-3 small's ~0.5M
    micro_batch: int = 64
    seq_len: int | None = None  # None: the model's block size
    # optimization (None: from the experiment)
    max_steps: int | None = None  # None: one epoch of the training shards
    max_lr: float | None = None
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 1337
    # evaluation
    eval_every: int = 250
    val_batches: int | None = 20  # micro-batches of val per evaluation (None: the whole val split)
    hellaswag: str | None = "auto"  # "auto": download/cache the official val set; a path; None: skip
    hellaswag_examples: int | None = None  # None: all 10,042
    sample_tokens: int = 32
    sample_prompt: str = "Hello, I'm a language model,"
    # checkpoints and logs
    out: str = "runs/gpt2"  # the run goes to OUT/RUN_NAME
    run_name: str | None = None  # None: the config name
    ckpt_every: int = 5000
    keep_last: int = 3  # 0: keep every checkpoint
    stop_at: int | None = None  # save and exit after this step (split a run into jobs; the schedule is unchanged)
    log_every: int = 1
    # system
    device: str = "auto"
    compile: bool = False
    wandb: bool = False
    experiment: dict = field(default_factory=dict)  # filled by resolve(): the Experiment row as a dict

    @property
    def exp(self) -> Experiment:
        return EXPERIMENTS[self.config]

    @property
    def lr(self) -> float:
        return self.max_lr if self.max_lr is not None else self.exp.max_lr

    def warmup(self, max_steps: int) -> int:
        """Warmup steps for a run of max_steps: the experiment's count at full length, the same fraction if shorter."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        if max_steps >= ORIGINAL_STEPS:
            return self.exp.warmup_steps
        return max(1, round(self.exp.warmup_steps * max_steps / ORIGINAL_STEPS))

    def context(self) -> int | None:
        """The model's block size: --block-size, else the preset's; None when init_from's decides (unknown here)."""
        if self.block_size is not None:
            return self.block_size
        return None if self.init_from else PRESETS[self.model]["block_size"]

    def _context_name(self, seq_len: int) -> str:
        """Where the block size comes from, and the fix, for the refusal of a --seq-len above it."""
        if self.block_size is not None:
            return "(--block-size)"
        if self.init_from:
            return f"(the block size of --init-from {self.init_from})"
        return f"(the {self.model} block size): pass --block-size {seq_len} for a longer context"

    def check(self, world_size: int = 1, block_size: int | None = None) -> None:
        """Refuse settings that cannot train, before any work: a number out of its range, an unknown preset, a
        sequence longer than the model's context, a step that micro-batches on WORLD_SIZE ranks do not fill exactly,
        a run of no steps. BLOCK_SIZE: the model's, once known (init_from's). (The CLI checks each flag's range as it parses; this is the same rule for callers of
        train() and the one place for the rules that involve several settings.)"""
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"--max-steps {self.max_steps}: a run of {self.max_steps} steps; it needs at least one")
        for name, low in RANGES.items():
            value = getattr(self, name)
            if value is not None and (value < low if isinstance(low, int) else value <= low):
                need = f">= {low}" if isinstance(low, int) else f"> {low:g}"
                raise ValueError(f"--{name.replace('_', '-')} {value} is out of range: it must be {need}")
        if self.model is None and not self.init_from:
            raise ValueError("no model: give a preset (--model) or weights to start from (--init-from)")
        if self.model is not None and self.model not in PRESETS:
            raise ValueError(f"unknown preset {self.model!r}: use one of {', '.join(PRESETS)}")
        block = block_size or self.context()
        seq_len = self.seq_len or block
        if block is not None and seq_len > block:
            raise ValueError(f"--seq-len {seq_len} must be in 1..{block} {self._context_name(seq_len)}")
        if seq_len is None:  # init_from's block size decides: checked again once the source is read
            return
        per_micro = self.micro_batch * seq_len * world_size
        if self.total_batch_tokens < per_micro or self.total_batch_tokens % per_micro:
            ranks = f", times {world_size} ranks = {per_micro}" if world_size > 1 else ""
            raise ValueError(
                f"tokens per step ({self.total_batch_tokens}) must be a multiple of micro-batch x seq-len "
                f"= {self.micro_batch * seq_len} ({self.micro_batch} x {seq_len}{ranks})"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def resolve(name: str, **overrides) -> TrainConfig:
    """The TrainConfig of experiment NAME with OVERRIDES (TrainConfig field names) applied."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown config {name!r}: choose one of {', '.join(EXPERIMENTS)}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
    cfg = TrainConfig(config=name, **overrides)
    cfg.experiment = dataclasses.asdict(EXPERIMENTS[name])
    return cfg


def model_overrides(cfg: TrainConfig) -> dict:
    """The GPTConfig fields an experiment sets (position embedding and MLP kind)."""
    return {"pos_emb": cfg.exp.pos_emb, "mlp": cfg.exp.mlp}


def format_table() -> str:
    """The experiments as a markdown table (printed by `python -m gpt2.configs`)."""
    rows = [
        "| config | positions | MLP | max lr | warmup | loader | what changed | original commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in EXPERIMENTS.values():
        rows.append(
            f"| {e.name} | {e.pos_emb} | {e.mlp} | {e.max_lr:g} | {e.warmup_steps} | {e.loader} | {e.description} "
            f"| {e.commit} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(format_table())
