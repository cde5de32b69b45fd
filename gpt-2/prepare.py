"""Write token shards for GPT-2 training: `python gpt-2/prepare.py --help` (the work is in gpt2/prepare.py)."""

from gpt2.prepare import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
