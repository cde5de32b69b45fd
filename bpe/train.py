"""Train a BPE tokenizer: `python bpe/train.py --help` (the code lives in bpe/bpe/cli.py)."""

from bpe.cli import main
from scratch.cli import run


def train(argv: list[str] | None = None) -> None:
    main(argv)  # main returns the Tokenizer for Python callers; the command's exit code is 0


if __name__ == "__main__":
    run(train)
