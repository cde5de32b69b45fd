"""The tokenizer-effect experiment: `python gpt-2/tokenizer_experiment.py --help` (gpt2/tokenizer_experiment.py)."""

from gpt2.tokenizer_experiment import main

if __name__ == "__main__":
    main()
