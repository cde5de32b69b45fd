"""Sample from a gpt2 checkpoint or OpenAI's GPT-2, streaming to the terminal (the code: gpt2/sample.py).

python gpt-2/sample.py --ckpt runs/demo/model/ckpt_000500.pt --prompt "Hello, I'm a language model," --top-k 200
python gpt-2/sample.py      # the newest checkpoint under runs/
"""

from gpt2.sample import main
from scratch.cli import run

if __name__ == "__main__":
    run(main)
