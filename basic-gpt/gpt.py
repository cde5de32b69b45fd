"""Train one stage of the character-level GPT, log losses, checkpoint, print a sample.

uv run --no-sync python basic-gpt/gpt.py --stage scaled            # the CPU-size scaled GPT
uv run --no-sync python basic-gpt/gpt.py --stage residual --max-iters 1000
python basic-gpt/gpt.py --stage scaled --preset full --device cuda  # the lecture's 10.8M model, on a GPU

A second run into the same --out-dir is refused (one line naming the folder) unless --overwrite is given.
"""

from basic_gpt.cli import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
