"""Stage 6, post-LayerNorm (the 2017 Transformer): normalize each position's features after every residual add.

LayerNorm rescales each position's vector to zero mean, unit variance (then a learned gain and bias), which keeps
activations in range as the stack deepens.
"""

import torch
import torch.nn as nn

from basic_gpt.model import GPTConfig
from basic_gpt.stages.residual import ResidualBlock, ResidualLM


class PostLNBlock(ResidualBlock):
    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.ln_2 = nn.LayerNorm(config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln_1(x + self.attn(x))
        x = self.ln_2(x + self.mlp(x))
        return x


class PostLayerNormLM(ResidualLM):
    block = PostLNBlock
