"""Train GPT-2: `python gpt-2/train.py --config rope` (all flags: --help; the trainer is gpt2/train.py)."""

from gpt2.train import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
