"""Train a BPE tokenizer: `python bpe/train.py --help` (the code lives in bpe/bpe/cli.py)."""

from bpe.cli import main

if __name__ == "__main__":
    main()
