"""gpt2.model against oracles: HuggingFace transformers' GPT2LMHeadModel (logits, loss, gradients, export), HF Llama's
rotary embedding, torch's FLOP counter, and properties that would catch a wrong mask or position (causality, RoPE's
relative offsets, KV cache = recompute, padding invariance)."""

from __future__ import annotations

import math
from dataclasses import asdict

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from gpt2.model import (
    GPT,
    PRESETS,
    GPTConfig,
    Rotary,
    config_from_hf,
    state_dict_from_hf,
    state_dict_to_hf,
    swiglu_hidden,
)

VARIANTS = [("learned", "gelu"), ("learned", "swiglu"), ("rope", "gelu"), ("rope", "swiglu")]


def hf_model(n_layer=2, n_head=2, n_embd=64, n_positions=128, vocab_size=1000, seed=0) -> GPT2LMHeadModel:
    """A randomly initialised transformers GPT-2, all dropouts off, eval mode, eager attention."""
    torch.manual_seed(seed)
    cfg = GPT2Config(
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        n_positions=n_positions,
        vocab_size=vocab_size,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    cfg._attn_implementation = "eager"
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # HF zero-inits biases and LayerNorm; randomise them so a misplaced one shows
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def ours_from(hf: GPT2LMHeadModel, **overrides) -> GPT:
    model = GPT(config_from_hf(hf.config, **overrides))
    model.load_state_dict(state_dict_from_hf(hf.state_dict(), model.config))
    return model.eval()


def assert_parity(hf: GPT2LMHeadModel, ours: GPT, idx: torch.Tensor) -> None:
    """Logits within 1e-5, loss within 1e-6, every gradient within 1e-5 relative (Conv1D ones transposed back)."""
    out = hf(idx, labels=idx)  # HF shifts the labels inside
    logits, loss = ours(idx[:, :-1], idx[:, 1:])
    torch.testing.assert_close(logits, out.logits[:, :-1], atol=1e-5, rtol=0)
    assert abs(loss.item() - out.loss.item()) <= 1e-6
    out.loss.backward()
    loss.backward()
    hf_grads = state_dict_to_hf({k: p.grad for k, p in ours.named_parameters()}, ours.config)
    for name, p in hf.named_parameters():
        ours_g = hf_grads["lm_head.weight" if name == "transformer.wte.weight" and name not in hf_grads else name]
        rel = (ours_g - p.grad).norm() / p.grad.norm()
        assert rel < 1e-5, f"{name}: relative gradient error {rel:.2e}"


@pytest.mark.parametrize("pad", [1, 64])
def test_tiny_parity_with_transformers(pad):
    hf = hf_model()
    ours = ours_from(hf, pad_vocab_to=pad)
    assert ours.config.padded_vocab_size == (1024 if pad == 64 else 1000)
    idx = torch.randint(0, 1000, (3, 65), generator=torch.Generator().manual_seed(1))
    assert_parity(hf, ours, idx)


def test_124m_parity_with_transformers():
    hf = hf_model(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257)
    ours = ours_from(hf)
    assert ours.num_params() == 124_439_808
    idx = torch.randint(0, 50257, (1, 33), generator=torch.Generator().manual_seed(2))
    assert_parity(hf, ours, idx)


def test_save_hf_loads_in_transformers_and_matches(tmp_path):
    torch.manual_seed(3)
    ours = GPT(GPTConfig.from_preset("tiny", vocab_size=500, pad_vocab_to=64)).eval()
    with torch.no_grad():
        for p in ours.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    ours.save_hf(tmp_path / "hf")
    assert not [p for p in tmp_path.iterdir() if p.name != "hf"], "temp directory left behind"
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    assert hf.config.vocab_size == 500 and hf.config.n_positions == 128
    idx = torch.randint(0, 500, (2, 40), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-5, rtol=0)
    again = GPT.from_pretrained(str(tmp_path / "hf"), pad_vocab_to=64).eval()  # and back into ours
    torch.testing.assert_close(again(idx)[0], ours(idx)[0], atol=0, rtol=0)


def test_save_hf_refuses_variants_transformers_cannot_express(tmp_path):
    with pytest.raises(ValueError, match="rope"):
        GPT(GPTConfig.from_preset("tiny", vocab_size=100, pos_emb="rope")).save_hf(tmp_path)


def test_param_counts_match_transformers():
    """124M exactly as GPT-2 (tied weights); the larger presets counted on the meta device against HF's."""
    assert GPT(GPTConfig.from_preset("gpt2")).num_params() == 124_439_808
    for name in ("gpt2-medium", "gpt2-large", "gpt2-xl"):
        p = PRESETS[name]
        with torch.device("meta"):
            ours = GPT(GPTConfig.from_preset(name))
            hf = GPT2LMHeadModel(GPT2Config(n_layer=p["n_layer"], n_head=p["n_head"], n_embd=p["n_embd"]))
        assert ours.num_params() == hf.num_parameters(), name


def test_swiglu_keeps_mlp_params_close_to_gelu():
    assert swiglu_hidden(768) == 2048  # 2/3 * 4 * 768, a multiple of 64
    with torch.device("meta"):
        gelu = GPT(GPTConfig.from_preset("gpt2")).num_params()
        swiglu = GPT(GPTConfig.from_preset("gpt2", mlp="swiglu")).num_params()
        rope = GPT(GPTConfig.from_preset("gpt2", pos_emb="rope")).num_params()
    assert abs(swiglu - gelu) / gelu < 0.01
    assert gelu - rope == 1024 * 768  # RoPE has no wpe table and no other parameters


def test_padding_the_vocab_changes_nothing():
    torch.manual_seed(5)
    plain = GPT(GPTConfig.from_preset("tiny", vocab_size=1000))
    padded = GPT(GPTConfig.from_preset("tiny", vocab_size=1000, pad_vocab_to=64))
    padded.load_state_dict(state_dict_from_hf(state_dict_to_hf(plain.state_dict(), plain.config), padded.config))
    idx = torch.randint(0, 1000, (2, 50), generator=torch.Generator().manual_seed(6))
    (l1, loss1), (l2, loss2) = plain(idx, idx), padded(idx, idx)
    assert l2.shape == (2, 50, 1000)
    torch.testing.assert_close(l2, l1, atol=1e-6, rtol=0)
    torch.testing.assert_close(loss2, loss1, atol=1e-6, rtol=0)  # padded logits never enter the loss
    loss2.backward()
    assert padded.lm_head.weight.grad[1000:].abs().max() == 0  # padding rows are never used...
    assert padded.lm_head.weight[1000:].abs().max() == 0  # ...and stay zero
    g = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(
        plain.generate(idx[:, :5], 20, top_k=50, generator=g[0]),
        padded.generate(idx[:, :5], 20, top_k=50, generator=g[1]),
    )


@pytest.mark.parametrize("pos_emb,mlp", VARIANTS)
def test_causal(pos_emb, mlp):
    torch.manual_seed(8)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=100, pos_emb=pos_emb, mlp=mlp)).eval()
    idx = torch.randint(0, 100, (2, 30))
    changed = idx.clone()
    changed[:, 20:] = (changed[:, 20:] + 1) % 100
    a, b = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(a[:, :20], b[:, :20], atol=0, rtol=0)
    assert (a[:, 20:] - b[:, 20:]).abs().max() > 1e-3  # the change is visible where it may be


def test_rope_matches_transformers_llama_convention():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    hs, T, base = 16, 40, 10000.0
    rot = Rotary(hs, 128, base)
    q, k = torch.randn(2, 3, T, hs), torch.randn(2, 3, T, hs)
    inv_freq = 1.0 / (base ** (torch.arange(0, hs, 2).float() / hs))  # HF LlamaRotaryEmbedding's default
    emb = torch.cat([torch.outer(torch.arange(5, 5 + T).float(), inv_freq)] * 2, dim=-1)
    q_hf, k_hf = apply_rotary_pos_emb(q, k, emb.cos()[None], emb.sin()[None])
    torch.testing.assert_close(rot(q, pos=5), q_hf, atol=1e-6, rtol=0)
    torch.testing.assert_close(rot(k, pos=5), k_hf, atol=1e-6, rtol=0)


def test_rope_scores_depend_only_on_relative_offsets():
    rot = Rotary(32, 512)
    q, k = torch.randn(1, 4, 64, 32), torch.randn(1, 4, 64, 32)
    scores = rot(q) @ rot(k).transpose(-2, -1)  # (B, nh, T, T) at positions 0..63
    for shift in (1, 37, 448):
        shifted = rot(q, pos=shift) @ rot(k, pos=shift).transpose(-2, -1)
        torch.testing.assert_close(shifted, scores, atol=1e-4, rtol=1e-4)
    unrotated = q @ k.transpose(-2, -1)
    assert (scores - unrotated).abs().max() > 0.1  # the rotation does something


@pytest.mark.parametrize("pos_emb,mlp", VARIANTS)
def test_loss_at_init_is_close_to_uniform(pos_emb, mlp):
    torch.manual_seed(9)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=50257, pos_emb=pos_emb, mlp=mlp, pad_vocab_to=64))
    idx, targets = torch.randint(0, 50257, (2, 4, 64))  # independent: tied weights favour predicting the input
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(50257)) < 0.05


@pytest.mark.parametrize("pos_emb,mlp", VARIANTS)
def test_tiny_model_overfits_one_batch(pos_emb, mlp):
    torch.manual_seed(10)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=256, pos_emb=pos_emb, mlp=mlp))
    opt = model.configure_optimizers(weight_decay=0.0, learning_rate=3e-3)
    x = torch.randint(0, 256, (4, 32))
    y = torch.roll(x, -1, dims=1)
    for _ in range(200):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, f"{pos_emb}/{mlp}: loss {loss.item():.3f} after 200 steps"


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_kv_cache_generation_equals_full_recompute(pos_emb):
    """Greedy, batch of 2, running past the context (the window then slides) so both regimes are covered."""
    torch.manual_seed(11)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=24, vocab_size=50, pos_emb=pos_emb)).eval()
    with torch.no_grad():  # larger weights than at init, so greedy decoding does not just repeat one token
        for p in model.parameters():
            p.normal_(0.0, 1.0)
    idx = torch.randint(0, 50, (2, 7))
    cached = model.generate(idx, 30, temperature=0, use_cache=True)
    full = model.generate(idx, 30, temperature=0, use_cache=False)
    assert cached.shape == (2, 37)
    assert torch.equal(cached, full)
    assert len(set(cached[:, 7:].flatten().tolist())) > 2  # not a degenerate constant stream


def test_kv_cache_logits_equal_full_forward_for_chunks():
    """Feeding a sequence in chunks of 1, 5 and 3 tokens through the cache gives the full-forward logits."""
    from gpt2.model import KVCache

    torch.manual_seed(12)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=100, pos_emb="rope")).eval()
    idx = torch.randint(0, 100, (2, 9))
    cache = KVCache(model.config, 2, "cpu")
    chunks = [model(idx[:, a:b], kv_cache=cache)[0] for a, b in [(0, 1), (1, 6), (6, 9)]]
    torch.testing.assert_close(torch.cat(chunks, dim=1), model(idx)[0], atol=1e-5, rtol=0)


def test_sampling_is_seeded_and_respects_top_k():
    torch.manual_seed(13)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=100)).eval()
    idx = torch.zeros(1, 1, dtype=torch.long)
    a = model.generate(idx, 20, top_k=3, generator=torch.Generator().manual_seed(0))
    b = model.generate(idx, 20, top_k=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    one = model.generate(idx, 20, top_k=1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(one, model.generate(idx, 20, temperature=0))  # top-1 sampling is greedy decoding


def test_bad_input_errors():
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=100, pad_vocab_to=64)).eval()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 2, 100]]))  # 100 is a padding row: it must not be looked up silently
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.generate(torch.tensor([[-1]]), 2)
    with pytest.raises(ValueError, match="longer than the context"):
        model(torch.zeros(1, 129, dtype=torch.long))
    with pytest.warns(UserWarning, match="longer than the context"):
        out = model.generate(torch.zeros(1, 200, dtype=torch.long), 3, temperature=0)
    assert out.shape == (1, 203)
    with pytest.raises(ValueError, match="invalid GPTConfig"):
        GPTConfig(n_embd=100, n_head=3)
    with pytest.raises(ValueError, match="pos_emb"):
        GPTConfig(pos_emb="alibi")
    with pytest.raises(ValueError, match="unknown preset"):
        GPTConfig.from_preset("gpt3")


def test_config_round_trips_through_asdict():
    cfg = GPTConfig.from_preset("small", vocab_size=4096, pos_emb="rope", mlp="swiglu", pad_vocab_to=64)
    assert GPTConfig(**asdict(cfg)) == cfg
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size) == (6, 6, 384, 256)


def test_init_std_and_residual_scaling():
    torch.manual_seed(14)
    model = GPT(GPTConfig.from_preset("mini", vocab_size=4096))
    fc = torch.cat([b.mlp.c_fc.weight.flatten() for b in model.transformer.h])
    proj = torch.cat([b.mlp.c_proj.weight.flatten() for b in model.transformer.h])
    assert abs(fc.std().item() - 0.02) < 0.001
    assert abs(proj.std().item() - 0.02 / math.sqrt(2 * 4)) < 0.001


def test_configure_optimizers_decays_matrices_only():
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=100))
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == model.num_params()


@pytest.mark.parametrize("pos_emb,mlp", [("learned", "gelu"), ("rope", "swiglu")])
def test_flops_per_token_matches_torch_flop_counter(pos_emb, mlp):
    """6N + 12 L d T against torch's count for one forward + backward: matmuls (6N, N counting biases and LayerNorms
    too, hence the tolerance) and attention at 3x its forward (a flash backward recomputes scores: hardware FLOPs,
    not model FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = GPT(GPTConfig(n_layer=4, n_head=4, n_embd=256, block_size=512, vocab_size=4096, pos_emb=pos_emb, mlp=mlp))
    B, T = 2, 512
    idx = torch.randint(0, 4096, (B, T))
    with FlopCounterMode(display=False) as counter:
        model(idx, idx)[1].backward()
    counts = {str(op): n / (B * T) for op, n in counter.get_flop_counts()["Global"].items()}
    matmul = sum(n for op, n in counts.items() if op in ("aten.mm", "aten.addmm", "aten.bmm"))
    attn_fwd = sum(n for op, n in counts.items() if "scaled_dot_product" in op and "backward" not in op)
    attention = 12 * model.config.n_layer * model.config.n_embd * T
    assert 3 * attn_fwd == attention
    assert matmul + 3 * attn_fwd == pytest.approx(model.flops_per_token(T), rel=0.01)


@pytest.mark.slow
def test_124m_padded_export_round_trip_and_cached_generation(tmp_path):
    """The full-size path a user takes: HF weights -> ours (padded vocab) -> save_hf -> transformers, and greedy
    generation with and without the cache."""
    hf = hf_model(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257)
    ours = ours_from(hf, pad_vocab_to=64)
    ours.save_hf(tmp_path / "hf")
    back = GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    idx = torch.randint(0, 50257, (1, 64), generator=torch.Generator().manual_seed(15))
    with torch.no_grad():
        torch.testing.assert_close(back(idx).logits, hf(idx).logits, atol=1e-5, rtol=0)  # back: sdpa, hf: eager
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-5, rtol=0)
    assert torch.equal(ours.generate(idx, 16, temperature=0), ours.generate(idx, 16, temperature=0, use_cache=False))
