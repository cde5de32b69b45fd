"""bench/gpu_check.sh without a GPU: its flags (a bad one: one line on stderr, exit 2), the inputs it demands before
a device call is spent (a missing wheel or data folder names the --prepare command), the plan and summary.md that
--dry-run writes (every step listed), the no-CUDA path (the carried wheel and the checkout's packages import, every
step skipped with its reason), and --prepare on a small copy of the shared data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import bpe_rs
from testutil import DATA, ROOT, TIKTOKEN_CACHE

SCRIPT = ROOT / "bench" / "gpu_check.sh"
STEPS = ["01-tests", "02-speed", "03-basic-gpt", "04-rope"]
PREPARE = "bash bench/gpu_check.sh --prepare"


def gpu_check(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )


def fake_inputs(tmp: Path) -> tuple[Path, Path]:
    """What --prepare leaves, in miniature: a wheel of the installed bpe_rs package (the wheel's layout, zipped
    from site-packages: no build), and the data folder's layout with placeholder files."""
    wheels, data = tmp / "wheels", tmp / "data"
    wheels.mkdir()
    package = Path(bpe_rs.__file__).parent
    with zipfile.ZipFile(wheels / "bpe_rs-0.1.0-cp311-abi3-linux_x86_64.whl", "w") as z:
        for f in package.iterdir():
            if f.is_file():
                z.write(f, f"bpe_rs/{f.name}")
    (data / "shards").mkdir(parents=True)
    (data / "tiktoken-cache").mkdir()
    for name in ("tinyshakespeare.txt", "hellaswag_val.slice.jsonl", "shards/val_00000.bin"):
        (data / name).write_text("x")
    return wheels, data


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench/gpu_check.sh: error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, says",
    [
        (["--bogus"], "unknown flag '--bogus'"),
        (["--budget"], "--budget needs a value"),
        (["--budget", "0"], "must be a positive whole number"),
        (["--budget", "9.5"], "must be a positive whole number"),
        (["--out", "--dry-run"], "--out needs a value"),
    ],
)
def test_bad_flags_one_line_exit_2(args, says, tmp_path):
    line = one_error_line(gpu_check(*args, "--out", str(tmp_path / "o")) if args[0] != "--out" else gpu_check(*args))
    assert says in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("missing", ["wheels", "data", "data/shards/val_00000.bin", "data/tiktoken-cache"])
def test_missing_inputs_name_the_prepare_command(missing, tmp_path):
    wheels, data = fake_inputs(tmp_path)
    target = tmp_path / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    out = tmp_path / "out"
    line = one_error_line(gpu_check("--dry-run", "--wheels", str(wheels), "--data", str(data), "--out", str(out)))
    assert PREPARE in line
    assert not out.exists()  # nothing written before the inputs are known to be there


def test_no_output_folder_is_an_error(tmp_path):
    wheels, data = fake_inputs(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    r = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--wheels", str(wheels), "--data", str(data)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "set $OUT or pass --out DIR" in one_error_line(r)


def test_dry_run_plans_every_step_and_writes_the_summary(tmp_path):
    wheels, data = fake_inputs(tmp_path)
    out = tmp_path / "out"
    r = gpu_check("--dry-run", "--budget", "300", "--wheels", str(wheels), "--data", str(data), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]  # a plan: no step ran, so no log
    summary = (out / "summary.md").read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| 0")]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == STEPS
    assert all("| skipped: dry run |" in row for row in rows)
    assert "budget 300 s" in summary
    # the commands are the real ones, with the carried data filled in
    assert f"--data {data}/tinyshakespeare.txt" in summary and f"--data {data}/shards" in summary
    assert "--preset gpt2" in summary and "--seq-len 1024" in summary and f"--json {out}/02-speed.json" in summary
    assert all(step in r.stdout for step in STEPS)
    # a second run into the same folder refuses rather than overwrite the first run's summary
    again = gpu_check("--dry-run", "--wheels", str(wheels), "--data", str(data), "--out", str(out))
    assert "--overwrite" in one_error_line(again)


def test_without_cuda_the_packages_import_and_every_step_is_skipped(tmp_path):
    wheels, data = fake_inputs(tmp_path)
    out = tmp_path / "out"
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: the steps would run for minutes")
    r = gpu_check("--wheels", str(wheels), "--data", str(data), "--out", str(out), env={"PYTHON": sys.executable})
    assert r.returncode == 0, r.stderr
    rows = [line for line in (out / "summary.md").read_text().splitlines() if line.startswith("| 0")]
    assert len(rows) == len(STEPS) and all("| skipped: no CUDA device |" in row for row in rows)
    assert (out / "00-setup.log").read_text() == ""  # bpe_rs, bpe, scratch, basic_gpt and gpt2 all imported


def test_prepare_makes_what_the_check_needs(tmp_path):
    """About 7 s: the wheel build reuses bpe-rs/target (built by `uv sync`), and the slices are 300 KB."""
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    for name in ("tinyshakespeare.txt", "gutenberg-en.txt", "hellaswag_val.jsonl"):
        if not (DATA / name).is_file():
            pytest.skip(f"{DATA / name} not found")
        (shared / "data" / name).write_bytes((DATA / name).read_bytes()[:300_000])
    shutil.copytree(TIKTOKEN_CACHE, shared / "tiktoken-cache")
    wheels, data = tmp_path / "wheels", tmp_path / "data"
    args = ("--prepare", "--wheels", str(wheels), "--data", str(data))
    r = gpu_check(*args, env={"BFS_SHARED": str(shared)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert [p.name for p in wheels.glob("bpe_rs-*-abi3-*x86_64.whl")]
    assert (data / "tinyshakespeare.txt").read_bytes() == (shared / "data" / "tinyshakespeare.txt").read_bytes()
    assert len((data / "hellaswag_val.slice.jsonl").read_text().splitlines()) <= 500
    assert re.search(r"made by `bash bench/gpu_check.sh --prepare`", (data / "MADE_BY.txt").read_text())
    dry = gpu_check("--dry-run", "--wheels", str(wheels), "--data", str(data), "--out", str(tmp_path / "o"))
    assert dry.returncode == 0, dry.stderr  # what --prepare made is exactly what the check demands
    assert "--overwrite" in one_error_line(gpu_check(*args, env={"BFS_SHARED": str(shared)}))  # never over its own
