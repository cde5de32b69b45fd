"""Raw text to a trained GPT-2 that writes, in one command: `python gpt-2/demo.py --help` (the work: gpt2/demo.py)."""

from gpt2.demo import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
