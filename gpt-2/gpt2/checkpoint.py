"""Checkpoints: save atomically, load safely (torch.load(weights_only=True): loading never runs code from the file),
rebuild the model with its config checked against its weights; and the checkpoints of a training run (rotation,
the newest one to resume from, the RNG streams that make a resumed run continue bit for bit).

    save_checkpoint("run/ckpt.pt", {"model": model.state_dict(), "config": asdict(model.config), "tokenizer": "gpt2"})
    model = model_from_checkpoint(load_checkpoint("run/ckpt.pt"))
    save_rotating("runs/gpt2/rope", step, state, keep_last=3)   # runs/gpt2/rope/ckpt_000500.pt, older ones pruned
    path = resolve_resume("latest", Path("runs/gpt2/rope"))      # the newest ckpt_*.pt

A checkpoint is a dict with at least "model" (state dict), "config" (asdict(GPTConfig)) and "tokenizer" (a
gpt2.tokenizer spec); the trainer adds tokenizer_hash (shards.tokenizer_hash of the tokenizer it trained with, which
sample.py and HellaSwag check), step, max_steps, optimizer, loader, rng, train_config, world_size. Every value
must be something weights_only unpickling accepts: tensors, dicts, lists, strings, numbers, None.
"""

from __future__ import annotations

import pickle
import random
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from gpt2.configs import TrainConfig
from gpt2.model import GPT, PRESETS, GPTConfig
from gpt2.shards import tokenizer_hash
from gpt2.tokenizer import load_tokenizer
from scratch.cli import UsageError
from scratch.files import atomic_open

REQUIRED_KEYS = ("model", "config", "tokenizer")
PRETRAINED = tuple(name for name in PRESETS if name.startswith("gpt2"))  # OpenAI's weights, by name
CKPT_RE = re.compile(r"ckpt_(\d+)\.pt$")
# prefixes torch.compile (_orig_mod.) and DistributedDataParallel (module.) put in front of parameter names
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


def save_checkpoint(path: str | Path, state: dict) -> None:
    """torch.save to a temp file beside `path`, then rename: a crash never leaves a half-written checkpoint."""
    path = Path(path)
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}: give at least {list(REQUIRED_KEYS)}")
    with atomic_open(path) as f:
        torch.save(state, f)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a checkpoint written by save_checkpoint, refusing anything that needs code to unpickle."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e):
            raise ValueError(f"{path} is not a readable checkpoint (corrupted, or not a torch.save file)") from e
        found = next((line.strip() for line in str(e).splitlines() if "Unsupported global" in line), "")
        raise ValueError(
            f"{path} holds objects other than tensors and plain Python values ({found}); it was not "
            f"loaded: weights_only=True never runs code from a file"
        ) from e
    except Exception as e:  # truncated zip, random bytes, ...: torch raises RuntimeError, KeyError, EOFError
        raise ValueError(
            f"{path} is not a readable checkpoint (corrupted or truncated?): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"{path} is not a gpt2 checkpoint: expected a dict with keys {list(REQUIRED_KEYS)}, found {have}"
        )
    return state


def model_from_checkpoint(state: dict) -> GPT:
    """Build the GPT described by state["config"] and load state["model"] into it, with a clear error when the
    weights belong to another config (missing, unexpected or differently shaped tensors)."""
    config = config_from_dict(state["config"])
    weights = strip_wrapper_prefixes(state["model"])
    model = GPT(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(weights[k].shape)} vs config {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = [
            f"missing {_few(missing)}" if missing else "",
            f"unexpected {_few(unexpected)}" if unexpected else "",
            f"shape mismatch {_few(shapes)}" if shapes else "",
        ]
        raise ValueError(
            f"checkpoint weights do not match its config {config}: "
            + "; ".join(p for p in parts if p)
            + ". Was it saved from another model?"
        )
    model.load_state_dict(weights)
    return model


def config_from_dict(d: dict) -> GPTConfig:
    known = {f.name for f in fields(GPTConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(
            f"checkpoint config has fields this GPTConfig does not know: {unknown} "
            f"(saved by a newer or different version of gpt2?)"
        )
    return GPTConfig(**d)


def strip_wrapper_prefixes(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        while k.startswith(WRAPPER_PREFIXES):
            k = k.split(".", 1)[1]
        out[k] = v
    return out


def _few(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def checked_tokenizer(spec: str, expected_hash: str | None, made: str, remedy: str):
    """Load tokenizer SPEC and check it is still the one it was when MADE ("the shards in DIR were made"):
    a .model file retrained at the same path would otherwise decode and score with the wrong vocabulary, silently.
    EXPECTED_HASH None (a checkpoint older than the hash) skips the check."""
    tok = load_tokenizer(spec)
    if expected_hash is not None and (now := tokenizer_hash(spec, tok)) != expected_hash:
        raise ValueError(
            f"tokenizer {spec} is not the one it was when {made} (sha256 {now[:12]}... now, {expected_hash[:12]}... "
            f"then: the file was retrained or replaced since): {remedy}"
        )
    return tok


def checkpoint_tokenizer(state: dict, path: str | Path):
    """The tokenizer a checkpoint records, checked against the hash it was trained with."""
    return checked_tokenizer(
        state["tokenizer"],
        state.get("tokenizer_hash"),
        f"checkpoint {path} was trained",
        f"put back the tokenizer file the model was trained with at {state['tokenizer']} (its samples and scores "
        "would be garbage with another)",
    )


# -----------------------------------------------------------------------------
# weights to start from: OpenAI's (via transformers) or a run's checkpoint (fine-tuning: train.py --init-from)


def pretrained_model(name: str, instead: str, **overrides) -> GPT:
    """GPT.from_pretrained(NAME), or one line (ConnectionError) saying it could not be downloaded and what to do
    INSTEAD: transformers' own error is pages of text."""
    try:
        return GPT.from_pretrained(name, **overrides)
    except OSError as e:
        raise ConnectionError(
            f"cannot download OpenAI's {name} weights from the Hugging Face hub (offline? {type(e).__name__}): "
            f"{instead}"
        ) from None


@dataclass
class InitSource:
    """What a fine-tune starts from: the source's model config and weights, and what they are (logged with the run)."""

    config: GPTConfig
    weights: dict
    provenance: dict  # {"init_from", "checkpoint", "step", "tokenizer", "tokenizer_hash"}


def load_init_source(
    spec: str, pad_vocab_to: int = 64, instead: str = "fine-tune a checkpoint instead with --init-from PATH"
) -> InitSource:
    """--init-from SPEC: one of PRETRAINED (OpenAI's weights, gpt2 tokenizer), a checkpoint written by train.py, or a
    run folder (its newest checkpoint). The checkpoint's tokenizer is loaded and checked against its hash."""
    if spec in PRETRAINED:
        model = pretrained_model(spec, instead, pad_vocab_to=pad_vocab_to)
        hashed = tokenizer_hash("gpt2", load_tokenizer("gpt2"))
        info = {"init_from": spec, "checkpoint": None, "step": None, "tokenizer": "gpt2", "tokenizer_hash": hashed}
        return InitSource(model.config, model.state_dict(), info)
    path = Path(spec)
    if path.is_dir():
        if not list_checkpoints(path):
            raise FileNotFoundError(f"--init-from {spec}: no checkpoint (ckpt_*.pt) in that folder")
        path = list_checkpoints(path)[-1]
    elif not path.is_file():
        raise FileNotFoundError(
            f"--init-from {spec}: no such checkpoint or run folder (or one of {', '.join(PRETRAINED)})"
        )
    state = load_checkpoint(path)
    tok = checkpoint_tokenizer(state, path)
    model = model_from_checkpoint(state)  # refuses weights that do not fit the config they were saved with
    info = {
        "init_from": spec,
        "checkpoint": str(path),
        "step": state.get("step"),
        "tokenizer": state["tokenizer"],
        "tokenizer_hash": state.get("tokenizer_hash") or tokenizer_hash(state["tokenizer"], tok),
    }
    return InitSource(model.config, model.state_dict(), info)


def init_model_config(source: InitSource, cfg: TrainConfig, manifest: dict) -> GPTConfig:
    """The model of a fine-tune run: the source's architecture, checked against the run's shards (same tokenizer) and
    flags (--model and --block-size may only restate it; a RoPE source may take another --block-size: its weights do
    not depend on it)."""
    src, info, name = source.config, source.provenance, f"--init-from {cfg.init_from}"
    if info["tokenizer_hash"] != manifest["tokenizer_hash"]:
        raise ValueError(
            f"{name} was trained with tokenizer {info['tokenizer']} (sha256 {info['tokenizer_hash'][:12]}...) but the "
            f"shards in {cfg.data} were made with {manifest['tokenizer']} (sha256 {manifest['tokenizer_hash'][:12]}...)"
            f": prepare shards with {info['tokenizer']} (gpt-2/prepare.py --tokenizer {info['tokenizer']})"
        )
    if cfg.model is not None:
        preset = PRESETS[cfg.model]
        shape = {k: getattr(src, k) for k in ("n_layer", "n_head", "n_embd")}
        if any(preset[k] != v for k, v in shape.items()):
            raise UsageError(
                f"--model {cfg.model} contradicts {name} ({shape}): the architecture comes from the source; "
                "leave --model out"
            )
    if cfg.block_size is None or cfg.block_size == src.block_size:
        return src
    if src.pos_emb == "learned":
        raise UsageError(
            f"--block-size {cfg.block_size}: {name} has learned positions for {src.block_size} tokens only; "
            f"leave --block-size out (a shorter --seq-len is fine)"
        )
    return replace(src, block_size=cfg.block_size)


# -----------------------------------------------------------------------------
# the checkpoints of a run: RUN_DIR/ckpt_000500.pt, written atomically, the last K kept


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's checkpoints, oldest first (by step)."""
    run_dir = Path(run_dir)
    found = [(int(m.group(1)), p) for p in run_dir.glob("ckpt_*.pt") if (m := CKPT_RE.search(p.name))]
    return [p for _, p in sorted(found)]


def save_rotating(run_dir: str | Path, step: int, state: dict, keep_last: int, protect: tuple[Path, ...] = ()) -> Path:
    """Save STATE as RUN_DIR/ckpt_STEP.pt (temp file, then rename) and delete all but the newest KEEP_LAST (0: keep
    all), never one of PROTECT (the checkpoint this run was resumed from: the branch point stays)."""
    path = Path(run_dir) / f"ckpt_{step:06d}.pt"
    save_checkpoint(path, state)
    keep = {p.resolve() for p in protect}
    for old in list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        if old.resolve() not in keep:
            old.unlink(missing_ok=True)
    return path


def resolve_resume(resume: str, run_dir: Path) -> Path:
    """--resume PATH: that checkpoint (or the newest in that directory); --resume alone: the newest in the run dir."""
    where = run_dir if resume == "latest" else Path(resume)
    if resume == "latest" and not list_checkpoints(run_dir):
        raise FileNotFoundError(
            f"no checkpoint (ckpt_*.pt) in {run_dir} to resume from: start the run without --resume, or name the run "
            "with --out / --run-name (or --resume PATH)"
        )
    if where.is_dir():
        ckpts = list_checkpoints(where)
        if not ckpts:
            raise FileNotFoundError(f"no checkpoint (ckpt_*.pt) in {where} to resume from")
        return ckpts[-1]
    if not where.is_file():
        raise FileNotFoundError(f"checkpoint {where} not found")
    return where


def check_run_dir(run_dir: Path, resume_from: Path | None, overwrite: bool = False) -> None:
    """Refuse to start a run where it would lose work: RUN_DIR may only be continued from its newest checkpoint (an
    older one would discard the steps after it: a lost branch), and a run from scratch (or a branch from another
    folder's checkpoint) needs an empty RUN_DIR unless OVERWRITE."""
    ckpts = list_checkpoints(run_dir)
    if resume_from is not None and resume_from.resolve().parent == Path(run_dir).resolve():
        if ckpts and ckpts[-1].resolve() != resume_from.resolve():
            raise UsageError(
                f"{resume_from.name} is not the newest checkpoint of {run_dir} ({ckpts[-1].name}): continuing from it "
                f"there would discard the steps after it. Resume the newest with --resume, or branch into a new "
                f"run folder with --resume {resume_from} --run-name NEW"
            )
        return
    log = Path(run_dir) / "log.jsonl"
    if (ckpts or log.exists()) and not overwrite:
        what = f"checkpoints up to {ckpts[-1].name}" if ckpts else "a log.jsonl"
        raise UsageError(
            f"{run_dir} already holds a run ({what}): continue it with --resume, start another with --run-name NEW, "
            "or replace it with --overwrite"
        )


def clear_run_dir(run_dir: Path) -> list[Path]:
    """Delete what a run writes in RUN_DIR (its checkpoints and log.jsonl; nothing else): --overwrite."""
    gone = [*list_checkpoints(run_dir), *[p for p in [Path(run_dir) / "log.jsonl"] if p.exists()]]
    for p in gone:
        p.unlink()
    return gone


# Settings that must match for a resumed run to continue the same run.
RESUME_MUST_MATCH = (
    "config",
    "model",
    "block_size",
    "init_from",
    "total_batch_tokens",
    "micro_batch",
    "seq_len",
    "seed",
)


def check_resume_compatible(saved: dict, cfg: TrainConfig) -> None:
    """SAVED (a checkpoint's train_config) and CFG agree on everything that decides what the next step computes."""
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r} vs now {getattr(cfg, k)!r}"
        for k in RESUME_MUST_MATCH
        if saved.get(k) != getattr(cfg, k)
    ]
    if diffs:
        raise ValueError("cannot resume with different settings (" + "; ".join(diffs) + "): use the run's own flags")


def restore_run(path: Path, cfg: TrainConfig, model, optimizer, loader) -> dict:
    """Load a run's checkpoint into MODEL, OPTIMIZER, LOADER and the RNG streams (after checking it belongs to a run
    with CFG's settings); returns the rest of it ({"step", "max_steps", ...}) without the big tensors."""
    state = load_checkpoint(path)
    check_resume_compatible(state["train_config"], cfg)
    model.load_state_dict(state.pop("model"))
    optimizer.load_state_dict(state.pop("optimizer"))
    loader.load_state_dict(state["loader"])
    set_rng_state(state["rng"])
    return state


# -----------------------------------------------------------------------------
# RNG state as tensors and ints, so that torch.load(weights_only=True) reads it back


def rng_state() -> dict:
    """The torch, Python, NumPy (and CUDA) generator states, in types weights_only unpickling accepts."""
    version, mt, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Put back what rng_state() captured."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(
        ("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
