"""Every bpe table of bpe/README.md and the root README, from one run: the bench commands in sequence, one report.

    python bench/bpe_all.py                  # ~40 min on 2 cores: runs/bench/bpe-report-COMMIT.md (`make bench-bpe`)
    python bench/bpe_all.py --overwrite      # run again at the same commit, replacing that commit's report

Runs, in this order (training first, so the encoding run redraws images/bpe-benchmarks.png from this run's figures):
  1. big_corpus.py                                   the 2.65 GB training corpus (nothing to do if it is built)
  2. bpe_train.py --big --skip-naive --runs 3        training: 10 MB, 73 MB, 12 MB multilingual, 2.65 GB
  3. bpe_encode.py --runs 5                          encoding and decoding, each run a first pass
  4. bpe_encode.py --runs 5 --warm --encodings cl100k_base o200k_base     encoders that replay what they remember
  5. bpe_scaling.py --runs 5 --big                   1 thread vs all cores
  6. bpe_encode.py --pathological --runs 5           long runs of one character
Each command's stdout (its markdown tables) goes into the report under the command line, with its wall time, between
two host checks (bench/common.py: a fixed Python loop alone and one copy per core at once, before and after the step),
which say whether the shared machine was loud or a core busy meanwhile; the report's header names the commit (and says
so when the tree has uncommitted changes), the date and the machine, so a table copied into a README can say where it
came from. The report is named after the commit (COMMIT-dirty when the tree has uncommitted changes), so runs at
different commits never replace each other; an existing report is replaced only with --overwrite, and a file at --out
that is not a report of this script never: both are checked before anything runs. The optimisation story
(bpe_story.py) is a separate run.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, ROOT, host_check, machine
from scratch.cli import ArgumentParser, UsageError, run
from scratch.files import atomic_write

BENCH = Path(__file__).resolve().parent
TITLE = "# bpe benchmarks, one run"
STEPS = [
    ["big_corpus.py"],
    ["bpe_train.py", "--big", "--skip-naive", "--runs", "3"],
    ["bpe_encode.py", "--runs", "5"],
    ["bpe_encode.py", "--runs", "5", "--warm", "--encodings", "cl100k_base", "o200k_base"],
    ["bpe_scaling.py", "--runs", "5", "--big"],
    ["bpe_encode.py", "--pathological", "--runs", "5"],
]


def check_out(path: Path, overwrite: bool) -> None:
    """Refuse, before half an hour of work, to replace an earlier report without --overwrite, or any other file."""
    if not path.exists():
        return
    if not path.read_text(errors="replace").startswith(TITLE):
        raise UsageError(f"{path} exists and is not a report of bench/bpe_all.py: pass --out NEW_PATH")
    if not overwrite:
        raise UsageError(f"{path} holds an earlier run's report: pass --overwrite to replace it, or --out NEW_PATH")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def source() -> tuple[str, str]:
    """Which code the figures come from: (a tag for the report's file name, a sentence for its header)."""
    try:
        commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown", "commit unknown (not a git checkout)"
    if dirty:
        return f"{commit}-dirty", f"commit {commit} plus uncommitted changes (figures are not from that commit alone)"
    return commit, f"commit {commit}"


def command_line(args: list[str]) -> str:
    return " ".join(["python", "bench/" + args[0], *args[1:]])


def run_step(args: list[str], number: int, total: int) -> tuple[str, float]:
    """Run one bench script (its progress bars and log lines pass through on stderr); (its stdout, seconds). The
    stdout is framed by a host check before and after, so a reader sees whether the machine was loud meanwhile."""
    print(f"[{number}/{total}] {command_line(args)}", file=sys.stderr, flush=True)
    before = host_check()
    t0 = time.time()
    script = [sys.executable, str(BENCH / args[0]), *args[1:]]
    done = subprocess.run(script, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise UsageError(f"{command_line(args)} failed with exit code {done.returncode}; no report written")
    seconds = time.time() - t0
    return f"Before: {before}.\n\n{done.stdout.strip()}\n\nAfter: {host_check()}.", seconds


def report(outputs: list[tuple[list[str], str, float]], header: str) -> str:
    parts = [header]
    for args, stdout, seconds in outputs:
        parts.append(f"## `{command_line(args)}` ({seconds / 60:.1f} min)\n\n{stdout.strip()}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, help="the report, written atomically (default: runs/bench/bpe-report-COMMIT.md)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report at --out")
    args = p.parse_args(argv)
    tag, source_sentence = source()
    out = args.out or RESULTS / f"bpe-report-{tag}.md"
    check_out(out, args.overwrite)
    started = datetime.datetime.now(datetime.UTC)
    header = f"{TITLE}\n\n{source_sentence}; started {started:%Y-%m-%d %H:%M} UTC; {machine()}\n"
    t0 = time.time()
    outputs = []
    for i, step in enumerate(STEPS, 1):
        stdout, seconds = run_step(step, i, len(STEPS))
        outputs.append((step, stdout, seconds))
    text = report(outputs, header) + f"\n{(time.time() - t0) / 60:.1f} min in all\n"
    atomic_write(out, text)
    print(f"report: {out} ({(time.time() - t0) / 60:.1f} min)", file=sys.stderr)


if __name__ == "__main__":
    run(main)
