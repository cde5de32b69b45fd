"""Training, whole-split evaluation, checkpoints and sampling, shared by every stage.

    from basic_gpt.train import TrainConfig, build_model, train
    model = build_model("pre-layernorm", vocab_size=65)
    history = train(model, ds.train, ds.val, TrainConfig(max_iters=500))

The CLI around it is basic-gpt/gpt.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from basic_gpt.data import CharTokenizer, get_batch
from basic_gpt.model import CharLM, GPTConfig
from basic_gpt.stages import PRESETS, STAGES
from scratch.files import atomic_open


@dataclass
class TrainConfig:
    max_iters: int = 5000
    batch_size: int = 32
    lr: float = 1e-3
    min_lr: float | None = None  # cosine schedule floor; None: lr / 10
    warmup_iters: int = 0
    schedule: str = "constant"  # "constant" or "cosine" (after linear warmup)
    weight_decay: float = 0.01  # on matrices and embeddings only, not biases or LayerNorm gains
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    eval_interval: int = 500  # 0: evaluate only at the end
    eval_train_windows: int = 2000  # train loss on this many fixed windows (the whole train split is 9x val)
    seed: int = 1337
    time_budget_s: float | None = None  # train for this many seconds (wall, evaluation excluded) instead of
    #                                     max_iters; the schedule then runs on elapsed time


def stage_settings(stage: str, preset: str | None = None) -> tuple[dict, dict]:
    """The (model, train) settings a stage is trained with by default; preset picks the scaled stage's size."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    if preset is not None and stage == "scaled":
        model, train = PRESETS[preset]
        return dict(model), dict(train)
    return dict(STAGES[stage].model), dict(STAGES[stage].train)


def build_model(stage: str, vocab_size: int, preset: str | None = None, **overrides) -> CharLM:
    """A freshly initialized model of `stage` (GPTConfig fields in overrides replace the stage's settings)."""
    settings = stage_settings(stage, preset)[0] | {k: v for k, v in overrides.items() if v is not None}
    return STAGES[stage].model_cls(GPTConfig(vocab_size=vocab_size, **settings))


def lr_at(it: int, cfg: TrainConfig, progress: float | None = None) -> float:
    """Linear warmup over warmup_iters, then constant or cosine down to min_lr at progress 1 (default: by iters)."""
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    if cfg.schedule == "constant":
        return cfg.lr
    min_lr = cfg.lr / 10 if cfg.min_lr is None else cfg.min_lr
    if progress is None:
        progress = (it - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters)
    return min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (cfg.lr - min_lr)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


@torch.no_grad()
def split_loss(
    model: CharLM,
    data: torch.Tensor,
    max_windows: int | None = None,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "eval",
) -> float:
    """Mean loss over every non-overlapping block_size window of `data` (or max_windows evenly spaced ones).
    progress: a tqdm bar over the batches (a whole-split pass takes tens of seconds on a CPU)."""
    T = model.config.block_size
    n = (len(data) - 1) // T
    if n < 1:
        raise ValueError(f"{len(data)} tokens hold no window of block_size {T}: need at least {T + 1}")
    x, y = data[: n * T].view(n, T), data[1 : n * T + 1].view(n, T)
    if max_windows is not None and n > max_windows:
        keep = torch.linspace(0, n - 1, max_windows).long()
        x, y = x[keep], y[keep]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    for i in tqdm(range(0, len(x), batch_size), desc=desc, disable=not progress, leave=False, dynamic_ncols=True):
        logits = model.logits(x[i : i + batch_size].to(device))
        total += F.cross_entropy(
            logits.flatten(0, 1).float(), y[i : i + batch_size].flatten().to(device), reduction="sum"
        ).item()
    model.train(was_training)
    return total / y.numel()


def train_step(
    model: CharLM, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, grad_clip: float = 1.0
) -> float:
    """One optimizer step on one batch; returns the batch loss."""
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    return loss.item()


def train(
    model: CharLM,
    train_data: torch.Tensor,
    val_data: torch.Tensor,
    cfg: TrainConfig,
    log_path: Path | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train with AdamW; evaluate at intervals and at the end. Returns (and appends to log_path as JSONL) records
    {iter, train_loss, val_loss, lr, time_s, cpu_s}; time_s/cpu_s count training only, not evaluation."""
    device = next(model.parameters()).device
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = make_optimizer(model, cfg)
    T = model.config.block_size
    history: list[dict] = []
    train_s = cpu_s = 0.0
    model.train()

    def evaluate(it: int, lr: float) -> None:
        rec = dict(
            iter=it,
            train_loss=split_loss(model, train_data, cfg.eval_train_windows, progress=progress, desc=f"train @{it}"),
            val_loss=split_loss(model, val_data, progress=progress, desc=f"val @{it}"),
            lr=lr,
            time_s=round(train_s, 3),
            cpu_s=round(cpu_s, 3),
        )
        history.append(rec)
        if log_path is not None:
            with open(log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        bar.set_postfix(train=f"{rec['train_loss']:.4f}", val=f"{rec['val_loss']:.4f}")

    bar = tqdm(
        total=cfg.time_budget_s or cfg.max_iters,
        disable=not progress,
        dynamic_ncols=True,
        desc="train (s)" if cfg.time_budget_s else "train",
    )
    lr, it = cfg.lr, 0
    while (train_s < cfg.time_budget_s) if cfg.time_budget_s else (it < cfg.max_iters):
        if cfg.eval_interval and it % cfg.eval_interval == 0:
            evaluate(it, lr)
        t0, c0 = time.perf_counter(), time.process_time()
        lr = lr_at(it, cfg, train_s / cfg.time_budget_s if cfg.time_budget_s else None)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, T, cfg.batch_size, gen)
        train_step(model, opt, x.to(device), y.to(device), cfg.grad_clip)  # .item() waits for the GPU too
        dt = time.perf_counter() - t0
        train_s += dt
        cpu_s += time.process_time() - c0
        it += 1
        bar.update(dt if cfg.time_budget_s else 1)
    evaluate(it, lr)
    bar.close()
    return history


def save_checkpoint(path: Path, model: CharLM, tokenizer: CharTokenizer, stage: str, **extra) -> None:
    """Everything needed to rebuild the model and its vocabulary, plus `extra` (the CLI passes the run's provenance:
    data identity, configs, command); written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = dict(
        stage=stage, config=dataclasses.asdict(model.config), chars=tokenizer.chars, model=model.state_dict(), **extra
    )
    with atomic_open(path) as f:
        torch.save(ckpt, f)


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[CharLM, CharTokenizer]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found: train one first with basic-gpt/gpt.py")
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if len(ckpt["chars"]) != ckpt["config"]["vocab_size"]:  # the vocabulary must be the one the model was built for
        raise ValueError(
            f"checkpoint {path} is inconsistent: {len(ckpt['chars'])} characters for a vocab_size of "
            f"{ckpt['config']['vocab_size']}"
        )
    model = STAGES[ckpt["stage"]].model_cls(GPTConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), CharTokenizer(ckpt["chars"])


def sample(
    model: CharLM,
    tokenizer: CharTokenizer,
    prompt: str = "\n",
    max_new_tokens: int = 500,
    seed: int = 1337,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> str:
    """Generate text after `prompt` (which must use only vocabulary characters); same seed, same text."""
    if not prompt:
        raise ValueError("prompt is empty: give at least one character (the default is a newline)")
    device = next(model.parameters()).device
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    out = model.generate(idx, max_new_tokens, temperature, top_k, generator=gen)
    model.train(was_training)
    return tokenizer.decode(out[0].tolist())
