"""Stage 3, multi-head attention: several smaller heads in parallel, each free to attend to something different.

New: n_head heads of size n_embd // n_head, concatenated and projected back into the embedding (c_proj).
"""

import torch
import torch.nn as nn

from basic_gpt.model import GPTConfig
from basic_gpt.stages.single_head import Head, SingleHeadLM


class MultiHeadAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        head_size = config.n_embd // config.n_head
        self.heads = nn.ModuleList([Head(config.n_embd, head_size, config.block_size) for _ in range(config.n_head)])
        self.c_proj = nn.Linear(head_size * config.n_head, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([h(x) for h in self.heads], dim=-1)  # (B, T, n_head * hs)
        return self.c_proj(out)  # (B, T, C)


class MultiHeadLM(SingleHeadLM):
    def make_body(self, config: GPTConfig) -> nn.Module:
        return MultiHeadAttention(config)
