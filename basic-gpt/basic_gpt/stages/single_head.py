"""Stage 2, one self-attention head: each position looks back at all earlier positions.

New: a position embedding (wpe), so order matters, and one head of causal self-attention written out plainly:
every position emits a query ("what am I looking for?") and a key ("what do I contain?"); their dot products,
scaled by 1/sqrt(head_size) and masked so no position sees the future, become softmax weights over the values.
"""

import torch
import torch.nn as nn
from torch.nn import functional as F

from basic_gpt.model import CharLM, GPTConfig


class Head(nn.Module):
    """One head of causal self-attention."""

    def __init__(self, n_embd: int, head_size: int, block_size: int):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        k = self.key(x)  # (B, T, hs)
        q = self.query(x)  # (B, T, hs)
        # affinities; the 1/sqrt(hs) keeps their variance ~1 so softmax stays soft at init
        wei = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5  # (B, T, T)
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))  # causal: no peeking at the future
        wei = F.softmax(wei, dim=-1)
        v = self.value(x)  # (B, T, hs)
        return wei @ v  # (B, T, hs)


class SingleHeadLM(CharLM):
    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.body = self.make_body(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)

    def make_body(self, config: GPTConfig) -> nn.Module:
        """What happens between the embeddings and lm_head; later stages override only this."""
        return Head(config.n_embd, config.n_embd, config.block_size)

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        x = self.body(x)  # (B, T, C)
        return self.lm_head(x)  # (B, T, vocab_size)
