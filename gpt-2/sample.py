"""Sample from a gpt2 checkpoint or OpenAI's GPT-2, streaming to the terminal (the code: gpt2/sample.py).

python gpt-2/sample.py --ckpt runs/baseline/ckpt_019073.pt --prompt "Hello, I'm a language model," --top-k 200
"""

from gpt2.sample import main

if __name__ == "__main__":
    main()
