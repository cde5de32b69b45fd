"""Fine-tuning (gpt.py --init-from, the lecture's exercise): pretrain on one text, continue on another. The run
starts from the source's weights (its step-0 val loss is the source model's on the new text), with a fresh schedule,
and refuses text with characters outside the source's vocabulary."""

import json

import pytest
import torch

from basic_gpt.cli import train_run
from basic_gpt.train import load_checkpoint, split_loss
from scratch.cli import UsageError
from testutil import corpus_file

FLAGS = ["--stage", "residual", "--max-iters", "5", "--eval-interval", "5", "--sample-len", "0", "--no-progress"]
FLAGS += ["--device", "cpu", "--batch-size", "8"]


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """A pretraining text and a fine-tuning one made only of its characters (fewer of them)."""
    text = corpus_file("tinyshakespeare.txt").read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("texts")
    pre, fine = folder / "pre.txt", folder / "fine.txt"
    pre.write_text(text[:40_000], encoding="utf-8")
    fine.write_text(
        "".join(c for c in text[40_000:60_000] if c in set(text[:40_000]) and c not in "!?"), encoding="utf-8"
    )
    return pre, fine


@pytest.fixture(scope="module")
def source(texts, tmp_path_factory):
    out = tmp_path_factory.mktemp("pre")
    train_run([*FLAGS, "--data", str(texts[0]), "--out-dir", str(out)])
    return out


def test_fine_tune_starts_from_the_source_model(texts, source, tmp_path):
    pre, fine = texts
    last = train_run(
        [*FLAGS, "--data", str(fine), "--init-from", str(source), "--out-dir", str(tmp_path), "--lr", "3e-4"]
    )
    header, *log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    # the oracle: the source model, loaded on its own, on the last 10% of the new text in the source's vocabulary
    model, tok = load_checkpoint(source / "ckpt.pt")
    text = fine.read_text(encoding="utf-8")
    ids = torch.tensor(tok.encode(text))
    assert len(set(text)) < tok.vocab_size  # a subset: the ids differ from the new text's own vocabulary's
    want = split_loss(model, ids[int(0.9 * len(ids)) :])
    assert log[0]["iter"] == 0 and log[0]["val_loss"] == pytest.approx(want, abs=1e-6)
    assert log[0]["lr"] == 3e-4 and last["iter"] == 5  # its own schedule, from iteration 0
    tuned, tuned_tok = load_checkpoint(tmp_path / "ckpt.pt")
    assert tuned_tok.chars == tok.chars and tuned.config == model.config
    assert header["run"]["init_from"]["path"] == str((source / "ckpt.pt").resolve())
    assert header["run"]["init_from"]["data"]["path"] == str(pre.resolve())
    assert torch.load(tmp_path / "ckpt.pt", weights_only=True)["run"]["init_from"] == header["run"]["init_from"]


def test_fine_tune_refuses_characters_outside_the_vocabulary(texts, source, tmp_path):
    pre, fine = texts
    other = tmp_path / "other.txt"
    other.write_text(fine.read_text(encoding="utf-8") + "Qué? ¿Señor?\n", encoding="utf-8")
    lacking = sorted(set(other.read_text(encoding="utf-8")) - set(pre.read_text(encoding="utf-8")))
    assert {"é", "ñ", "¿"} <= set(lacking)
    out = tmp_path / "out"
    with pytest.raises(
        UsageError, match=rf"has {len(lacking)} character\(s\) the vocabulary .* lacks \(e\.g\. '{''.join(lacking)}'\)"
    ):
        train_run([*FLAGS, "--data", str(other), "--init-from", str(source / "ckpt.pt"), "--out-dir", str(out)])
    with pytest.raises(UsageError, match="leave out --n-layer"):
        train_run([*FLAGS, "--data", str(fine), "--init-from", str(source), "--n-layer", "2", "--out-dir", str(out)])
    assert not out.exists()
