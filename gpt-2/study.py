"""`python gpt-2/study.py`: the GPT-2 experiment study (gpt2.study): variants x seeds, resumable, table and plots."""

from gpt2.study import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
