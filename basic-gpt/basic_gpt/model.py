"""What every stage shares: the config dataclass and a base class with the loss and sampling.

A stage only says how to turn token ids (B, T) into next-character logits (B, T, vocab_size): its `logits` method.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 8  # context length T
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 32
    dropout: float = 0.0  # scaled stage only
    rope: bool = False  # scaled stage: rotary position embeddings instead of a learned wpe table
    tie_weights: bool = False  # scaled stage: lm_head shares wte's matrix
    flash: bool = False  # scaled stage: F.scaled_dot_product_attention instead of the written-out math


class CharLM(nn.Module):
    """Base class: cross-entropy loss and autoregressive sampling around a subclass's `logits(idx)`."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.logits(idx)  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Extend idx (B, T) by max_new_tokens sampled characters; the model sees at most block_size of them."""
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.config.block_size :]
            logits = self.logits(idx_cond)[:, -1, :] / temperature  # (B, vocab_size): last position only
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs.cpu(), num_samples=1, generator=generator).to(idx.device)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx
