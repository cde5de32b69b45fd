"""Plot and tabulate training runs: `python gpt-2/plot.py RUN_DIR... [--out FILE.png]` (see gpt2/plot.py)."""

from gpt2.plot import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
