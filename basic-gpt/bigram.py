"""Train the bigram model (stage 1): the same CLI as gpt.py, with --stage bigram by default.

uv run --no-sync python basic-gpt/bigram.py
"""

from basic_gpt.cli import main

if __name__ == "__main__":
    main(default_stage="bigram")
