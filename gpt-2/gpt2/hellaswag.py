"""HellaSwag (Zellers et al. 2019): pick the most plausible of 4 endings for a context, scored by a language model.

    python -m gpt2.hellaswag --ckpt runs/gpt2/rope/ckpt_019073.pt            # downloads + caches the val set
    python -m gpt2.hellaswag --ckpt CKPT --path ../shared/data/hellaswag_val.jsonl --limit 1000
    python -m gpt2.hellaswag --ckpt gpt2                                     # OpenAI's weights (needs internet)

Each example is a context ("A man is sitting on a roof. he") and 4 endings. We run the model on context + ending for
each ending and look only at the losses of the ending tokens:
- acc:      the ending with the lowest *total* loss wins (favours short endings);
- acc_norm: the ending with the lowest *mean* loss per ending token wins (length-normalized): the number we report.
Nothing here depends on a particular tokenizer: the context is encoded, then " " + ending, with any tokenizer that
has `encode_ordinary`; the model sees their concatenation.

Reference acc_norm on the 10,042 validation examples with this scoring, as reported by build-nanogpt (not measured
here: no pretrained weights are reachable offline): GPT-2 124M 0.2955, GPT-2 XL 1558M 0.4893; the reproduction this
package follows reached 0.3202 with its `rope` 124M run after 10B tokens. Random guessing is 0.25.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from gpt2.checkpoint import PRETRAINED
from gpt2.sample import checkpoint_arg, load_sampler
from scratch.cli import ArgumentParser, positive_int, run
from scratch.device import pick_device
from scratch.files import cache_dir, download

URL = "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl"
N_VAL = 10042
FIELDS = ("ctx", "endings", "label")
PROGRESS_AFTER_S = 3  # scoring shorter than this shows no progress bar


# -----------------------------------------------------------------------------
# the data: download once, check, cache


def validate(path: Path) -> None:
    """Raise ValueError unless PATH is the HellaSwag validation jsonl (10,042 examples with ctx, 4 endings, label)."""
    n = sum(1 for _ in iter_examples(path))  # iter_examples checks each example's structure as it goes
    if n != N_VAL:
        raise ValueError(
            f"{path} has {n} examples, the HellaSwag validation set has {N_VAL}: delete it and re-download"
        )


def cached_val_file(url: str = URL) -> Path:
    """The validation jsonl, downloaded once into the project cache (scratch.files: temp file, then rename) and
    checked example by example (no published checksum covers the official file, so its structure is verified)."""
    path = cache_dir() / "hellaswag_val.jsonl"
    fresh = not path.is_file()
    download(url, path)
    try:
        validate(path)
    except ValueError:
        if fresh:
            path.unlink(missing_ok=True)  # never keep a bad download
        raise
    return path


def resolve_path(spec: str | os.PathLike | None) -> Path:
    """A local jsonl path as given, or (for None / "auto") the cached download."""
    if spec is None or str(spec) == "auto":
        return cached_val_file()
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"HellaSwag file {path} not found: give the path of hellaswag_val.jsonl or 'auto'")
    return path


def iter_examples(path: str | os.PathLike, limit: int | None = None) -> Iterator[dict]:
    """The examples of a HellaSwag jsonl file, checked for the fields scoring needs."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            try:
                ex = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i + 1}: not JSON ({e}): is this the HellaSwag jsonl?") from e
            if any(k not in ex for k in FIELDS) or len(ex["endings"]) != 4 or ex["label"] not in range(4):
                raise ValueError(f"{path}:{i + 1}: expected fields ctx, endings (4), label (0-3)")
            yield ex


# -----------------------------------------------------------------------------
# scoring


def render_example(example: dict, tok, max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(tokens (4, L), mask (4, L), label): context + ending per row, zero-padded; mask is 1 on the ending tokens.

    With MAX_LEN, rows longer than it lose tokens from the left (the start of the context), never from the ending.
    """
    ctx = tok.encode_ordinary(example["ctx"])
    rows, masks = [], []
    for ending in example["endings"]:
        end = tok.encode_ordinary(" " + ending)  # the space belongs to the ending, as in GPT-2's tokenization
        row, mask = ctx + end, [0] * len(ctx) + [1] * len(end)
        if max_len is not None and len(row) > max_len:
            if len(end) >= max_len:
                raise ValueError(f"an ending of {len(end)} tokens does not fit the model's {max_len}-token context")
            row, mask = row[-max_len:], mask[-max_len:]
        rows.append(row)
        masks.append(mask)
    L = max(len(r) for r in rows)
    tokens = torch.zeros(4, L, dtype=torch.long)
    mask = torch.zeros(4, L, dtype=torch.long)
    for i, (r, m) in enumerate(zip(rows, masks)):
        tokens[i, : len(r)] = torch.tensor(r)
        mask[i, : len(m)] = torch.tensor(m)
    return tokens, mask, int(example["label"])


def ending_losses(logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum, mean) cross-entropy over the ending tokens of each row; logits (4, L, V) from the model on tokens."""
    shift_logits = logits[:, :-1, :].float()  # position t predicts token t+1
    shift_tokens = tokens[:, 1:]
    shift_mask = mask[:, 1:].float()
    losses = F.cross_entropy(shift_logits.transpose(1, 2), shift_tokens, reduction="none")  # (4, L-1)
    total = (losses * shift_mask).sum(dim=1)
    return total, total / shift_mask.sum(dim=1)


@torch.no_grad()
def predict(model, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[int, int]:
    """(pred, pred_norm): the ending with the lowest total loss and with the lowest mean loss."""
    logits = model(tokens)[0]
    total, mean = ending_losses(logits, tokens, mask)
    return int(total.argmin()), int(mean.argmin())


@torch.no_grad()
def evaluate(
    model,
    tok,
    examples,
    device="cpu",
    rank: int = 0,
    world_size: int = 1,
    autocast_dtype: torch.dtype | None = None,
    block_size: int | None = None,
    progress: bool = False,
) -> dict:
    """Counts over EXAMPLES (this rank's share: every world_size-th): {"n", "correct", "correct_norm"}.

    Sum the counts over ranks before dividing (the trainer all-reduces them); `accuracy()` turns them into rates.
    PROGRESS: a progress bar once scoring has taken a few seconds.
    """
    device = torch.device(device)
    n = correct = correct_norm = 0
    mine = list(examples)[rank::world_size]
    for ex in tqdm(mine, desc="hellaswag", leave=False, delay=PROGRESS_AFTER_S, disable=not progress):
        tokens, mask, label = render_example(ex, tok, max_len=block_size)
        tokens, mask = tokens.to(device), mask.to(device)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            pred, pred_norm = predict(model, tokens, mask)
        n += 1
        correct += pred == label
        correct_norm += pred_norm == label
    return {"n": n, "correct": correct, "correct_norm": correct_norm}


def accuracy(counts: dict) -> dict:
    """{"acc", "acc_norm", "n"} from summed counts."""
    n = max(counts["n"], 1)
    return {"acc": counts["correct"] / n, "acc_norm": counts["correct_norm"] / n, "n": counts["n"]}


# -----------------------------------------------------------------------------


def existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return text


def hellaswag_file(text: str) -> str:
    return text if text == "auto" else existing_file(text)


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--ckpt",
        required=True,
        type=checkpoint_arg,
        help=f"a checkpoint written by gpt-2/train.py, or one of {', '.join(PRETRAINED)} (OpenAI's, needs internet)",
    )
    p.add_argument("--path", default="auto", type=hellaswag_file, help="hellaswag_val.jsonl, or 'auto' (download)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N examples")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)

    model, tok, _ = load_sampler(args.ckpt, device, instead="score a checkpoint of your own with --ckpt PATH")
    try:
        path = resolve_path(args.path)
    except ConnectionError:
        raise ConnectionError(
            f"cannot download {URL} (offline?): give a local copy with --path PATH/hellaswag_val.jsonl"
        ) from None
    examples = list(iter_examples(path, limit=args.limit))
    dtype = torch.bfloat16 if device.type == "cuda" else None
    counts = evaluate(
        model, tok, examples, device, autocast_dtype=dtype, block_size=model.config.block_size, progress=True
    )
    r = accuracy(counts)
    print(f"{r['n']} examples: acc {r['acc']:.4f}  acc_norm {r['acc_norm']:.4f}")


if __name__ == "__main__":
    run(main)
