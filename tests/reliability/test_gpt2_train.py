"""The GPT-2 CLIs (train.py, sample.py, plot.py, python -m gpt2.hellaswag) with ordinary mistakes: each bad input is
one line on stderr naming the problem, exit code 2, and nothing in the output folder changed; a resume from an older
checkpoint cannot lose a branch; a retrained tokenizer is caught by everything built on the old one.

The tables run in-process through scratch.cli.run (the path every CLI takes; milliseconds a case); a few cases per CLI
also run as a user runs them, `python gpt-2/SCRIPT.py` in a fresh interpreter, to show the scripts take that path."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bpe import Tokenizer
from gpt2 import hellaswag, plot
from gpt2 import sample as S
from gpt2 import train as T
from gpt2.checkpoint import list_checkpoints, load_checkpoint
from gpt2.prepare import main as prepare
from scratch.cli import run
from testutil import ROOT, snapshot

WORDS = "the king queen sword crown night day river stone fire wind tale of and a to in my thy".split()


def text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + ("." if rng.random() < 0.1 else "") for _ in range(words))


def make_shards(tmp: Path, name: str, words: int, shard_tokens: str) -> tuple[Path, Path]:
    """(shard folder, tokenizer .model): a 300-token BPE trained on a random-word text, the text in shards."""
    corpus = tmp / f"{name}.txt"
    corpus.write_text(text(0, words))
    model = Tokenizer.train(text(0, 3000), vocab_size=300, special_tokens=["<|endoftext|>"]).save(tmp / f"{name}-tok")
    out = tmp / f"{name}-data"
    prepare(["--dataset", str(corpus), "--tokenizer", str(model), "--shard-tokens", shard_tokens, "--out", str(out)])
    return out, model


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[Path, Path]:
    return make_shards(tmp_path_factory.mktemp("shards"), "words", 40_000, "8K")


@pytest.fixture(scope="module")
def short_shards(tmp_path_factory) -> tuple[Path, Path]:
    """Shards of about 100 tokens: shorter than one sequence of the tiny preset's 128."""
    return make_shards(tmp_path_factory.mktemp("short"), "short", 200, "100")


def train_argv(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        *("--config", "rope", "--model", "tiny", "--data", str(data), "--out", str(out)),
        *("--total-batch-tokens", "256", "--micro-batch", "4", "--seq-len", "32", "--max-steps", "4"),
        *("--eval-every", "0", "--hellaswag", "none", "--sample-tokens", "0", "--device", "cpu", "--threads", "1"),
        *extra,
    ]


def one_error_line(capsys, main, argv: list[str]) -> str:
    """Run MAIN through scratch.cli.run: it must exit 2 with exactly one stderr line; returns that line."""
    with pytest.raises(SystemExit) as exit_:
        run(main, argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def out(tmp_path) -> Path:
    """An output folder holding another run and a note: every case must leave both exactly as they were."""
    (tmp_path / "runs" / "other").mkdir(parents=True)
    (tmp_path / "runs" / "other" / "log.jsonl").write_text('{"type": "config", "step": 0}\n')
    (tmp_path / "runs" / "notes.txt").write_text("mine\n")
    return tmp_path / "runs"


# ------------------------------------------------------------------------------------------------------- train.py
TRAIN_FLAGS = [  # (flags replacing the defaults of train_argv, what the line must say)
    (["--max-steps", "0"], "--max-steps: 0 is out of range: must be an integer >= 1"),
    (["--total-batch-tokens", "0"], "--total-batch-tokens: 0 is out of range"),
    (["--total-batch-tokens", "-1"], "--total-batch-tokens: -1 is out of range"),
    (["--ckpt-every", "0"], "--ckpt-every: 0 is out of range"),
    (["--log-every", "0"], "--log-every: 0 is out of range"),
    (["--micro-batch", "0"], "--micro-batch: 0 is out of range"),
    (["--seq-len", "0"], "--seq-len: 0 is out of range"),
    (["--max-lr", "0"], "--max-lr: 0 is out of range: must be a number > 0"),
    (["--max-lr", "nan"], "--max-lr: nan is not a finite number"),
    (["--grad-clip", "-1"], "--grad-clip: -1 is out of range"),
    (["--seed", "-3"], "--seed: -3 is out of range"),
    (["--keep-last", "-1"], "--keep-last: -1 is out of range"),
    (["--warmup-steps", "-5"], "--warmup-steps: -5 is out of range"),
    (["--val-batches", "0"], "--val-batches: 0 is out of range"),
    (["--stop-at", "0"], "--stop-at: 0 is out of range"),
    (["--threads", "0"], "--threads: 0 is out of range"),
    (["--max-steps", "ten"], "--max-steps: 'ten' is not an integer >= 1"),
    (["--micro-batch", "3"], "must be a multiple of micro-batch x seq-len = 96 (3 x 32)"),
    (["--seq-len", "129"], "--seq-len 129 must be in 1..128"),
    (["--micro-batch", "4096", "--total-batch-tokens", "131072"], "--micro-batch 4096: the train split of"),
    (["--hellaswag", "missing.jsonl"], "--hellaswag missing.jsonl: no such file"),
    (["--resume", "nowhere/ckpt_000001.pt"], "--resume nowhere/ckpt_000001.pt: no such checkpoint"),
    (["--device", "tpu9"], "--device tpu9: not a device name"),
    (["--resume", "--overwrite"], "pass one of them"),
    (["--resume"], "no checkpoint (ckpt_*.pt) in"),
    (["--config", "gelu"], "argument --config: invalid choice: 'gelu'"),
]


def with_flags(argv: list[str], flags: list[str]) -> list[str]:
    """ARGV with each --flag of FLAGS set to its value there (appended when absent)."""
    argv = list(argv)
    i = 0
    while i < len(flags):
        flag, value = flags[i], flags[i + 1] if i + 1 < len(flags) and not flags[i + 1].startswith("--") else None
        if flag in argv and value is not None:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag] + ([value] if value is not None else [])
        i += 2 if value is not None else 1
    return argv


@pytest.mark.parametrize("flags, says", TRAIN_FLAGS, ids=[" ".join(f) for f, _ in TRAIN_FLAGS])
def test_train_bad_flags(shards, out, capsys, flags, says):
    before = snapshot(out, shards[0])
    line = one_error_line(capsys, T.main, with_flags(train_argv(shards[0], out), flags))
    assert says in line
    assert snapshot(out, shards[0]) == before


def test_train_data_shorter_than_one_sequence(short_shards, out, capsys):
    before = snapshot(out)
    line = one_error_line(
        capsys,
        T.main,
        with_flags(train_argv(short_shards[0], out), ["--seq-len", "128", "--total-batch-tokens", "512"]),
    )
    assert "--seq-len 128: the train split of" in line and "is shorter than one sequence: use --seq-len <=" in line
    assert snapshot(out) == before


def test_train_data_that_is_not_shards(shards, out, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("some text\n")
    line = one_error_line(capsys, T.main, train_argv(corpus, out))
    assert f"`python gpt-2/prepare.py --dataset {corpus} --tokenizer gpt2 --out runs/data/corpus`" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_error_line(capsys, T.main, train_argv(empty, out))
    assert "no token shards there" in line and "python gpt-2/prepare.py --dataset fineweb-edu" in line


def test_train_refuses_a_folder_that_holds_a_run(shards, out, capsys):
    before = snapshot(out)
    line = one_error_line(capsys, T.main, train_argv(shards[0], out, "--run-name", "other"))
    assert f"{out / 'other'} already holds a run (a log.jsonl)" in line and "--overwrite" in line
    assert snapshot(out) == before


def test_train_without_shards_names_both_routes(tmp_path):
    """A fresh clone: `python gpt-2/train.py --config rope` (default --data data/edu10B, absent) in a fresh
    interpreter, run from a folder with no runs/demo: one line with the demo route and the FineWeb-Edu route."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "gpt-2" / "train.py"), "--config", "rope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "`make demo`" in result.stderr and f"`{T.DEMO_RUN}`" in result.stderr
    assert "--dataset fineweb-edu --subset sample-10BT --tokenizer gpt2 --out data/edu10B" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "flags, says",
    [(["--max-steps", "0"], "--max-steps"), (["--ckpt-every", "0"], "--ckpt-every"), (["--data", "x.txt"], "x.txt")],
)
def test_train_script_fails_in_one_line(shards, out, flags, says):
    """As a user runs it (`python gpt-2/train.py` from the repository root): exit 2, one line, nothing written."""
    before = snapshot(out)
    if "x.txt" in flags:
        (out.parent / "x.txt").write_text("text\n")
        flags = ["--data", str(out.parent / "x.txt")]
    result = subprocess.run(
        [sys.executable, "gpt-2/train.py", *with_flags(train_argv(shards[0], out), flags)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert snapshot(out) == before


# -------------------------------------------------------------------------------------- resume, branches, end step
def test_resume_from_an_older_checkpoint_cannot_lose_a_branch(shards, tmp_path, capsys):
    """Checkpoints 1, 2, 3 (the issue's 100/200/300): resuming from 1 in the same folder is refused (it would drop
    2 and 3); --run-name NEW branches from it into a new folder, whose rotation never deletes the branch point."""
    out = tmp_path / "runs"
    T.main(train_argv(shards[0], out, "--max-steps", "3", "--ckpt-every", "1", "--keep-last", "0"))
    run_dir = out / "rope"
    assert [p.name for p in list_checkpoints(run_dir)] == ["ckpt_000001.pt", "ckpt_000002.pt", "ckpt_000003.pt"]
    before = snapshot(out)
    first = str(run_dir / "ckpt_000001.pt")
    line = one_error_line(capsys, T.main, train_argv(shards[0], out, "--resume", first, "--max-steps", "3"))
    assert "ckpt_000001.pt is not the newest checkpoint" in line and "(ckpt_000003.pt)" in line
    assert "--resume," in line and f"--resume {first} --run-name NEW" in line
    assert snapshot(out) == before

    argv = train_argv(shards[0], out, "--resume", first, "--run-name", "branch", "--max-lr", "5e-4", "--stop-at", "2")
    assert T.main(with_flags(argv, ["--max-steps", "3", "--ckpt-every", "1", "--keep-last", "1"])) == 0
    assert {k: v for k, v in snapshot(out).items() if not k.startswith("branch")} == before  # old run untouched
    branch = out / "branch"
    assert [p.name for p in list_checkpoints(branch)] == ["ckpt_000002.pt"]
    assert load_checkpoint(branch / "ckpt_000002.pt")["train_config"]["max_lr"] == 5e-4
    header = json.loads((branch / "log.jsonl").read_text().splitlines()[0])
    assert header["resumed_from"] == first and header["step"] == 1


def test_rotation_keeps_the_checkpoint_a_run_resumed_from(shards, tmp_path):
    out = tmp_path / "runs"
    T.main(train_argv(shards[0], out, "--max-steps", "6", "--stop-at", "2", "--ckpt-every", "1", "--keep-last", "1"))
    T.main(train_argv(shards[0], out, "--max-steps", "6", "--resume", "--ckpt-every", "1", "--keep-last", "1"))
    assert [p.name for p in list_checkpoints(out / "rope")] == ["ckpt_000002.pt", "ckpt_000006.pt"]


def test_end_record_names_the_step_the_run_stopped_at(shards, tmp_path):
    """With an evaluation at step 0 the "end" record used to say step 0 after a stop at step 3."""
    out = tmp_path / "runs"
    T.main(train_argv(shards[0], out, "--eval-every", "100", "--val-batches", "1", "--stop-at", "3"))
    records = [json.loads(line) for line in (out / "rope" / "log.jsonl").read_text().splitlines()]
    end = [r for r in records if r["type"] == "end"]
    assert end and end[0]["step"] == 3 and end[0]["stopped"] == "stop_at" and end[0]["eval_step"] == 0


# ---------------------------------------------------------------------------------------- a retrained tokenizer
def test_retrained_tokenizer_is_caught_by_train_sample_and_hellaswag(tmp_path, capsys):
    data, model = make_shards(tmp_path, "tok", 20_000, "8K")
    out = tmp_path / "runs"
    T.main(train_argv(data, out, "--max-steps", "1"))
    ckpt = list_checkpoints(out / "rope")[-1]
    assert load_checkpoint(ckpt)["tokenizer_hash"] == json.loads((data / "manifest.json").read_text())["tokenizer_hash"]
    S.main(["--ckpt", str(ckpt), "--max-new-tokens", "2", "--device", "cpu"])  # the same tokenizer: samples
    capsys.readouterr()

    retrained = Tokenizer.train("other words entirely " * 300, vocab_size=300, special_tokens=["<|endoftext|>"])
    retrained.save(model.with_suffix(""))  # the same path, another vocabulary
    before = snapshot(out, data)
    line = one_error_line(capsys, T.main, train_argv(data, out, "--run-name", "again"))
    assert f"tokenizer {model} is not the one it was when the shards in {data} were made" in line
    assert f"--dataset {tmp_path / 'tok.txt'} --tokenizer {model} --out NEW_DIR" in line
    line = one_error_line(capsys, S.main, ["--ckpt", str(ckpt), "--device", "cpu"])
    assert f"is not the one it was when checkpoint {ckpt} was trained" in line
    examples = tmp_path / "hs.jsonl"
    examples.write_text(json.dumps({"ctx": "the king", "endings": ["a", "b", "c", "d"], "label": 0}) + "\n")
    line = one_error_line(capsys, hellaswag.main, ["--ckpt", str(ckpt), "--path", str(examples), "--device", "cpu"])
    assert f"is not the one it was when checkpoint {ckpt} was trained" in line
    assert snapshot(out, data) == before


# ------------------------------------------------------------------------------------------------------ sample.py
@pytest.fixture(scope="module")
def ckpt(shards, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "runs"
    T.main(train_argv(shards[0], out, "--max-steps", "1"))
    return list_checkpoints(out / "rope")[-1]


SAMPLE_FLAGS = [
    (["--max-new-tokens", "0"], "--max-new-tokens: 0 is out of range"),
    (["--temperature", "-1"], "--temperature: -1 is out of range"),
    (["--top-k", "0"], "--top-k: 0 is out of range"),
    (["--num-samples", "0"], "--num-samples: 0 is out of range"),
    (["--threads", "-2"], "--threads: -2 is out of range"),
    (["--ckpt", "missing.pt"], "--ckpt: missing.pt: no such checkpoint file"),
    (["--device", "cuda:99"], "--device cuda:99"),
]


@pytest.mark.parametrize("flags, says", SAMPLE_FLAGS, ids=[" ".join(f) for f, _ in SAMPLE_FLAGS])
def test_sample_bad_flags(ckpt, capsys, flags, says):
    line = one_error_line(capsys, S.main, with_flags(["--ckpt", str(ckpt), "--device", "cpu"], flags))
    assert says in line


def test_sample_without_ckpt_uses_the_newest_or_says_make_demo(ckpt, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(capsys, S.main, [])
    assert "no checkpoint under runs/" in line and "`make demo`" in line
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "ckpt_000001.pt").write_bytes(ckpt.read_bytes())
    S.main(["--max-new-tokens", "3", "--device", "cpu"])
    captured = capsys.readouterr()
    assert "sampling from runs/a/ckpt_000001.pt" in captured.err and captured.out.strip()


def test_sample_script_fails_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "gpt-2" / "sample.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "`make demo`" in result.stderr


# ------------------------------------------------------------------------------------------- plot.py, hellaswag
def test_plot_refuses_to_overwrite_and_writes_beside_the_runs(tmp_path, capsys):
    run_dir = tmp_path / "runs" / "a"
    run_dir.mkdir(parents=True)
    (run_dir / "log.jsonl").write_text(
        json.dumps({"type": "config", "train_config": {"total_batch_tokens": 8}})
        + "\n"
        + json.dumps({"type": "train", "step": 1, "loss": 3.0, "tokens_per_sec": 1.0})
        + "\n"
    )
    plot.main([str(run_dir)])
    assert (run_dir / "plot.png").read_bytes()[:4] == b"\x89PNG"
    before = snapshot(tmp_path)
    line = one_error_line(capsys, plot.main, [str(run_dir)])
    assert "plot.png exists: pass --overwrite" in line
    line = one_error_line(capsys, plot.main, [str(tmp_path / "nope")])
    assert f"argument runs: {tmp_path / 'nope'} not found" in line
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "log.jsonl").write_text("not json\n")
    line = one_error_line(capsys, plot.main, [str(tmp_path / "bad"), "--out", str(tmp_path / "x.png")])
    assert "log.jsonl:1: not a JSON record" in line
    assert {p: b for p, b in snapshot(tmp_path).items() if "bad" not in str(p)} == before


def test_hellaswag_offline_names_the_flag(ckpt, capsys, monkeypatch):
    def offline(url=hellaswag.URL):
        raise ConnectionError("no network")

    monkeypatch.setattr(hellaswag, "cached_val_file", offline)
    line = one_error_line(capsys, hellaswag.main, ["--ckpt", str(ckpt), "--device", "cpu"])
    assert "--path PATH/hellaswag_val.jsonl" in line
    assert "--limit: 0 is out of range" in one_error_line(capsys, hellaswag.main, ["--ckpt", str(ckpt), "--limit", "0"])
