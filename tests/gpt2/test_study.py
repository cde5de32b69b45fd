"""gpt2.study: the corpus cut, the run flags, resumption (a finished run is skipped, an interrupted one continues to
the same result as an uninterrupted run), the refusal of a study folder with other settings, and the report."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gpt2.plot import RunLogData, load_run
from gpt2.study import (
    SCALES,
    VARIANTS,
    book_excerpts,
    epoch_correlation,
    main,
    prepare_study,
    run_flags,
    run_state,
)
from scratch.cli import UsageError
from testutil import EOT

SMOKE = SCALES["smoke"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Twenty 'books' of numbered paragraphs: enough for the held-out split (every 9th book) and several shards."""
    books = [
        "\n\n".join(
            f"Book {b} paragraph {p}: " + " ".join(f"word{(b * 7 + p * 3 + i) % 50}" for i in range(40))
            for p in range(30)
        )
        for b in range(20)
    ]
    path = tmp_path_factory.mktemp("corpus") / "books.txt"
    path.write_text(EOT.join(books), encoding="utf-8")
    return path


def test_book_excerpts_are_consecutive_paragraphs_from_the_middle():
    book = "\n\n".join(f"p{i} " + "x" * 95 for i in range(30))  # 30 paragraphs of ~100 characters
    docs = book_excerpts(book, docs=2, doc_chars=250)
    assert len(docs) == 2
    assert docs[0].startswith("p10 ")  # from a third of the way in
    assert [d.count("\n\n") + 1 for d in docs] == [3, 3]  # 3 paragraphs reach 250 characters
    assert docs[1].startswith("p13 ")
    assert book_excerpts("short", docs=3, doc_chars=10_000) == []


def test_run_flags_follow_the_variant(tmp_path, corpus):
    data = prepare_study(tmp_path, SMOKE, corpus, [VARIANTS["rope"], VARIANTS["shakespeare-finetune"]])
    flags = run_flags(tmp_path, SMOKE, VARIANTS["rope-long-ctx"], 3, data, "cpu")
    pairs = dict(zip(flags[::2], flags[1::2]))
    long = 4 * SMOKE.seq_len
    assert pairs["--config"] == "rope" and pairs["--seed"] == "3" and pairs["--seq-len"] == str(long)
    assert int(pairs["--micro-batch"]) * long == SMOKE.batch_tokens  # one micro-batch per step
    cpu = SCALES["cpu"]
    flags = run_flags(tmp_path, cpu, VARIANTS["rope-long-ctx"], 0, {f"v{cpu.vocab_size}": data["v300"]}, "cpu")
    assert dict(zip(flags[::2], flags[1::2]))["--block-size"] == "512"  # above the mini preset's 256
    ft = dict(zip(*[iter(run_flags(tmp_path, SMOKE, VARIANTS["shakespeare-finetune"], 1, data, "cpu"))] * 2))
    assert ft["--init-from"].endswith("runs/rope-s1") and "--model" not in ft
    assert "shakespeare" in ft["--data"]


def test_resume_skip_and_report(tmp_path, corpus):
    out = tmp_path / "study"
    argv = ["--out", str(out), "--scale", "smoke", "--corpus", str(corpus), "--jobs", "1"]
    main([*argv, "--variants", "baseline", "--seeds", "0"])
    run_dir = out / "runs" / "baseline-s0"
    assert run_state(run_dir) == "done"
    log_before = (run_dir / "log.jsonl").read_bytes()
    main([*argv, "--variants", "baseline", "--seeds", "0"])  # nothing to do: skipped
    assert (run_dir / "log.jsonl").read_bytes() == log_before

    # an interrupted run (stopped after its first checkpoint) is resumed to the uninterrupted run's result
    console = (out / "logs" / "baseline-s0.txt").read_text().splitlines()[0]
    flags = console.split(" -m gpt2.train ", 1)[1].split()[:-2]  # drop --threads N
    pairs = dict(zip(flags[::2], flags[1::2]))
    stop_at = int(pairs["--ckpt-every"])
    second = flags[:]
    second[second.index("--seed") + 1] = "1"
    second[second.index("--run-name") + 1] = "baseline-s1"
    subprocess.run(
        [sys.executable, "-m", "gpt2.train", *second, "--stop-at", str(stop_at)], check=True, capture_output=True
    )
    assert run_state(out / "runs" / "baseline-s1") == "partial"
    main([*argv, "--variants", "baseline", "--seeds", "1"])
    resumed = load_run(out / "runs" / "baseline-s1")
    assert resumed.header["step"] == 0
    straight = out / "straight"
    subprocess.run(
        [sys.executable, "-m", "gpt2.train", *second, "--out", str(straight)], check=True, capture_output=True
    )
    once = load_run(straight / "baseline-s1")
    assert resumed.evals[-1]["val_loss"] == pytest.approx(once.evals[-1]["val_loss"], abs=1e-6)

    # the report: both seeds, an image copy refused over an existing file without --overwrite
    main([*argv, "--variants", "baseline", "--seeds", "0", "1", "--report-only"])
    table = (out / "results.md").read_text()
    assert "| baseline |" in table and "| 2 |" in table
    images = tmp_path / "images"
    images.mkdir()
    (images / "gpt2-study-curves.png").write_bytes(b"mine")
    with pytest.raises(UsageError, match="exists"):
        main([*argv, "--variants", "baseline", "--seeds", "0", "1", "--report-only", "--images", str(images)])
    assert (images / "gpt2-study-curves.png").read_bytes() == b"mine"

    # a kept run made with other settings (here: an experiment table that has changed since) is refused, not mixed in
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    header["train_config"]["experiment"]["max_lr"] = 1.8e-3
    (run_dir / "log.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(UsageError, match="baseline-s0 was made with other settings .*max_lr"):
        main([*argv, "--variants", "baseline", "--seeds", "0"])


def test_other_settings_in_the_same_folder_are_refused(tmp_path, corpus):
    prepare_study(tmp_path / "study", SMOKE, corpus, [VARIANTS["baseline"]])
    with pytest.raises(UsageError, match="other settings"):
        prepare_study(tmp_path / "study", SCALES["cpu"], corpus, [VARIANTS["baseline"]])
    mine = tmp_path / "mine"  # a folder of the user's: nothing written into it
    (mine / "corpus").mkdir(parents=True)
    (mine / "corpus" / "train.txt").write_text("my notes")
    with pytest.raises(UsageError, match="not a study"):
        prepare_study(mine, SMOKE, corpus, [VARIANTS["baseline"]])
    assert [p.name for p in mine.rglob("*")] == ["corpus", "train.txt"]


def _fake_run(loss: np.ndarray, per_epoch: int) -> RunLogData:
    train = [{"step": i + 1, "loss": float(v), "epoch": i // per_epoch} for i, v in enumerate(loss)]
    return RunLogData("fake", header={}, train=train)


def test_epoch_correlation_sees_a_replayed_order():
    rng = np.random.default_rng(0)
    per_epoch, epochs = 40, 4
    steps = np.arange(per_epoch * epochs)
    trend = 5 * np.exp(-steps / 60)
    pattern = rng.normal(0, 0.2, per_epoch)  # document difficulty in a fixed order
    replayed = trend + np.tile(pattern, epochs) + rng.normal(0, 0.02, len(steps))
    shuffled = trend + np.concatenate([rng.permutation(pattern) for _ in range(epochs)])
    assert epoch_correlation(_fake_run(replayed, per_epoch)) > 0.8
    assert abs(epoch_correlation(_fake_run(shuffled, per_epoch))) < 0.4
    assert epoch_correlation(_fake_run(replayed[: 2 * per_epoch], per_epoch)) is None  # two epochs: no pair
