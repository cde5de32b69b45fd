"""Compression report: bytes per token of several tokenizers on several texts, as a markdown table.

    python -m bpe.report --tokenizer gpt2 cl100k_base runs/demo/shakespeare.model --text ../shared/data/*.txt

More bytes per token = better compression = shorter sequences for the same text.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from .tokenizer import Tokenizer


def load_any(spec: str) -> Tokenizer:
    """A tiktoken encoding name (gpt2, cl100k_base, ...) or a path to a .model file."""
    return Tokenizer.load(spec) if spec.endswith(".model") else Tokenizer.from_tiktoken(spec)


def bytes_per_token(tok: Tokenizer, text: str) -> float:
    ids = tok.encode_ordinary(text)
    return len(text.encode("utf-8")) / max(1, len(ids))


def compression_table(tokenizers: Mapping[str, Tokenizer], texts: Mapping[str, str]) -> str:
    """Markdown: one row per tokenizer, one column per text, cells in bytes per token."""
    lines = ["| tokenizer | vocab | " + " | ".join(texts) + " |", "|---|---:|" + "---:|" * len(texts)]
    for name, tok in tokenizers.items():
        cells = " | ".join(f"{bytes_per_token(tok, t):.2f}" for t in texts.values())
        lines.append(f"| {name} | {tok.n_vocab:,} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", nargs="+", required=True, help="tiktoken names or .model paths")
    p.add_argument("--text", nargs="+", required=True, help="UTF-8 text files")
    p.add_argument("--max-bytes", type=int, default=2 << 20, help="read at most this much of each file")
    args = p.parse_args(argv)
    texts = {Path(t).name: Path(t).read_bytes()[: args.max_bytes].decode("utf-8", "ignore") for t in args.text}
    print(compression_table({Path(s).stem if s.endswith(".model") else s: load_any(s) for s in args.tokenizer}, texts))


if __name__ == "__main__":
    main()
