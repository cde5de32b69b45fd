"""gpt-2/sample.py: streams exactly what model.generate produces, decoded by the checkpoint's tokenizer (tiktoken as
the oracle), reproducibly per seed; clear errors for bad checkpoints and prompts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import tiktoken
import torch

from gpt2.checkpoint import save_checkpoint
from gpt2.model import GPT, GPTConfig
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
