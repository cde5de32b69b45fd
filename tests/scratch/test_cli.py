"""scratch.cli: anticipated errors are one line and exit 2, bugs keep their traceback, flags are range-checked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scratch.cli import ArgumentParser, UsageError, non_negative_int, positive_float, positive_int, run

SCRIPT = """
import sys
from scratch.cli import run
def main(argv):
    kind = sys.argv[1]
    if kind == "missing":
        open("/nonexistent/file.txt")
    if kind == "value":
        raise ValueError("--data x: not a shard folder;\\n  run prepare.py first")
    if kind == "bug":
        raise KeyError("internal")
    return 0
run(main)
"""


@pytest.mark.parametrize(
    "kind, code, line",
    [
        ("missing", 2, "error: No such file or directory: /nonexistent/file.txt"),
        ("value", 2, "error: --data x: not a shard folder; run prepare.py first"),
        ("ok", 0, ""),
    ],
)
def test_anticipated_errors_are_one_line_and_exit_2(kind, code, line):
    done = subprocess.run([sys.executable, "-c", SCRIPT, kind], capture_output=True, text=True)
    assert done.returncode == code
    assert done.stderr.strip() == line  # exactly one line, no traceback


def test_a_bug_keeps_its_traceback():
    done = subprocess.run([sys.executable, "-c", SCRIPT, "bug"], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr and "KeyError: 'internal'" in done.stderr


def test_traceback_on_request(monkeypatch):
    monkeypatch.setenv("BFS_TRACEBACK", "1")
    with pytest.raises(UsageError):
        run(lambda argv: (_ for _ in ()).throw(UsageError("bad")))


@pytest.mark.parametrize(
    "kind, text, ok",
    [
        (positive_int, "1", True),
        (positive_int, "0", False),
        (positive_int, "-4", False),
        (positive_int, "2.5", False),
        (non_negative_int, "0", True),
        (non_negative_int, "-1", False),
        (positive_float, "1e-3", True),
        (positive_float, "0", False),
        (positive_float, "nan-ish", False),
        (positive_float, "nan", False),
        (positive_float, "inf", False),
    ],
)
def test_flag_ranges(kind, text, ok, capsys):
    p = ArgumentParser(prog="prog")
    p.add_argument("--n", type=kind)
    if ok:
        assert p.parse_args(["--n", text]).n == kind(text)
        return
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--n", text])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1  # one line
    assert err.startswith("prog: error: argument --n:") and text in err
