"""Plot and tabulate training runs: `python gpt-2/plot.py RUN_DIR... --out images/NAME.png` (see gpt2/plot.py)."""

from gpt2.plot import main

if __name__ == "__main__":
    main()
