"""Stage 5, residual connections: each sublayer adds to x instead of replacing it.

The residual stream x runs straight from the embeddings to lm_head; gradients flow back along it unchanged, so a
deep stack trains as easily as a shallow one.
"""

import torch

from basic_gpt.stages.feed_forward import Block, FeedForwardLM


class ResidualBlock(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        x = x + self.mlp(x)
        return x


class ResidualLM(FeedForwardLM):
    block = ResidualBlock
