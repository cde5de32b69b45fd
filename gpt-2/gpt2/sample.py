"""Sample text from a checkpoint (or OpenAI's GPT-2), streaming it to the terminal token by token.

    python gpt-2/sample.py --ckpt runs/baseline/ckpt_019073.pt --prompt "Hello, I'm a language model," \
        --max-new-tokens 100 --temperature 0.8 --top-k 200 --top-p 0.95 --seed 42
    python gpt-2/sample.py --ckpt gpt2 --prompt "..."      # OpenAI's weights via transformers (needs internet)
    python gpt-2/sample.py                                  # the newest checkpoint under runs/ (after `make demo`)

The text is decoded with the tokenizer the checkpoint records ("tokenizer": a gpt2.tokenizer spec), so a model trained
on a bpe tokenizer samples with that tokenizer; the tokenizer's hash must still be the one the checkpoint was trained
with. Generation uses the KV cache (--no-kv-cache recomputes every step).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import torch

from gpt2.checkpoint import CKPT_RE, checkpoint_tokenizer, load_checkpoint, model_from_checkpoint, pretrained_model
from gpt2.model import GPT, PRESETS
from gpt2.tokenizer import load_tokenizer
from scratch.cli import (
    ArgumentParser,
    UsageError,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run,
)
from scratch.device import pick_device

PRETRAINED = tuple(name for name in PRESETS if name.startswith("gpt2"))
RUNS = Path("runs")  # where train.py and `make demo` put runs, relative to the repository root


def load_model(ckpt: str, device: str = "cpu") -> tuple[GPT, str]:
    """(model in eval mode on device, tokenizer spec) from a checkpoint path or an OpenAI model name; the spec's
    tokenizer is checked to be the one the checkpoint was trained with."""
    model, _, spec = load_sampler(ckpt, device)
    return model, spec


def load_sampler(
    ckpt: str, device: str = "cpu", instead: str = "sample from a checkpoint with --ckpt PATH"
) -> tuple[GPT, object, str]:
    """(model in eval mode on device, its tokenizer checked against the checkpoint's hash, tokenizer spec). OpenAI's
    weights unreachable: one line (ConnectionError) ending with INSTEAD, what to do."""
    if ckpt in PRETRAINED:
        return pretrained_model(ckpt, instead).to(device).eval(), load_tokenizer("gpt2"), "gpt2"
    state = load_checkpoint(ckpt, map_location="cpu")
    tok = checkpoint_tokenizer(state, ckpt)
    return model_from_checkpoint(state).to(device).eval(), tok, state["tokenizer"]


def newest_checkpoint(runs: Path = RUNS) -> Path:
    """The most recently written ckpt_*.pt under RUNS, or a UsageError saying how to make one."""
    found = [p for p in runs.rglob("ckpt_*.pt") if CKPT_RE.search(p.name)] if runs.is_dir() else []
    if not found:
        raise UsageError(
            f"no checkpoint under {runs}/ to sample from: run `make demo` (about 5 min, offline; it leaves "
            f"{runs}/demo/model/ckpt_000500.pt), or pass --ckpt PATH"
        )
    return max(found, key=lambda p: p.stat().st_mtime)


def checkpoint_arg(text: str) -> str:
    """--ckpt: an existing file or one of OpenAI's model names."""
    if text not in PRETRAINED and not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such checkpoint file (or one of {', '.join(PRETRAINED)})")
    return text


def top_p_arg(text: str) -> float:
    """--top-p: a probability mass p with 0 < p <= 1 (1 keeps every token)."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is out of range: must be a number > 0 and <= 1")
    return value


def encode_prompt(tok, prompt: str, model: GPT, warn: TextIO | None = None) -> list[int]:
    """Token ids of the prompt (<|endoftext|> when empty), cropped to the context with a warning."""
    if tok.n_vocab > model.config.vocab_size:
        raise ValueError(
            f"the checkpoint's tokenizer {tok.name!r} has {tok.n_vocab} tokens but the model only "
            f"{model.config.vocab_size}: the weights come from a model with another vocabulary"
        )
    ids = tok.encode(prompt, allowed_special="all") if prompt else [tok.eot_token]
    bs = model.config.block_size
    if len(ids) > bs:
        print(
            f"warning: the prompt is {len(ids)} tokens, longer than the context ({bs}): keeping its last {bs}",
            file=warn or sys.stderr,
        )
        ids = ids[-bs:]
    return ids


def stream_sample(
    model: GPT,
    tok,
    ids: list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    out: TextIO | None = None,
    top_p: float | None = None,
) -> list[int]:
    """Write the new text to `out` as it is generated; return the new token ids.

    A token can end in the middle of a UTF-8 character, so text is written only once it decodes cleanly (no trailing
    replacement character), and whatever is left is written at the end."""
    out = out or sys.stdout
    idx = torch.tensor([ids], dtype=torch.long, device=model.lm_head.weight.device)
    new: list[int] = []
    written = ""
    for token in model.generate_stream(idx, max_new_tokens, temperature, top_k, use_cache, generator, top_p):
        new.append(int(token[0]))
        text = tok.decode(new)
        if not text.endswith("\ufffd"):
            out.write(text[len(written) :])
            out.flush()
            written = text
    out.write(tok.decode(new)[len(written) :])
    out.flush()
    return new


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description="Sample from a gpt2 checkpoint or OpenAI's GPT-2 (see gpt2/sample.py).")
    # what to sample from
    p.add_argument(
        "--ckpt",
        type=checkpoint_arg,
        default=None,
        help=f"checkpoint path, or one of {', '.join(PRETRAINED)} (default: the newest checkpoint under {RUNS}/)",
    )
    p.add_argument("--prompt", default="", help="text to continue (empty: start from <|endoftext|>)")
    # sampling
    p.add_argument("--max-new-tokens", type=positive_int, default=100)
    p.add_argument("--temperature", type=non_negative_float, default=1.0, help="0 decodes greedily")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample among the k most likely tokens only")
    p.add_argument(
        "--top-p",
        type=top_p_arg,
        default=None,
        help="nucleus sampling: the fewest most likely tokens whose probability reaches p (0 < p <= 1), after --top-k",
    )
    p.add_argument("--num-samples", type=positive_int, default=1)
    p.add_argument("--seed", type=non_negative_int, default=42)
    # system
    p.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | mps | auto")
    p.add_argument("--no-kv-cache", action="store_true", help="recompute the whole context every step")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if args.ckpt is None:
        args.ckpt = str(newest_checkpoint())
        print(
            f"sampling from {args.ckpt} (the newest checkpoint under {RUNS}/; --ckpt PATH picks another)",
            file=sys.stderr,
        )
    model, tok, _ = load_sampler(args.ckpt, device)
    ids = encode_prompt(tok, args.prompt, model)
    generator = torch.Generator(device).manual_seed(args.seed)
    for i in range(args.num_samples):
        if i:
            print("\n" + "-" * 40)
        sys.stdout.write(args.prompt)
        stream_sample(
            model,
            tok,
            ids,
            args.max_new_tokens,
            args.temperature,
            args.top_k,
            generator,
            use_cache=not args.no_kv_cache,
            top_p=args.top_p,
        )
    print()


if __name__ == "__main__":
    run(main)
