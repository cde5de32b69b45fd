"""Checkpoints: save atomically, load safely (torch.load(weights_only=True): loading never runs code from the file),
rebuild the model with its config checked against its weights.

    save_checkpoint("run/ckpt.pt", {"model": model.state_dict(), "config": asdict(model.config), "tokenizer": "gpt2"})
    model = model_from_checkpoint(load_checkpoint("run/ckpt.pt"))

A checkpoint is a dict with at least "model" (state dict), "config" (asdict(GPTConfig)) and "tokenizer" (a
gpt2.tokenizer spec); the trainer adds step, optimizer, loader, rng, train_config. Every value must be something
weights_only unpickling accepts: tensors, dicts, lists, strings, numbers, None.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import fields
from pathlib import Path

import torch

from gpt2.model import GPT, GPTConfig

REQUIRED_KEYS = ("model", "config", "tokenizer")
# prefixes torch.compile (_orig_mod.) and DistributedDataParallel (module.) put in front of parameter names
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


def save_checkpoint(path: str | Path, state: dict) -> None:
    """torch.save to a temp file beside `path`, then os.replace: a crash never leaves a half-written checkpoint."""
    path = Path(path)
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}: give at least {list(REQUIRED_KEYS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        raise ValueError(f"{path} holds objects other than tensors and plain Python values ({found}); it was not "
                         f"loaded: weights_only=True never runs code from a file") from e
    except Exception as e:  # truncated zip, random bytes, ...: torch raises RuntimeError, KeyError, EOFError
        raise ValueError(f"{path} is not a readable checkpoint (corrupted or truncated?): "
                         f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not a gpt2 checkpoint: expected a dict with keys {list(REQUIRED_KEYS)}, "
                         f"found {have}")
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
    shapes = [f"{k}: checkpoint {tuple(weights[k].shape)} vs config {tuple(v.shape)}"
              for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = [f"missing {_few(missing)}" if missing else "", f"unexpected {_few(unexpected)}" if unexpected else "",
                 f"shape mismatch {_few(shapes)}" if shapes else ""]
        raise ValueError(f"checkpoint weights do not match its config {config}: "
                         + "; ".join(p for p in parts if p) + ". Was it saved from another model?")
    model.load_state_dict(weights)
    return model


def config_from_dict(d: dict) -> GPTConfig:
    known = {f.name for f in fields(GPTConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"checkpoint config has fields this GPTConfig does not know: {unknown} "
                         f"(saved by a newer or different version of gpt2?)")
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
