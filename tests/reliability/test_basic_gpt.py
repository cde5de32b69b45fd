"""basic-gpt's three CLIs (gpt.py, bigram.py, stages.py) given a user's ordinary mistakes: each exits with code 2 and
one line on stderr naming the problem (no traceback), and leaves every file already in its output folder byte-identical
(no file added either). Every case runs the real script in a subprocess with a small local --data file, so nothing
downloads; the cases marked slow (each is a ~3 s subprocess, mostly importing torch) repeat the checks for more
flags and files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from basic_gpt.cli import train_run
from testutil import ROOT, snapshot

SCRIPTS = {name: ROOT / "basic-gpt" / f"{name}.py" for name in ("gpt", "bigram", "stages")}
TEXT = "".join(f"CITIZEN {i}:\nWe are accounted poor citizens, the patricians good.\n\n" for i in range(60))
RUN_FILES = {  # what an earlier run left: replacing any of these would lose it
    "gpt": ("ckpt.pt", "log.jsonl", "summary.json"),
    "bigram": ("ckpt.pt", "log.jsonl", "summary.json"),
    "stages": ("ladder.md", "ladder.json", "loss-curves.png"),
}


def slow(*case):
    """A case that repeats the checks for one more flag: run by `make test-all`."""
    return pytest.param(*case, marks=pytest.mark.slow)


RANGE = "is out of range: must be"
# (script, flags, what the one line must say, output folder prefill: "run" = an earlier run's files, "notes" = a
# user's unrelated file only). Files: good.txt, empty.txt, bad.txt (0xff at offset 7), short.txt, folder/.
CASES = [
    (
        "gpt",
        [],
        r"holds a run \(ckpt\.pt, log\.jsonl, summary\.json\): pass another --out-dir, or --overwrite",
        "run",
    ),
    ("gpt", ["--max-iters", "-300"], rf"argument --max-iters: -300 {RANGE} an integer >= 1", "notes"),
    ("gpt", ["--batch-size", "0"], rf"argument --batch-size: 0 {RANGE} an integer >= 1", "notes"),
    ("gpt", ["--data", "{tmp}/missing.txt"], r"argument --data: data file .*missing\.txt not found", "notes"),
    slow("gpt", ["--data", "{tmp}/folder"], r"argument --data: data file .*folder is a directory", "notes"),
    slow("gpt", ["--data", "{tmp}/empty.txt"], r"argument --data: data file .*empty\.txt is empty", "notes"),
    ("gpt", ["--data", "{tmp}/bad.txt"], r"bad\.txt is not UTF-8 text: byte 0xff at offset 7", "notes"),
    ("gpt", ["--data", "{tmp}/short.txt"], r"--block-size: 64 is too long for .*short\.txt.* must be <= 2", "notes"),
    slow("gpt", ["--block-size", "100000"], r"argument --block-size: 100000 is too long .* must be <= \d+", "notes"),
    slow("bigram", [], r"already holds a run .* --out-dir, or --overwrite", "run"),
    slow("bigram", ["--max-iters", "0"], rf"argument --max-iters: 0 {RANGE}", "notes"),
    ("stages", [], r"already holds a run \(ladder\.md, ladder\.json, loss-curves\.png\)", "run"),
    ("stages", ["--max-iters", "-300"], rf"argument --max-iters: -300 {RANGE}", "notes"),
    slow("stages", ["--data", "{tmp}/short.txt"], r"argument --block-size: 8 is too long for .*short\.txt", "notes"),
    slow("gpt", ["--dropout", "1"], rf"argument --dropout: 1 {RANGE} a number in \[0, 1\)", "notes"),
    slow("gpt", ["--dropout", "-0.1"], rf"argument --dropout: -0.1 {RANGE}", "notes"),
    slow("gpt", ["--lr", "0"], rf"argument --lr: 0 {RANGE} a number > 0", "notes"),
    slow("gpt", ["--lr", "0.01", "--min-lr", "0.1"], r"argument --min-lr: 0.1 must be <= --lr 0.01", "notes"),
    slow("gpt", ["--eval-interval", "-1"], rf"argument --eval-interval: -1 {RANGE}", "notes"),
    slow("gpt", ["--time-budget-s", "0"], rf"argument --time-budget-s: 0 {RANGE}", "notes"),
    slow("gpt", ["--threads", "0"], rf"argument --threads: 0 {RANGE}", "notes"),
    slow("gpt", ["--n-layer", "x"], r"argument --n-layer: 'x' is not an integer >= 1", "notes"),
    slow("gpt", ["--stage", "scaled", "--n-head", "5"], r"argument --n-head: 5 must divide --n-embd 128", "notes"),
    slow("gpt", ["--prompt", "Ω"], r"argument --prompt: .*outside the model's vocabulary: 'Ω'", "notes"),
    slow("gpt", ["--prompt", ""], r"argument --prompt: the prompt is empty", "notes"),
    slow("gpt", ["--out-dir", "{tmp}/good.txt"], r"--out-dir: .*good\.txt exists and is not a folder", "notes"),
    slow("bigram", ["--data", "{tmp}/bad.txt"], r"bad\.txt is not UTF-8 text: byte 0xff at offset 7", "notes"),
    slow("stages", ["--stages", "bigram,nope"], r"argument --stages: unknown stage\(s\) \['nope'\]", "notes"),
    slow("stages", ["--image", "{tmp}/folder"], r"argument --image: .*folder is a folder", "notes"),
    slow("stages", ["--data", "{tmp}/folder"], r"argument --data: data file .*folder is a directory", "notes"),
    slow("stages", ["--data", "{tmp}/bad.txt"], r"bad\.txt is not UTF-8 text: byte 0xff at offset 7", "notes"),
]


def make_inputs(tmp: Path) -> None:
    (tmp / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp / "empty.txt").write_bytes(b"")
    (tmp / "bad.txt").write_bytes(b"hello, \xff world\n" * 100)  # latin-1's y-umlaut: not UTF-8
    (tmp / "short.txt").write_text("ROMEO:\nO, she doth teach!\n\n", encoding="utf-8")  # val split: 3 chars
    (tmp / "folder").mkdir()


def run_script(script: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS[script]), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize(("script", "flags", "pattern", "prefill"), CASES)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, script, flags, pattern, prefill):
    make_inputs(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own notes\n")
    if prefill == "run":
        for name in RUN_FILES[script]:
            (out / name).write_bytes(f"an earlier run's {name}\n".encode())
    args = [a.replace("{tmp}", str(tmp_path)) for a in flags]
    default_data = [] if "--data" in args else ["--data", str(tmp_path / "good.txt")]
    before, inputs_before = snapshot(out), snapshot(tmp_path)

    proc = run_script(script, [*default_data, "--out-dir", str(out), "--no-progress", *args])

    assert_one_line_error(proc, pattern)
    assert snapshot(out) == before  # byte-identical, and nothing added
    assert snapshot(tmp_path) == inputs_before  # the inputs too


def test_rerun_refuses_then_overwrite_replaces_only_the_runs_files(tmp_path):
    make_inputs(tmp_path)
    out = tmp_path / "run"
    flags = ["--data", str(tmp_path / "good.txt"), "--out-dir", str(out), "--no-progress", "--sample-len", "5"]
    train_run([*flags, "--max-iters", "5", "--eval-interval", "0"], default_stage="bigram")  # in-process: faster
    (out / "notes.txt").write_text("the user's own notes\n")
    before = snapshot(out)

    again = run_script("bigram", [*flags, "--max-iters", "7", "--eval-interval", "0"])
    assert_one_line_error(again, r"already holds a run")
    assert snapshot(out) == before

    train_run([*flags, "--max-iters", "7", "--eval-interval", "0", "--overwrite"], default_stage="bigram")
    assert (out / "notes.txt").read_bytes() == before["notes.txt"]  # --overwrite replaces the run's files only
    header, *evals = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in evals] == [7]  # the old run's records (iter 5) are gone, not appended to
    assert header["run"]["train_config"]["max_iters"] == 7
    assert torch.load(out / "ckpt.pt", weights_only=True)["iter"] == 7
