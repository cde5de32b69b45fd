"""Training, evaluation, sampling and checkpoints, on Tiny Shakespeare."""

import json
import math
import re
from functools import partial
from hashlib import sha256

import pytest
import torch
from torch.nn import functional as F

from basic_gpt import train as train_module
from basic_gpt.cli import train_run
from basic_gpt.data import load_dataset
from basic_gpt.train import TrainConfig, build_model, load_checkpoint, lr_at, sample, save_checkpoint, split_loss, train
from scratch.cli import UsageError
from testutil import corpus_file


@pytest.fixture(scope="module")
def ds():
    return load_dataset(corpus_file("tinyshakespeare.txt"))


def test_a_few_hundred_steps_learn(ds):
    torch.manual_seed(0)
    m = build_model("pre-layernorm", ds.tokenizer.vocab_size)
    hist = train(m, ds.train, ds.val, TrainConfig(max_iters=300, eval_interval=300), progress=False)
    start, end = hist[0]["val_loss"], hist[-1]["val_loss"]
    assert start > 4.0 and end < 2.9, (start, end)
    assert [h["iter"] for h in hist] == [0, 300]


def test_same_seed_same_losses(ds):
    def run(seed):
        torch.manual_seed(seed)
        m = build_model("residual", ds.tokenizer.vocab_size)
        cfg = TrainConfig(max_iters=30, eval_interval=10, seed=seed, eval_train_windows=200)
        return [(h["train_loss"], h["val_loss"]) for h in train(m, ds.train, ds.val[:5000], cfg, progress=False)]

    a, b = run(7), run(7)
    assert a == b
    assert run(8) != a


def test_split_loss_is_mean_over_every_window():
    torch.manual_seed(0)
    m = build_model("multi-head", 65).eval()
    data = torch.randint(65, (8 * 50 + 5,))
    losses = []
    for i in range(50):  # the hand-rolled oracle: one window at a time
        x, y = data[i * 8 : (i + 1) * 8], data[i * 8 + 1 : (i + 1) * 8 + 1]
        losses.append(F.cross_entropy(m(x[None])[0][0], y).item())
    assert split_loss(m, data, batch_size=7) == pytest.approx(sum(losses) / 50, rel=1e-5)


def test_lr_schedule():
    cfg = TrainConfig(max_iters=1100, lr=1e-3, min_lr=1e-4, warmup_iters=100, schedule="cosine")
    assert lr_at(0, cfg) == pytest.approx(1e-5)
    assert lr_at(99, cfg) == pytest.approx(1e-3)
    assert lr_at(600, cfg) == pytest.approx(5.5e-4)  # halfway down the cosine
    assert lr_at(1100, cfg) == pytest.approx(1e-4)
    assert lr_at(500, TrainConfig(lr=3e-3)) == 3e-3


def test_generation_and_checkpoint(ds, tmp_path):
    torch.manual_seed(0)
    m = build_model("scaled", ds.tokenizer.vocab_size, n_layer=2, n_embd=32, block_size=32)
    train(m, ds.train, ds.val[:3000], TrainConfig(max_iters=20, eval_interval=0, batch_size=4), progress=False)
    text = sample(m, ds.tokenizer, "ROMEO:", 200, seed=3)
    assert text.startswith("ROMEO:") and len(text) == 206
    assert set(text) <= set(ds.tokenizer.chars)
    assert sample(m, ds.tokenizer, "ROMEO:", 200, seed=4) != text
    save_checkpoint(tmp_path / "ckpt.pt", m, ds.tokenizer, "scaled")
    m2, tok2 = load_checkpoint(tmp_path / "ckpt.pt")
    assert tok2.chars == ds.tokenizer.chars
    assert sample(m2, tok2, "ROMEO:", 200, seed=3) == text
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left behind


def test_prompt_outside_vocabulary(ds):
    m = build_model("bigram", ds.tokenizer.vocab_size)
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        sample(m, ds.tokenizer, "Ω hello", 10)
    with pytest.raises(ValueError, match="prompt is empty"):
        sample(m, ds.tokenizer, "", 10)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one first"):
        load_checkpoint(tmp_path / "nope.pt")


def test_cli_trains_logs_checkpoints_and_samples(tmp_path, capsys):
    data = corpus_file("tinyshakespeare.txt")
    last = train_run(
        [
            "--stage",
            "bigram",
            "--data",
            str(data),
            "--max-iters",
            "40",
            "--eval-interval",
            "20",
            "--out-dir",
            str(tmp_path),
            "--sample-len",
            "50",
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    header, *log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in log] == [0, 20, 40] and log[-1] == last
    # every artefact records what it was made from: the data file's identity (against hashlib here), the configs
    raw = data.read_bytes()
    identity = {"path": str(data.resolve()), "size": len(raw), "sha256": sha256(raw).hexdigest()}
    summary = json.loads((tmp_path / "summary.json").read_text())
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    for record in (header["run"], summary["run"], ckpt["run"]):
        assert record["data"] == identity and record["stage"] == "bigram"
        assert record["train_config"]["max_iters"] == 40 and record["model_config"]["block_size"] == 8
    vocab_size = len(set(data.read_text(encoding="utf-8")))  # 65 in Tiny Shakespeare
    assert log[-1]["val_loss"] < log[0]["val_loss"] < math.log(vocab_size) + 1.5
    m, tok = load_checkpoint(tmp_path / "ckpt.pt")
    assert m.config.block_size == 8 and tok.vocab_size == vocab_size
    out = capsys.readouterr().out
    assert "iter 40" in out and "---\n" in out


def test_cli_rejects_bad_prompt_before_training(tmp_path):
    with pytest.raises(UsageError, match="argument --prompt: .* outside the model's vocabulary"):
        train_run(
            [
                "--stage",
                "bigram",
                "--data",
                str(corpus_file("tinyshakespeare.txt")),
                "--prompt",
                "∑",
                "--out-dir",
                str(tmp_path),
                "--no-progress",
            ]
        )
    assert not (tmp_path / "ckpt.pt").exists()


def test_time_budget_stops_and_anneals(ds):
    torch.manual_seed(0)
    m = build_model("bigram", ds.tokenizer.vocab_size)
    cfg = TrainConfig(
        time_budget_s=1.0,
        max_iters=10**9,
        eval_interval=0,
        eval_train_windows=10,
        schedule="cosine",
        lr=1e-2,
        min_lr=1e-3,
    )
    hist = train(m, ds.train, ds.val[:2000], cfg, progress=False)
    assert len(hist) == 1 and hist[0]["iter"] > 10
    assert 1.0 <= hist[0]["time_s"] < 3.0
    assert hist[0]["lr"] < 1.2e-3  # the cosine ran on elapsed time, down to min_lr


def test_evaluation_pass_shows_progress_with_an_estimate(capsys, monkeypatch):
    # redraw on every batch, however fast the batches (tqdm otherwise draws at most every 0.1 s)
    monkeypatch.setattr(train_module, "tqdm", partial(train_module.tqdm, mininterval=0, miniters=1))
    torch.manual_seed(0)
    m = build_model("bigram", 65)
    data = torch.randint(65, (8 * 600 + 1,))  # 600 windows: 3 batches of 256
    split_loss(m, data, progress=True, desc="val @0")
    err = capsys.readouterr().err
    assert "val @0" in err and re.search(r"\d/3 \[\d\d:\d\d<\d\d:\d\d", err), err  # done/total [elapsed<remaining]
    split_loss(m, data)
    assert capsys.readouterr().err == ""  # off unless asked: tests and library callers stay quiet


def test_cli_threads_default_is_torchs_own(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    data = tmp_path / "text.txt"
    data.write_text("ROMEO:\nBut soft, what light through yonder window breaks?\n\n" * 20)
    flags = ["--stage", "bigram", "--data", str(data), "--max-iters", "1", "--eval-interval", "0", "--no-progress"]
    train_run([*flags, "--sample-len", "0", "--out-dir", str(tmp_path / "a")])
    assert calls == []  # torch's default thread count (every core)
    train_run([*flags, "--sample-len", "0", "--out-dir", str(tmp_path / "b"), "--threads", "1"])
    assert calls == [1]
