"""Train the bigram model (stage 1): the same CLI as gpt.py, with --stage bigram by default.

uv run --no-sync python basic-gpt/bigram.py
"""

from functools import partial

from basic_gpt.cli import main
from scratch.cli import run

if __name__ == "__main__":
    run(partial(main, default_stage="bigram"))
