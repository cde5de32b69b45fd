"""Train one stage of the character-level GPT, log losses, checkpoint, print a sample.

uv run --no-sync python basic-gpt/gpt.py --stage scaled            # the CPU-size scaled GPT
uv run --no-sync python basic-gpt/gpt.py --stage residual --max-iters 1000
python basic-gpt/gpt.py --stage scaled --preset full --device cuda  # the lecture's 10.8M model, on a GPU
"""

from basic_gpt.cli import main

if __name__ == "__main__":
    main()
