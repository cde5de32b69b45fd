"""Stage 4, feed-forward: after the tokens communicate (attention), each one thinks on its own (an MLP).

New: the Block, attention then a per-position MLP (expand 4x, ReLU, project back), stacked n_layer times.
"""

import torch
import torch.nn as nn

from basic_gpt.model import GPTConfig
from basic_gpt.stages.multi_head import MultiHeadAttention, MultiHeadLM


class FeedForward(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.act = nn.ReLU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))  # (B, T, C)


class Block(nn.Module):
    """Communication (attention across positions) followed by computation (MLP at each position)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.attn = MultiHeadAttention(config)
        self.mlp = FeedForward(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(x)
        x = self.mlp(x)
        return x


class FeedForwardLM(MultiHeadLM):
    block = Block  # the only thing later stages change

    def make_body(self, config: GPTConfig) -> nn.Module:
        return nn.Sequential(*[self.block(config) for _ in range(config.n_layer)])  # (B, T, C) -> (B, T, C)
