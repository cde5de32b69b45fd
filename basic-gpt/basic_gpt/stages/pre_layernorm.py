"""Stage 7, pre-LayerNorm (GPT-2): normalize the input of each sublayer, keep the residual stream untouched.

The stream itself is never normalized inside the stack, so one final LayerNorm (ln_f) comes before lm_head.
"""

from collections import OrderedDict

import torch
import torch.nn as nn

from basic_gpt.model import GPTConfig
from basic_gpt.stages.post_layernorm import PostLayerNormLM, PostLNBlock


class PreLNBlock(PostLNBlock):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class PreLayerNormLM(PostLayerNormLM):
    block = PreLNBlock

    def make_body(self, config: GPTConfig) -> nn.Module:
        return nn.Sequential(OrderedDict(h=super().make_body(config), ln_f=nn.LayerNorm(config.n_embd)))
