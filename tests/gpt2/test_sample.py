"""gpt-2/sample.py: streams exactly what model.generate produces, decoded by the checkpoint's tokenizer (tiktoken as
the oracle), reproducibly per seed; clear errors for bad checkpoints and prompts. The sampling distribution
(temperature, top-k, top-p) against hand-computed probabilities and against transformers' logits warpers."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import tiktoken
import torch
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from gpt2.checkpoint import save_checkpoint
from gpt2.model import GPT, GPTConfig, next_token_probs, sample_next
from gpt2.sample import encode_prompt, main, stream_sample
from scratch.cli import run as cli_run
from testutil import ROOT, require_tiktoken_cache


@pytest.fixture
def ckpt(tmp_path) -> Path:
    """A tiny random GPT over the real GPT-2 vocabulary (padded), saved as a checkpoint naming tiktoken gpt2."""
    require_tiktoken_cache()
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=32, vocab_size=50257, pad_vocab_to=64))
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"model": model.state_dict(), "config": asdict(model.config), "tokenizer": "gpt2"})
    return path


def run(capsys, *args) -> tuple[str, str]:
    main(list(args))
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_cli_streams_generate_output_decoded_by_tiktoken(ckpt, capsys):
    out, _ = run(
        capsys,
        "--ckpt",
        str(ckpt),
        "--prompt",
        "Hello, world",
        "--max-new-tokens",
        "12",
        "--top-k",
        "50",
        "--seed",
        "3",
        "--device",
        "cpu",
    )
    enc = tiktoken.get_encoding("gpt2")
    from gpt2.checkpoint import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(ckpt)).eval()
    idx = torch.tensor([enc.encode_ordinary("Hello, world")])
    expected = model.generate(idx, 12, top_k=50, generator=torch.Generator().manual_seed(3))
    assert out == enc.decode(expected[0].tolist()) + "\n"
    again, _ = run(
        capsys,
        "--ckpt",
        str(ckpt),
        "--prompt",
        "Hello, world",
        "--max-new-tokens",
        "12",
        "--top-k",
        "50",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--no-kv-cache",
    )
    assert again == out  # same seed, with or without the cache


def test_streaming_never_splits_a_character():
    """Tokens that each hold part of one UTF-8 character: nothing is written until the character is complete."""
    require_tiktoken_cache()
    enc = tiktoken.get_encoding("gpt2")
    pieces = enc.encode("🤗")  # several byte-level tokens for one emoji
    assert len(pieces) > 1

    class Scripted(GPT):  # greedy decoding that follows a script: the logits put all mass on the next piece
        def forward(self, idx, targets=None, kv_cache=None):
            if kv_cache is not None:
                kv_cache.pos += idx.size(1)
            step = idx.size(1) if kv_cache is None else kv_cache.pos
            logits = torch.zeros(idx.size(0), idx.size(1), self.config.vocab_size)
            logits[:, -1, pieces[(step - 1) % len(pieces)]] = 1.0
            return logits, None

    model = Scripted(GPTConfig(n_layer=1, n_head=1, n_embd=8, block_size=64, vocab_size=50257)).eval()
    writes = []

    class Out(io.StringIO):
        def write(self, s):
            writes.append(s)
            return super().write(s)

    out = Out()
    new = stream_sample(model, enc, [pieces[-1]], len(pieces), temperature=0, out=out)
    assert new == pieces
    assert out.getvalue() == "🤗"
    assert all("\ufffd" not in w for w in writes)


def test_long_prompt_is_cropped_with_a_warning(ckpt, capsys):
    out, err = run(capsys, "--ckpt", str(ckpt), "--prompt", "word " * 100, "--max-new-tokens", "3", "--device", "cpu")
    assert "longer than the context (32): keeping its last 32" in err
    assert out.startswith("word " * 100)


def test_tokenizer_larger_than_the_model_vocab(tmp_path):
    require_tiktoken_cache()
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=1000))
    with pytest.raises(ValueError, match="has 50257 tokens but the model only 1000"):
        encode_prompt(tiktoken.get_encoding("gpt2"), "hi", model)


@pytest.mark.parametrize("problem", ["missing", "corrupt", "mismatch"])
def test_bad_checkpoints_exit_with_a_clear_message(ckpt, tmp_path, capsys, problem):
    if problem == "missing":
        path, message = tmp_path / "nope.pt", "no such checkpoint file"
    elif problem == "corrupt":
        path, message = tmp_path / "bad.pt", "not a readable checkpoint"
        path.write_bytes(ckpt.read_bytes()[:1000])
    else:
        state = torch.load(ckpt, weights_only=True)
        state["config"]["n_embd"] = 64
        path, message = tmp_path / "other.pt", "do not match its config"
        torch.save(state, path)
    with pytest.raises(SystemExit) as exit_:
        cli_run(main, ["--ckpt", str(path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_thin_cli_runs(ckpt):
    """gpt-2/sample.py as a user runs it, in a fresh interpreter."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "gpt-2" / "sample.py"),
            "--ckpt",
            str(ckpt),
            "--prompt",
            "Once upon",
            "--max-new-tokens",
            "5",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Once upon") and len(result.stdout) > len("Once upon\n")


@pytest.mark.slow  # ~15 s: a fresh interpreter importing transformers and asking the hub
def test_pretrained_without_network_is_a_clear_error():
    """--ckpt gpt2 goes through transformers' download; offline (as here) that is one error line, no traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "gpt-2" / "sample.py"), "--ckpt", "gpt2", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


HAND = [0.5, 0.3, 0.15, 0.05]  # a distribution whose nuclei are easy to work out by hand
DRAWS = 20_000
TOLERANCE = 0.02  # ~6 standard deviations of a frequency near 0.5 over DRAWS draws: a wrong renormalisation is 0.1 off


def hand_logits() -> torch.Tensor:
    return torch.tensor([[math.log(q) for q in HAND]])


def frequencies(probs_logits: torch.Tensor, seed: int = 0, **knobs) -> torch.Tensor:
    """How often each token is drawn by sample_next over DRAWS seeded draws (one batched call)."""
    draws = sample_next(probs_logits.expand(DRAWS, -1), generator=torch.Generator().manual_seed(seed), **knobs)
    return torch.bincount(draws.view(-1), minlength=probs_logits.size(-1)).double() / DRAWS


@pytest.mark.parametrize(
    "top_p, expected",
    [
        (0.8, [0.625, 0.375, 0, 0]),  # 0.5 + 0.3 reaches 0.8 exactly: the first two, renormalised by 0.8
        (0.75, [0.625, 0.375, 0, 0]),  # the same nucleus away from the boundary
        (0.85, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]),
        (0.4, [1, 0, 0, 0]),  # the top token alone exceeds p: it is kept, alone
        (1.0, HAND),  # p = 1 keeps everything
    ],
)
def test_top_p_keeps_the_hand_computed_nucleus(top_p, expected):
    probs = next_token_probs(hand_logits(), top_p=top_p)[0].double()
    torch.testing.assert_close(probs, torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)
    freq = frequencies(hand_logits(), top_p=top_p)
    dropped = torch.tensor(expected) == 0
    assert torch.all(freq[dropped] == 0), freq  # a token outside the nucleus is never drawn
    torch.testing.assert_close(freq, torch.tensor(expected, dtype=torch.float64), atol=TOLERANCE, rtol=0)


def test_temperature_then_top_k_then_top_p():
    """The order matters: temperature 2 flattens HAND to ~[0.38, 0.30, 0.21, 0.12] (sqrt then renormalise), so
    p = 0.8 now needs three tokens; top_k=2 first leaves [0.56, 0.44], whose nucleus at p = 0.6 is both tokens
    (at p = 0.55 only the first: 0.56 >= 0.55, where top-p before top-k would keep two, as 0.38 < 0.55)."""
    flat = torch.tensor([math.sqrt(q) for q in HAND], dtype=torch.float64)
    flat /= flat.sum()
    probs = next_token_probs(hand_logits(), temperature=2.0, top_p=0.8)[0].double()
    torch.testing.assert_close(probs, torch.cat([flat[:3] / flat[:3].sum(), torch.zeros(1, dtype=torch.float64)]))
    probs = next_token_probs(hand_logits(), temperature=2.0, top_k=2, top_p=0.6)[0].double()
    torch.testing.assert_close(probs, torch.cat([flat[:2] / flat[:2].sum(), torch.zeros(2, dtype=torch.float64)]))
    probs = next_token_probs(hand_logits(), temperature=2.0, top_k=2, top_p=0.55)[0].double()
    torch.testing.assert_close(probs, torch.tensor([1.0, 0, 0, 0], dtype=torch.float64))
    freq = frequencies(hand_logits(), temperature=2.0, top_k=2, top_p=0.6)
    assert torch.all(freq[2:] == 0)
    torch.testing.assert_close(freq[:2], (flat[:2] / flat[:2].sum()), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, None, 0.9), (0.7, 50, 0.9), (1.3, 20, 0.3), (0.5, 5, 1.0)])
def test_filters_match_transformers_warpers(temperature, top_k, top_p):
    """transformers applies temperature, then top-k, then top-p to the scores: the same tokens survive, with the same
    probabilities, on random logits over a GPT-2-sized vocabulary."""
    logits = torch.randn(4, 50257, generator=torch.Generator().manual_seed(5)) * 3
    scores = TemperatureLogitsWarper(temperature)(None, logits.clone())
    if top_k is not None:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p < 1:
        scores = TopPLogitsWarper(top_p)(None, scores)
    ours = next_token_probs(logits, temperature, top_k, top_p)
    assert torch.equal(ours > 0, scores > float("-inf"))
    torch.testing.assert_close(ours, scores.softmax(dim=-1))


def test_generate_with_top_p_is_seeded_and_validated():
    torch.manual_seed(13)
    model = GPT(GPTConfig.from_preset("tiny", vocab_size=100)).eval()
    idx = torch.zeros(1, 1, dtype=torch.long)
    a = model.generate(idx, 20, top_p=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, model.generate(idx, 20, top_p=0.5, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(model.generate(idx, 20, top_p=1e-6), model.generate(idx, 20, temperature=0))  # nucleus of one
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_p must be in"):
            model.generate(idx, 2, top_p=bad)


def test_cli_top_p_streams_generate_output(ckpt, capsys):
    args = ["--ckpt", str(ckpt), "--prompt", "Hello", "--max-new-tokens", "8", "--seed", "4", "--device", "cpu"]
    out, _ = run(capsys, *args, "--top-k", "100", "--top-p", "0.5")
    enc = tiktoken.get_encoding("gpt2")
    from gpt2.checkpoint import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(ckpt)).eval()
    idx = torch.tensor([enc.encode_ordinary("Hello")])
    expected = model.generate(idx, 8, top_k=100, top_p=0.5, generator=torch.Generator().manual_seed(4))
    assert out == enc.decode(expected[0].tolist()) + "\n"


@pytest.mark.parametrize("value", ["0", "-0.5", "1.01", "nan", "x"])
def test_cli_top_p_out_of_range_is_one_line(ckpt, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        cli_run(main, ["--ckpt", str(ckpt), "--top-p", value, "--device", "cpu"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--top-p" in err and len(err.strip().splitlines()) == 1, err
