"""GPT-2 in one file: config, attention, MLP, blocks, the model, HuggingFace interop and KV-cache generation.

    from gpt2.model import GPT, GPTConfig
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=50257))
    logits, loss = model(idx, targets)                 # idx, targets: (B, T) LongTensors
    model = GPT.from_pretrained("gpt2")                # OpenAI's weights via transformers (needs internet)
    out = model.generate(idx, 50, temperature=0.8, top_k=200)

Names follow the GPT-2 checkpoint (transformer.wte, wpe, h.N.ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc,
mlp.c_proj, ln_f, lm_head), so a HuggingFace state dict converts by transposing its Conv1D weights and nothing else.

Variants are config switches, each decided in one place:
- pos_emb="rope": rotary embeddings (see `Rotary`) replace the learned wpe table.
- mlp="swiglu": a gated MLP whose hidden size `swiglu_hidden` keeps its parameter count close to the GELU MLP.
- attention="manual": softmax(QK^T / sqrt(hs)) V written out, with the causal mask (the speed ladder's slow first
  rung, gpt2/speed.py); the default "sdpa" calls F.scaled_dot_product_attention (flash attention on GPU). Same maths.
- pad_vocab_to=64: wte/lm_head get 50304 rows instead of 50257 (friendlier matmul shapes on GPU). The extra rows are
  zero, never looked up, and their logits are sliced off in `GPT.forward`, so outputs keep exactly vocab_size columns
  and padding cannot change a result (a padded logit can never be sampled or enter the loss).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F

# Presets: the four OpenAI sizes and three that train on a laptop CPU.
PRESETS: dict[str, dict] = {
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024),  # 124M
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024, block_size=1024),  # 350M
    "gpt2-large": dict(n_layer=36, n_head=20, n_embd=1280, block_size=1024),  # 774M
    "gpt2-xl": dict(n_layer=48, n_head=25, n_embd=1600, block_size=1024),  # 1558M
    "tiny": dict(n_layer=2, n_head=2, n_embd=64, block_size=128),
    "mini": dict(n_layer=4, n_head=4, n_embd=128, block_size=256),
    "small": dict(n_layer=6, n_head=6, n_embd=384, block_size=256),
}
POS_EMBS = ("learned", "rope")
MLPS = ("gelu", "swiglu")
ATTENTIONS = ("sdpa", "manual")


@dataclass
class GPTConfig:
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    block_size: int = 1024  # the context length
    vocab_size: int = 50257  # the tokenizer's vocabulary (GPT-2: 50,000 merges + 256 bytes + <|endoftext|>)
    pad_vocab_to: int = 1  # round the embedding rows up to a multiple of this (64: 50257 -> 50304)
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm, as GPT-2 has
    pos_emb: str = "learned"  # "learned" (GPT-2's wpe) | "rope"
    mlp: str = "gelu"  # "gelu" (GPT-2's, tanh approximation) | "swiglu"
    rope_base: float = 10000.0
    attention: str = "sdpa"  # "sdpa" (F.scaled_dot_product_attention, flash on GPU) | "manual" (written out)

    def __post_init__(self) -> None:
        problems = []
        if self.pos_emb not in POS_EMBS:
            problems.append(f"pos_emb={self.pos_emb!r} (use one of {POS_EMBS})")
        if self.mlp not in MLPS:
            problems.append(f"mlp={self.mlp!r} (use one of {MLPS})")
        if self.attention not in ATTENTIONS:
            problems.append(f"attention={self.attention!r} (use one of {ATTENTIONS})")
        for name in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size", "pad_vocab_to"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)!r} (must be a positive int)")
        if not problems and self.n_embd % self.n_head:
            problems.append(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not problems and self.pos_emb == "rope" and self.head_size % 2:
            problems.append(f"rope needs an even head size, got {self.head_size}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout={self.dropout} (must be in [0, 1))")
        if problems:
            raise ValueError("invalid GPTConfig: " + "; ".join(problems))

    @classmethod
    def from_preset(cls, name: str, **overrides) -> GPTConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    @property
    def padded_vocab_size(self) -> int:
        return math.ceil(self.vocab_size / self.pad_vocab_to) * self.pad_vocab_to

    @property
    def mlp_hidden(self) -> int:
        return 4 * self.n_embd if self.mlp == "gelu" else swiglu_hidden(self.n_embd)


def swiglu_hidden(n_embd: int, multiple: int = 64) -> int:
    """SwiGLU has three matrices instead of two, so 2/3 of the GELU MLP's 4*d keeps the parameters equal
    (3 * d * 8d/3 = 2 * d * 4d); rounded up to a multiple of 64 for matmul-friendly shapes (768 -> 2048)."""
    return math.ceil(2 * 4 * n_embd / 3 / multiple) * multiple


# ----------------------------------------------------------------------------------------------------------------------
# Rotary position embeddings


class Rotary(nn.Module):
    """RoPE, GPT-NeoX / HF Llama "rotate-half" convention, base 10000, over the whole head.

    Channel i is paired with channel i + hs/2 and the pair (x_i, x_{i+hs/2}) at position p is rotated by the angle
    p * base^(-2i/hs). Rotating q and k by their own positions makes q_m . k_n depend on m - n only (see
    notebooks/rope.ipynb). cos/sin for every position up to block_size are computed once and kept as buffers
    (not saved in the state dict: they are a function of the config).
    """

    def __init__(self, head_size: int, block_size: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_size, 2, dtype=torch.float32) / head_size))  # (hs/2,)
        angles = torch.outer(torch.arange(block_size, dtype=torch.float32), inv_freq)  # (T, hs/2)
        angles = torch.cat([angles, angles], dim=-1)  # (T, hs): channel i and i + hs/2 share an angle
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, pos: int = 0) -> torch.Tensor:
        """Rotate x (B, nh, T, hs) as if its first token sat at position `pos`."""
        T = x.size(-2)
        cos, sin = self.cos[pos : pos + T].to(x.dtype), self.sin[pos : pos + T].to(x.dtype)  # (T, hs)
        return x * cos + rotate_half(x) * sin


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dim: a 90-degree turn of every (i, i + hs/2) pair."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


# ----------------------------------------------------------------------------------------------------------------------
# KV cache


class KVCache:
    """Keys and values of every layer for positions [0, pos), preallocated up to block_size."""

    def __init__(self, config: GPTConfig, batch_size: int, device, dtype=torch.float32):
        shape = (batch_size, config.n_head, config.block_size, config.head_size)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layer)]
        self.pos = 0  # tokens cached so far; advanced by GPT.forward once all layers have stored theirs

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, nh, T, hs) at positions [pos, pos + T) and return all keys/values up to pos + T."""
        end = self.pos + k.size(2)
        self.k[layer][:, :, self.pos : end] = k
        self.v[layer][:, :, self.pos : end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


# ----------------------------------------------------------------------------------------------------------------------
# The model


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.dropout = config.n_head, config.dropout
        self.manual = config.attention == "manual"
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.c_proj.RESIDUAL_SCALE_INIT = True
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, rotary: Rotary | None = None, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        pos = cache.pos if cache is not None else 0
        if rotary is not None:
            q, k = rotary(q, pos), rotary(k, pos)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, nh, pos + T, hs)
        if pos == 0:
            mask, causal = None, True
        elif T == 1:
            mask, causal = None, False  # one new query may look at every cached key
        else:  # several new queries after a cached prefix: query i sees keys [0, pos + i]
            mask = torch.ones(T, pos + T, dtype=torch.bool, device=x.device).tril(diagonal=pos)
            causal = False
        dropout_p = self.dropout if self.training else 0.0
        if self.manual:
            y = manual_attention(q, k, v, pos, dropout_p)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=causal, dropout_p=dropout_p
            )  # flash on GPU
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads side by side
        return self.resid_dropout(self.c_proj(y))


def manual_attention(q, k, v, pos: int = 0, dropout_p: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(hs)) v with query i (at position pos + i) seeing keys [0, pos + i]: what SDPA computes,
    but materialising the (T, pos + T) score matrix in memory, read and written several times (the slow rung)."""
    T, S = q.size(-2), k.size(-2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (B, nh, T, S)
    visible = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=pos)
    att = F.softmax(att.masked_fill(~visible, float("-inf")), dim=-1)
    att = F.dropout(att, dropout_p, training=dropout_p > 0)
    return att @ v


class MLP(nn.Module):
    """GELU: c_proj(gelu(c_fc(x))). SwiGLU: c_proj(silu(gate) * up) with [gate | up] = c_fc(x), one fused matmul."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.swiglu = config.mlp == "swiglu"
        hidden = config.mlp_hidden
        self.c_fc = nn.Linear(config.n_embd, 2 * hidden if self.swiglu else hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.c_proj.RESIDUAL_SCALE_INIT = True
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        h = self.c_fc(x)
        if self.swiglu:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.gelu(h, approximate="tanh")  # GPT-2's "gelu_new"
        return self.dropout(self.c_proj(h))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, rotary=None, cache=None, layer=0):
        x = x + self.attn(self.ln_1(x), rotary, cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        modules = dict(
            wte=nn.Embedding(config.padded_vocab_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        )
        if config.pos_emb == "learned":
            modules["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        self.transformer = nn.ModuleDict(modules)
        self.rotary = (
            Rotary(config.head_size, config.block_size, config.rope_base) if config.pos_emb == "rope" else None
        )
        self.lm_head = nn.Linear(config.n_embd, config.padded_vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as GPT-2 does
        self.apply(self._init_weights)
        with torch.no_grad():
            self.lm_head.weight[config.vocab_size :] = 0  # padding rows: never used, kept at zero

    def _init_weights(self, module: nn.Module) -> None:
        """GPT-2 init: N(0, 0.02); residual projections scaled by 1/sqrt(2 n_layer) (two per block add to x)."""
        if isinstance(module, nn.Linear):
            std = 0.02 / math.sqrt(2 * self.config.n_layer) if getattr(module, "RESIDUAL_SCALE_INIT", False) else 0.02
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameters (the tied wte/lm_head counted once). non_embedding drops wpe; wte stays: it is the LM head."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and "wpe" in self.transformer:
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, kv_cache: KVCache | None = None):
        """idx (B, T) -> logits (B, T, vocab_size) and mean cross-entropy over all positions (None without targets).
        Targets equal to -1 are ignored. With kv_cache, idx continues the cached sequence."""
        B, T = idx.size()
        pos = kv_cache.pos if kv_cache is not None else 0
        if pos + T > self.config.block_size:
            raise ValueError(
                f"sequence of {pos + T} tokens is longer than the context (block_size="
                f"{self.config.block_size}): crop it to the last {self.config.block_size} tokens"
            )
        if idx.device.type == "cpu" and not torch.compiler.is_compiling():  # cheap here; a GPU would have to sync
            check_ids(idx, self.config.vocab_size)
        x = self.transformer.wte(idx)  # (B, T, C)
        if self.rotary is None:
            x = x + self.transformer.wpe(torch.arange(pos, pos + T, device=idx.device))  # (T, C) broadcast over B
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, self.rotary, kv_cache, i)
        if kv_cache is not None:
            kv_cache.pos += T
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # (B, T, padded_vocab)
        if self.config.padded_vocab_size != self.config.vocab_size:
            logits = logits[..., : self.config.vocab_size]  # padded columns never win: they are not there
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    # ------------------------------------------------------------------------------------------------------------------
    # Training helpers

    def configure_optimizers(
        self,
        weight_decay: float,
        learning_rate: float,
        betas=(0.9, 0.95),
        device_type: str = "cpu",
        fused: bool | None = None,
    ) -> torch.optim.AdamW:
        """AdamW with weight decay on matrices (Linear weights, embeddings) only, not on biases and LayerNorm gains.

        fused: one kernel for all parameters (True), torch's default per-parameter/foreach update (False), or None:
        fused on CUDA only (as build-nanogpt; torch >= 2.4 also has a fused CPU kernel, the speed ladder's last rung).
        """
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        if fused is None:
            fused = device_type == "cuda"
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, fused=fused)

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward), PaLM appendix B: 6N for the matmuls with the N
        non-embedding-table weights (wte counts: it is the LM head), plus 12 * n_layer * n_embd * T for attention."""
        T = seq_len or self.config.block_size
        return 6 * self.num_params(non_embedding=True) + 12 * self.config.n_layer * self.config.n_embd * T

    # ------------------------------------------------------------------------------------------------------------------
    # HuggingFace interop

    @classmethod
    def from_pretrained(cls, name_or_dir: str, **overrides) -> GPT:
        """OpenAI's GPT-2 weights (gpt2, gpt2-medium, gpt2-large, gpt2-xl; downloaded by transformers) or a directory
        written by `save_hf` / `save_pretrained`. overrides: e.g. dropout=0.1, pad_vocab_to=64."""
        from transformers import GPT2LMHeadModel  # here: importing transformers takes seconds (HF interop only)

        hf = GPT2LMHeadModel.from_pretrained(name_or_dir)
        model = cls(config_from_hf(hf.config, **overrides))
        model.load_state_dict(state_dict_from_hf(hf.state_dict(), model.config))
        return model

    def to_hf(self):
        """This model as a transformers GPT2LMHeadModel (learned positions, GELU, biases: GPT-2's architecture)."""
        from transformers import GPT2LMHeadModel  # here: importing transformers takes seconds (HF interop only)

        hf = GPT2LMHeadModel(config_to_hf(self.config))
        hf.load_state_dict(state_dict_to_hf(self.state_dict(), self.config))
        return hf.eval()

    def save_hf(self, directory: str | Path) -> None:
        """Write a directory that `transformers.GPT2LMHeadModel.from_pretrained(directory)` loads (written to a temp
        directory first, then moved into place file by file)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            self.to_hf().save_pretrained(tmp)
            for f in tmp.iterdir():
                os.replace(f, directory / f.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------------------------------------------------------------
    # Generation

    @torch.no_grad()
    def generate_stream(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
    ) -> Iterator[torch.Tensor]:
        """Yield the next token ids (B,) one step at a time. temperature=0 decodes greedily; top_k and top_p (nucleus)
        filter as `next_token_probs` does.

        With use_cache, the prompt is run once and each step feeds only the newest token. Once the sequence is longer
        than the context, the window slides and every position shifts, so from then on each step recomputes the window
        (exactly what use_cache=False does at every step)."""
        check_ids(idx, self.config.vocab_size)
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] or None, got {top_p}")
        bs = self.config.block_size
        if idx.size(1) > bs:
            warnings.warn(
                f"prompt of {idx.size(1)} tokens is longer than the context ({bs}): "
                f"only its last {bs} tokens condition the output",
                stacklevel=2,
            )
        if idx.size(1) == 0:
            raise ValueError("empty prompt: give at least one token (e.g. the tokenizer's eot_token)")
        seq, cache = idx, None
        for _ in range(max_new_tokens):
            if not use_cache or seq.size(1) > bs:
                logits, _ = self(seq[:, -bs:])
            elif cache is None or cache.pos + 1 > bs:
                cache = KVCache(self.config, seq.size(0), seq.device, self.lm_head.weight.dtype)
                logits, _ = self(seq, kv_cache=cache)  # prefill
            else:
                logits, _ = self(seq[:, -1:], kv_cache=cache)
            nxt = sample_next(logits[:, -1, :].float(), temperature, top_k, generator, top_p)  # (B, 1)
            seq = torch.cat([seq, nxt], dim=1)
            yield nxt.view(-1)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        top_p: float | None = None,
    ) -> torch.Tensor:
        """idx (B, T) -> (B, T + max_new_tokens): the prompt followed by the sampled tokens."""
        new = list(self.generate_stream(idx, max_new_tokens, temperature, top_k, use_cache, generator, top_p))
        return torch.cat([idx, torch.stack(new, dim=1)], dim=1) if new else idx.clone()


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """logits (B, V) -> next ids (B, 1): greedy at temperature 0, else a draw from `next_token_probs`."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    return torch.multinomial(next_token_probs(logits, temperature, top_k, top_p), num_samples=1, generator=generator)


def next_token_probs(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """logits (B, V) -> the sampling distribution (B, V), in HuggingFace transformers' order: divide by the temperature
    (> 0), keep the top_k most likely tokens, then the nucleus: the fewest most likely tokens whose probability mass
    reaches top_p (at least one token). Dropped tokens get probability exactly 0."""
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        logits = logits.masked_fill(outside_nucleus(logits, top_p), float("-inf"))
    return F.softmax(logits, dim=-1)


def outside_nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """(B, V) bool mask of the tokens outside the top-p nucleus. Written as transformers' TopPLogitsWarper writes it
    (ascending sort, drop the tail whose mass is <= 1 - p, always keep the top token), so ties and rounding at the
    boundary fall the same way as there."""
    sorted_logits, order = torch.sort(logits, descending=False)
    tail_mass = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop = tail_mass <= 1 - top_p
    drop[:, -1] = False
    return drop.scatter(1, order, drop)


def check_ids(idx: torch.Tensor, vocab_size: int) -> None:
    if idx.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"token ids must be an integer tensor, got {idx.dtype}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= vocab_size):
        bad = idx[(idx < 0) | (idx >= vocab_size)].flatten()[0].item()
        raise ValueError(
            f"token id {bad} is outside the vocabulary [0, {vocab_size}): was the text encoded with "
            f"another tokenizer than the model's?"
        )


# ----------------------------------------------------------------------------------------------------------------------
# HuggingFace <-> ours. Same names; HF's Conv1D stores weights as (in, out), nn.Linear as (out, in).

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
HF_ARCH = dict(pos_emb="learned", mlp="gelu", bias=True)


def config_from_hf(hf_config, **overrides) -> GPTConfig:
    c = hf_config
    return GPTConfig(
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_embd=c.n_embd,
        block_size=c.n_positions,
        vocab_size=c.vocab_size,
        **{**HF_ARCH, **overrides},
    )


def config_to_hf(config: GPTConfig):
    from transformers import GPT2Config  # here: importing transformers takes seconds, and only HF interop needs it

    wrong = {k: getattr(config, k) for k, v in HF_ARCH.items() if getattr(config, k) != v}
    if wrong:
        raise ValueError(f"transformers' GPT-2 has learned positions, a GELU MLP and biases; this model has {wrong}")
    p = config.dropout
    return GPT2Config(
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_embd=config.n_embd,
        n_positions=config.block_size,
        vocab_size=config.vocab_size,
        activation_function="gelu_new",
        resid_pdrop=p,
        embd_pdrop=p,
        attn_pdrop=p,
        tie_word_embeddings=True,
    )


def state_dict_from_hf(sd: dict, config: GPTConfig) -> dict:
    """A GPT2LMHeadModel state dict -> ours: transpose Conv1D weights, pad the vocabulary rows with zeros."""
    out = {}
    for k, v in sd.items():
        if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
            continue  # causal-mask buffers of older transformers versions, not weights
        v = v.t() if k.endswith(CONV1D) else v
        if k in ("transformer.wte.weight", "lm_head.weight"):
            v = F.pad(v, (0, 0, 0, config.padded_vocab_size - v.size(0)))
        out[k] = v.detach().clone()
    if "lm_head.weight" not in out:
        out["lm_head.weight"] = out["transformer.wte.weight"]
    return out


def state_dict_to_hf(sd: dict, config: GPTConfig) -> dict:
    """Ours -> a GPT2LMHeadModel state dict: transpose back, drop the padding rows."""
    out = {}
    for k, v in sd.items():
        v = v.t() if k.endswith(CONV1D) else v
        if k in ("transformer.wte.weight", "lm_head.weight"):
            v = v[: config.vocab_size]
        out[k] = v.detach().clone()
    return out
