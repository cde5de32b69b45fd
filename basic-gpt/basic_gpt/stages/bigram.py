"""Stage 1, bigram: the next character depends only on the current one.

A lookup table: row i of wte holds the logits for the character that follows character i. No context at all.
"""

import torch
import torch.nn as nn

from basic_gpt.model import CharLM, GPTConfig


class BigramLM(CharLM):
    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.vocab_size)

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        return self.wte(idx)  # (B, T, vocab_size)
