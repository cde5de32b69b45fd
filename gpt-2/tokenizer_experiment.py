"""The tokenizer-effect experiment: `python gpt-2/tokenizer_experiment.py --help` (gpt2/tokenizer_experiment.py)."""

from gpt2.tokenizer_experiment import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
