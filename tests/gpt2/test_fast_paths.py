"""Every fast (GPU) code path of the trainer, run on CPU against the plain fp32 eager path as the oracle.

- torch.compile (inductor on CPU) of the trainer's model: the same losses as eager for baseline, rope and swiglu;
  compile + gradient accumulation + --resume bit-exact against its own uninterrupted run.
- bf16 autocast in train_step: it engages (losses differ from fp32) and stays within bf16 noise of fp32.
- the KV-cache sampler on a compiled model: the same tokens as the eager model.
- AdamW: the implementation configure_optimizers picks per device, and its steps against torch's reference for-loop.
- CUDA only (`gpu` marker, deselected without a GPU): bf16 + flash SDPA vs fp32, compile on cuda, DDP over nccl.

Compiling costs tens of seconds per model on 2 shared cores, so every compile test is marked slow.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
import torch._dynamo
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.optim.optimizer import _default_to_fused_or_foreach

from gpt2 import train as T
from gpt2.checkpoint import load_checkpoint
from gpt2.distributed import Dist
from gpt2.model import GPT, GPTConfig
from testutil import ROOT, gpt2_shards, tiny_run

VOCAB = 50257

# Measured on this CPU (torch 2.15, tiny preset, 4 steps of 2 x (4 x 32) tokens): compiled vs eager losses differ by
# 1.9e-6 (baseline), 0 (rope), 9.5e-7 (swiglu); final weights by <= 6.7e-6. Inductor fuses and reorders float32 sums,
# nothing else. 1e-4 is 50x that, room for other CPUs' vector widths, and still 1000x below the ~0.1 a step moves the
# loss here, so a compiled graph that computes something else cannot hide in it.
COMPILE_LOSS_TOL = 1e-4
# bf16 keeps 8 bits of mantissa (relative step 2^-8 = 0.4%), but the loss itself is an fp32 mean over many rounded
# logits, so the errors mostly cancel. Measured on this CPU (tiny preset, 5 steps, lr 6e-3, loss 10.84 -> 9.75):
# |bf16 - fp32| <= 8.6e-4 (gpt2) and 2.0e-3 (rope + swiglu); 0.01 is 5x that, and 100x below the 1.1 the loss moves.
BF16_LOSS_TOL = 0.01
# CUDA (flash kernels, TF32, bf16 reductions in a different order): never measured here (no GPU was lent), so the
# bound is one bf16 ulp at a loss of 10.8 (2^-4 = 0.0625) rounded down, not a measurement.
BF16_CUDA_TOL = 0.05


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return gpt2_shards(tmp_path_factory.mktemp("shakespeare"))


def tiny(shards, out, **kw):
    """A tiny-preset rope run of 4 steps (testutil.tiny_run)."""
    return tiny_run(shards, out, **{"config": "rope", "max_steps": 4, **kw})


def synthetic_batches(seed: int, batch: int = 4, seq_len: int = 32, n: int = 64):
    """next_batch for train_step: windows of one fixed random token stream over 512 ids (learnable: it repeats)."""
    g = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, 512, (4096,), generator=g)
    starts = iter(torch.randint(0, stream.numel() - seq_len - 1, (n, batch), generator=g).tolist())

    def next_batch():
        rows = torch.stack([stream[s : s + seq_len + 1] for s in next(starts)])
        return rows[:, :-1], rows[:, 1:]

    return next_batch


def tiny_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.from_preset("tiny", vocab_size=VOCAB, pad_vocab_to=64, **overrides))


def run_steps(model, autocast_dtype=None, steps: int = 5, device: str = "cpu", lr: float = 6e-3) -> list[float]:
    """STEPS optimizer steps of 2 micro-batches each with the trainer's train_step and AdamW; the losses."""
    d = Dist(device=torch.device(device))
    opt = model.configure_optimizers(0.1, lr, device_type=device)
    batches = synthetic_batches(1)

    def next_batch():
        x, y = batches()
        return x.to(device), y.to(device)

    return [T.train_step(model, opt, next_batch, 2, lr, 1.0, d, autocast_dtype)[0] for _ in range(steps)]


# -----------------------------------------------------------------------------
# torch.compile in the trainer (inductor on CPU)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["baseline", "rope", "swiglu"])
def test_compiled_training_matches_eager(shards, tmp_path, config):
    eager = T.train(tiny(shards, tmp_path / "eager", config=config))
    torch._dynamo.utils.counters.clear()
    compiled = T.train(tiny(shards, tmp_path / "compiled", config=config, compile=True))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # it was compiled, not silently eager
    assert len(compiled.losses) == 4
    assert compiled.losses == pytest.approx(eager.losses, abs=COMPILE_LOSS_TOL)
    a, b = load_checkpoint(eager.checkpoint)["model"], load_checkpoint(compiled.checkpoint)["model"]
    assert a.keys() == b.keys()  # the raw model is saved, not the compiled wrapper ("_orig_mod." names)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4  # measured <= 6.7e-6


@pytest.mark.slow
def test_compiled_accumulation_resume_is_bit_exact(shards, tmp_path):
    """compile + grad_accum 2 + --resume: the stopped-and-resumed run equals its own uninterrupted compiled run."""
    straight = T.train(tiny(shards, tmp_path / "a", compile=True, max_steps=6))
    first = T.train(tiny(shards, tmp_path / "b", compile=True, max_steps=6, stop_at=3))
    assert first.stopped == "stop_at" and first.step == 3
    second = T.train(tiny(shards, tmp_path / "b", compile=True, max_steps=6), resume="latest")
    with open(second.run_dir / "log.jsonl") as f:
        header = [r for r in map(json.loads, f) if r["type"] == "config"][-1]
    assert header["grad_accum_steps"] == 2 and header["train_config"]["compile"] is True
    assert first.losses + second.losses == straight.losses  # float equality, step by step
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(second.checkpoint)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for i, state in a["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg_sq"], b["optimizer"]["state"][i]["exp_avg_sq"]), i


# -----------------------------------------------------------------------------
# bf16 autocast in train_step, on CPU


@pytest.mark.parametrize("overrides", [{}, {"pos_emb": "rope", "mlp": "swiglu"}], ids=["gpt2", "rope-swiglu"])
def test_bf16_autocast_tracks_fp32(overrides):
    fp32 = run_steps(tiny_model(**overrides))
    bf16 = run_steps(tiny_model(**overrides), autocast_dtype=torch.bfloat16)
    assert fp32[-1] < fp32[0] - 0.5  # it learns: the comparison is over a moving loss, not a flat one
    assert bf16 != fp32  # autocast engaged (a no-op autocast would reproduce fp32 bit for bit)
    assert bf16 == pytest.approx(fp32, abs=BF16_LOSS_TOL)


def test_bf16_autocast_computes_matmuls_in_bf16_and_keeps_fp32_weights():
    model = tiny_model()
    x = torch.randint(0, VOCAB, (2, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(x, x)
    assert logits.dtype == torch.bfloat16  # lm_head ran in bf16
    assert loss.dtype == torch.float32  # cross_entropy is on autocast's fp32 list
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32


# -----------------------------------------------------------------------------
# the KV-cache sampler on a compiled model


@pytest.mark.slow
def test_kv_cache_sampler_on_compiled_model():
    """model.compile() compiles in place, so generate()'s self(...) calls (prefill and one-token steps) run compiled.
    (torch.compile(model).generate would run eager: attribute access falls through to the raw module.)"""
    prompt = torch.randint(0, VOCAB, (2, 5), generator=torch.Generator().manual_seed(3))
    eager = tiny_model(pos_emb="rope").eval()
    compiled = tiny_model(pos_emb="rope").eval()
    compiled.compile()
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    greedy = compiled.generate(prompt, 8, temperature=0)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # it was compiled, not silently eager
    assert torch.equal(greedy, eager.generate(prompt, 8, temperature=0))
    assert torch.equal(greedy, eager.generate(prompt, 8, temperature=0, use_cache=False))  # the cache itself is right
    sampled = compiled.generate(prompt, 8, top_k=50, generator=torch.Generator().manual_seed(7))
    assert torch.equal(sampled, eager.generate(prompt, 8, top_k=50, generator=torch.Generator().manual_seed(7)))


# -----------------------------------------------------------------------------
# AdamW: which implementation, and its steps against torch's reference for-loop


def adam_steps(model: GPT, opt, steps: int = 3) -> dict[str, torch.Tensor]:
    batches, d = synthetic_batches(2), Dist(device=next(model.parameters()).device)
    for _ in range(steps):
        T.train_step(model, opt, batches, 1, 1e-3, 1.0, d)
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def reference_adamw(model: GPT, opt) -> torch.optim.AdamW:
    """torch's single-tensor AdamW over the same groups and hyperparameters as OPT."""
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in opt.param_groups]
    d = opt.defaults
    return torch.optim.AdamW(groups, lr=d["lr"], betas=d["betas"], eps=d["eps"], foreach=False, fused=False)


def test_adamw_choice_on_cpu():
    """On CPU the trainer gets torch's default: fused is not requested and torch resolves foreach to the for-loop
    (foreach kernels exist only for accelerator tensors), so its steps equal the reference bit for bit."""
    model = tiny_model()
    opt = model.configure_optimizers(0.1, 1e-3, device_type="cpu")
    assert [g["fused"] for g in opt.param_groups] == [False, False]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    params = [p for g in opt.param_groups for p in g["params"]]
    assert _default_to_fused_or_foreach(params, differentiable=False, use_fused=False) == (False, False)
    ref_model = tiny_model()
    ref = reference_adamw(ref_model, ref_model.configure_optimizers(0.1, 1e-3))
    got, want = adam_steps(model, opt), adam_steps(ref_model, ref)
    for name, p in got.items():
        assert torch.equal(p, want[name]), name


def test_fused_adamw_kernel_matches_reference():
    """What configure_optimizers picks for CUDA (fused) run through torch's fused CPU kernel (torch >= 2.4): the same
    update as the reference up to float32 rounding of a differently ordered formula. atol 1e-5 (1% of one lr step):
    the key bias's gradient is pure rounding noise (softmax ignores a shift shared by all keys), and Adam turns noise
    into steps of up to lr, so two roundings of the same update part by ~1e-6 there (measured 1.4e-6)."""
    model = tiny_model()
    try:
        opt = model.configure_optimizers(0.1, 1e-3, device_type="cuda")  # on CPU parameters
    except RuntimeError as e:  # torch builds without a fused CPU AdamW
        pytest.skip(f"no fused AdamW for CPU tensors in torch {torch.__version__}: {e}")
    assert [g["fused"] for g in opt.param_groups] == [True, True]
    ref_model = tiny_model()
    ref = reference_adamw(ref_model, ref_model.configure_optimizers(0.1, 1e-3))
    got, want = adam_steps(model, opt), adam_steps(ref_model, ref)
    for name, p in got.items():
        torch.testing.assert_close(p, want[name], rtol=1e-5, atol=1e-5, msg=name)


# -----------------------------------------------------------------------------
# CUDA only: deselected by tests/conftest.py where there is no GPU


@pytest.mark.gpu
def test_cuda_bf16_flash_attention_matches_fp32():
    """Flash SDPA under bf16 autocast (forced: an error if flash cannot run) vs the fp32 math kernel without TF32."""
    model = tiny_model(pos_emb="rope").cuda()
    x = torch.randint(0, VOCAB, (4, 128), device="cuda", generator=torch.Generator("cuda").manual_seed(0))
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            ref_logits, ref_loss = model(x, x)
        with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION), torch.autocast("cuda", dtype=torch.bfloat16):
            logits, loss = model(x, x)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    assert logits.dtype == torch.bfloat16
    assert loss.item() == pytest.approx(ref_loss.item(), abs=BF16_CUDA_TOL)
    assert (logits.float() - ref_logits).abs().max().item() < 0.05  # logits of scale ~1 at init, bf16 ulp 2^-8
    fp32 = run_steps(tiny_model(pos_emb="rope").cuda(), device="cuda")
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        bf16 = run_steps(tiny_model(pos_emb="rope").cuda(), torch.bfloat16, device="cuda")
    assert bf16 == pytest.approx(fp32, abs=BF16_CUDA_TOL)


@pytest.mark.gpu
def test_cuda_compiled_bf16_training_matches_eager():
    eager = run_steps(tiny_model(mlp="swiglu").cuda(), torch.bfloat16, device="cuda")
    model = tiny_model(mlp="swiglu").cuda()
    compiled = run_steps(torch.compile(model), torch.bfloat16, device="cuda")
    # both in bf16: compile reorders and fuses bf16 ops, so the gap is bf16 noise, not float32 noise
    assert compiled == pytest.approx(eager, abs=BF16_CUDA_TOL)


@pytest.mark.gpu
def test_cuda_picks_fused_adamw_and_it_matches_reference():
    model = tiny_model().cuda()
    opt = model.configure_optimizers(0.1, 1e-3, device_type="cuda")
    assert [g["fused"] for g in opt.param_groups] == [True, True]
    ref_model = tiny_model().cuda()
    ref = reference_adamw(ref_model, ref_model.configure_optimizers(0.1, 1e-3, device_type="cpu"))
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # the same fp32 gradients on both sides
    try:
        got, want = adam_steps(model, opt), adam_steps(ref_model, ref)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    for name, p in got.items():
        torch.testing.assert_close(p, want[name], rtol=1e-5, atol=1e-5, msg=name)  # as the CPU fused kernel


@pytest.mark.gpu
def test_cuda_ddp_nccl_two_ranks_equal_one_process(shards, tmp_path):
    """2 ranks x micro-batch 4 over nccl == 1 process x micro-batch 8 (as test_train's gloo test, here in bf16)."""
    if torch.cuda.device_count() < 2:
        pytest.skip(f"DDP over nccl needs 2 GPUs, this machine has {torch.cuda.device_count()}")
    flags = ["--config", "baseline", "--model", "tiny", "--data", shards, "--out", str(tmp_path), "--seq-len", "32"]
    flags += ["--total-batch-tokens", "512", "--max-steps", "3", "--eval-every", "0", "--hellaswag", "none"]
    flags += ["--sample-tokens", "0", "--device", "cuda", "--run-name", "ddp", "--micro-batch", "4"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([*torchrun, str(ROOT / "gpt-2" / "train.py"), *flags], capture_output=True, text=True, env=env)
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    one = dict(config="baseline", run_name="one", micro_batch=8, total_batch_tokens=512, max_steps=3, device="cuda")
    single = T.train(tiny(shards, tmp_path, **one))
    with open(tmp_path / "ddp" / "log.jsonl") as f:
        records = [json.loads(line) for line in f]
    assert records[0]["world_size"] == 2 and records[0]["grad_accum_steps"] == 2
    assert [r["loss"] for r in records if r["type"] == "train"] == pytest.approx(single.losses, abs=BF16_CUDA_TOL)
