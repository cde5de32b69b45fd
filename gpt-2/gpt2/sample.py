"""Sample text from a checkpoint (or OpenAI's GPT-2), streaming it to the terminal token by token.

    python gpt-2/sample.py --ckpt runs/baseline/ckpt_019073.pt --prompt "Hello, I'm a language model," \
        --max-new-tokens 100 --temperature 0.8 --top-k 200 --seed 42
    python gpt-2/sample.py --ckpt gpt2 --prompt "..."      # OpenAI's weights via transformers (needs internet)

The text is decoded with the tokenizer the checkpoint records ("tokenizer": a gpt2.tokenizer spec), so a model trained
on a bpe tokenizer samples with that tokenizer. Generation uses the KV cache (--no-kv-cache recomputes every step).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import torch

from gpt2.checkpoint import load_checkpoint, model_from_checkpoint
from gpt2.model import GPT, PRESETS
from gpt2.tokenizer import load_tokenizer

PRETRAINED = tuple(name for name in PRESETS if name.startswith("gpt2"))


def load_model(ckpt: str, device: str = "cpu") -> tuple[GPT, str]:
    """(model in eval mode on device, tokenizer spec) from a checkpoint path or an OpenAI model name."""
    if ckpt in PRETRAINED:
        return GPT.from_pretrained(ckpt).to(device).eval(), "gpt2"
    state = load_checkpoint(ckpt, map_location="cpu")
    return model_from_checkpoint(state).to(device).eval(), state["tokenizer"]


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
) -> list[int]:
    """Write the new text to `out` as it is generated; return the new token ids.

    A token can end in the middle of a UTF-8 character, so text is written only once it decodes cleanly (no trailing
    replacement character), and whatever is left is written at the end."""
    out = out or sys.stdout
    idx = torch.tensor([ids], dtype=torch.long, device=model.lm_head.weight.device)
    new: list[int] = []
    written = ""
    for token in model.generate_stream(idx, max_new_tokens, temperature, top_k, use_cache, generator):
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
    p = argparse.ArgumentParser(description="Sample from a gpt2 checkpoint or OpenAI's GPT-2 (see gpt2/sample.py).")
    # what to sample from
    p.add_argument("--ckpt", required=True, help=f"checkpoint path, or one of {', '.join(PRETRAINED)}")
    p.add_argument("--prompt", default="", help="text to continue (empty: start from <|endoftext|>)")
    # sampling
    p.add_argument("--max-new-tokens", type=int, default=100)
    p.add_argument("--temperature", type=float, default=1.0, help="0 decodes greedily")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k most likely tokens only")
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    # system
    p.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | mps | auto")
    p.add_argument("--no-kv-cache", action="store_true", help="recompute the whole context every step")
    args = p.parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    try:
        model, spec = load_model(args.ckpt, device)
        tok = load_tokenizer(spec)
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
            )
        print()
    except (ValueError, OSError) as e:  # OSError: missing file, or no network for --ckpt gpt2
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
