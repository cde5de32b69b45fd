"""Train GPT-2: `python gpt-2/train.py --config rope` (all flags: --help; the trainer is gpt2/train.py)."""

import sys

from gpt2.train import main

if __name__ == "__main__":
    sys.exit(main())
