"""The gpt2 data and demo CLIs (prepare.py, demo.py, tokenizer_experiment.py) used carelessly: bad input is one line
on stderr and exit code 2 with every file that was there byte-identical (and nothing new), and a prepare.py killed
at any point resumes to exactly the uninterrupted result.

Each bad input runs the real script in a fresh interpreter, as a user would: `python gpt-2/prepare.py ...`.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from gpt2.prepare import EOT_TEXT, dataset_source, prepare
from testutil import ROOT, require_tiktoken_cache, snapshot

TIMEOUT = 120  # a case that does not refuse would go on to train: fail instead of waiting for it


def words_corpus(path: Path, docs: int = 60, seed: int = 0) -> Path:
    """Deterministic text of DOCS documents joined by <|endoftext|> (about 1 KB each)."""
    rng = random.Random(seed)
    vocab = "the of and to in a is that for it as was with be by on not he I this are or his from at".split()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(50, 400))) + ".\n" for _ in range(docs)]
    path.write_text(EOT_TEXT.join(texts), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------------ setups
# Each setup builds its case under tmp and returns (cwd or None for the repository root, argv after the script).


def prepared(tmp: Path) -> Path:
    """A finished prepare.py output folder, tmp/out, from tmp/corpus.txt."""
    src = words_corpus(tmp / "corpus.txt")
    prepare(dataset_source(str(src)), "gpt2", tmp / "out", 2000, workers=1)
    return src


def changed_source(tmp):
    src = prepared(tmp)
    src.write_text(src.read_text() + " one more line\n", encoding="utf-8")
    return None, ["--dataset", str(src), "--shard-tokens", "2000", "--out", str(tmp / "out")]


def foreign_shard(tmp):
    src = words_corpus(tmp / "corpus.txt")
    (tmp / "out").mkdir()
    (tmp / "out" / "train_00001.bin").write_bytes(b"my own file")
    return None, ["--dataset", str(src), "--shard-tokens", "2000", "--out", str(tmp / "out")]


def foreign_manifest(tmp):
    src = words_corpus(tmp / "corpus.txt")
    (tmp / "out").mkdir()
    (tmp / "out" / "manifest.json").write_text('{"model": "mine"}')
    return None, ["--dataset", str(src), "--out", str(tmp / "out")]


def not_utf8(tmp):
    src = tmp / "latin1.txt"
    src.write_bytes(b"a" * 20_000 + "caf\xe9".encode("latin-1") + b" more text")
    return None, ["--dataset", str(src), "--out", str(tmp / "out")]


def file_at(name: str, data: bytes | None = b"", flag: str = "--dataset", extra: tuple = ()):
    """A case whose FLAG gets tmp/NAME: a file holding DATA, a folder (DATA None), or nothing (NAME ends in '!')."""

    def setup(tmp):
        path = tmp / name.rstrip("!")
        if data is None:
            path.mkdir()
        elif not name.endswith("!"):
            path.write_bytes(data)
        return None, [flag, str(path), *extra]

    return setup


def with_corpus(*flags: str):
    def setup(tmp):
        return None, ["--dataset", str(words_corpus(tmp / "corpus.txt")), "--out", str(tmp / "out"), *flags]

    return setup


def demo_out_dot(tmp):
    """`--out .` in a folder holding the user's own data/ (the demo used to delete it)."""
    (tmp / "data" / "edu10B").mkdir(parents=True)
    (tmp / "data" / "edu10B" / "manifest.json").write_text("{}")
    return tmp, ["--out", ".", "--steps", "1"]


def demo_flags(*flags: str):
    return lambda tmp: (None, ["--out", str(tmp / "demo"), *flags])


def experiment_foreign_results(tmp):
    (tmp / "exp").mkdir()
    (tmp / "exp" / "results.md").write_text("my notes")
    return None, ["--out", str(tmp / "exp"), "--no-gpt2"]


def experiment_flags(*flags: str):
    return lambda tmp: (None, ["--out", str(tmp / "exp"), *flags])


EMPTY_OUT = ("--out", "OUT")  # placeholder replaced by tmp/out
FINEWEB_OUT = ("--dataset", "fineweb-edu", *EMPTY_OUT)  # a valid source: the case is about another flag

CASES = {
    "gpt-2/prepare.py": [
        ("changed source", changed_source, "another version of the source"),
        ("foreign shard", foreign_shard, "train_00001.bin is in --out but no prepare.py manifest"),
        ("foreign manifest", foreign_manifest, "manifest.json was not written by prepare.py"),
        ("not UTF-8", not_utf8, "latin1.txt is not UTF-8: byte 20,003 is 0xe9"),
        ("empty file", file_at("empty.txt", b"", extra=EMPTY_OUT), "holds no documents"),
        ("only separators", file_at("seps.txt", EOT_TEXT.encode() * 3, extra=EMPTY_OUT), "holds no documents"),
        ("missing file", file_at("nope.txt!", extra=EMPTY_OUT), "nope.txt not found"),
        ("folder instead of file", file_at("texts", None, extra=EMPTY_OUT), "holds no .parquet or .jsonl files"),
        ("unknown file type", file_at("a.csv", b"text\nhi\n", extra=EMPTY_OUT), "unknown file type '.csv'"),
        ("tokenizer is a folder", file_at("tok.model", None, "--tokenizer", FINEWEB_OUT), "tok.model is not"),
        ("unknown tokenizer", with_corpus("--tokenizer", "gpt5"), "'gpt5' is neither"),
        ("--out is a file", file_at("out.txt", b"keep", "--out", ("--dataset", "fineweb-edu")), "is a file"),
        ("zero shard tokens", with_corpus("--shard-tokens", "0"), "--shard-tokens: 0 is out of range"),
        ("negative shard tokens", with_corpus("--shard-tokens", "-5"), "--shard-tokens: cannot read '-5'"),
        ("one shard token", with_corpus("--shard-tokens", "1"), "must be a count >= 2"),
        ("zero max tokens", with_corpus("--max-tokens", "0"), "--max-tokens: 0 is out of range"),
        ("zero workers", with_corpus("--workers", "0"), "--workers: 0 is out of range"),
        ("reencode a text file", file_at("c.txt", b"hi", "--reencode", EMPTY_OUT), "holds no manifest.json"),
    ],
    "gpt-2/demo.py": [
        ("--out . beside the user's data/", demo_out_dot, "data exists and was not written by gpt-2/demo.py"),
        ("zero steps", demo_flags("--steps", "0"), "--steps: 0 is out of range"),
        ("negative batch tokens", demo_flags("--batch-tokens", "-4096"), "--batch-tokens: -4096 is out of range"),
        ("vocab without merges", demo_flags("--vocab-size", "257"), "--vocab-size 257 leaves no merges"),
        ("negative threads", demo_flags("--threads", "-1"), "--threads: -1 is out of range"),
        ("zero temperature", demo_flags("--temperature", "0"), "--temperature: 0 is out of range"),
        ("zero eval-every", demo_flags("--eval-every", "0"), "--eval-every: 0 is out of range"),
        ("--image is a folder", demo_flags("--image", "."), "--image: . is a folder"),
    ],
    "gpt-2/tokenizer_experiment.py": [
        ("foreign results.md", experiment_foreign_results, "results.md exists and was not written by"),
        ("missing domain", file_at("nope.txt!", flag="--domain-b", extra=EMPTY_OUT), "nope.txt is not a file"),
        ("domain is a folder", file_at("texts", None, flag="--domain-b", extra=EMPTY_OUT), "texts is not a file"),
        ("zero tokenizer bytes", experiment_flags("--tokenizer-bytes", "0"), "--tokenizer-bytes: 0 is out of range"),
        ("zero micro-batch", experiment_flags("--micro-batch", "0"), "--micro-batch: 0 is out of range"),
    ],
}


# One case per defect of issue 13 runs by default; each case costs a fresh interpreter (3-6 s here, most of it
# importing torch), so the rest of the table is marked slow (`make test-all`).
DEFAULT = {
    "changed source",
    "foreign shard",
    "not UTF-8",
    "empty file",
    "--out . beside the user's data/",
    "zero steps",
    "foreign results.md",
}


@pytest.mark.parametrize(
    "script, setup, problem",
    [pytest.param(script, setup, problem, id=f"{Path(script).stem}: {name}",
                  marks=() if name in DEFAULT else pytest.mark.slow)
     for script, cases in CASES.items() for name, setup, problem in cases],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path, script, setup, problem):
    require_tiktoken_cache()
    cwd, argv = setup(tmp_path)
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    before = snapshot(tmp_path)
    r = subprocess.run(
        [sys.executable, str(ROOT / script), *argv],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "BFS_TRACEBACK": ""},
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and problem in lines[0], r.stderr[-2000:]
    assert snapshot(tmp_path) == before  # nothing changed, nothing new


# ------------------------------------------------------------------------------------------------------ SIGKILL
# A driver in a fresh interpreter forks one child per prepare.py run; a child dies by SIGKILL at its k-th write
# event (half of a write into a temp file done, or a temp file just renamed into place), as a kill -9 at a random
# moment would leave it. Forking from a fresh driver (never from pytest) keeps the tokenizer's thread pools sound.
DRIVER = r"""
import json, os, random, signal, sys, traceback
from contextlib import contextmanager

import gpt2.shards
import scratch.files
from gpt2.prepare import dataset_source, prepare

spec = json.loads(sys.argv[1])
real_open, events, kill_at = scratch.files.atomic_open, 0, None


def tick():
    global events
    events += 1
    if events == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


class Halves:
    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()  # the partial temp file is on disk when the kill comes
        tick()
        return self.f.write(data[len(data) // 2 :])


@contextmanager
def hooked_open(path, mode="wb", **kw):
    with real_open(path, mode, **kw) as f:
        yield Halves(f)
    tick()  # renamed into place


def child(out, kill):
    global kill_at
    kill_at = kill
    gpt2.shards.atomic_open = scratch.files.atomic_open = hooked_open
    sys.stdout = sys.stderr = open(os.devnull, "w")
    prepare(dataset_source(spec["src"]), "gpt2", out, spec["shard"], workers=1)
    with open(spec["events"], "w") as f:
        f.write(str(events))


def run(out, kill=None):
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            child(out, kill)
        except BaseException:
            traceback.print_exc(file=sys.__stderr__)
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return "killed" if killed else os.waitstatus_to_exitcode(status)


assert run(spec["count_out"]) == 0
total = int(open(spec["events"]).read())
report = {"events": total}
for seed, out in spec["seeds"].items():
    rng = random.Random(int(seed))
    kills = [rng.randint(1, total), rng.randint(1, total)]  # the second may fall after the resumed run's end
    report[seed] = {"kills": kills, "status": [run(out, k) for k in kills]}
print(json.dumps(report))
"""

SEEDS = [0, 1, 2, 3, 4, 5]
SHARD = 1500


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory):
    require_tiktoken_cache()
    tmp = tmp_path_factory.mktemp("killed")
    src = words_corpus(tmp / "corpus.txt", docs=40)
    spec = {
        "src": str(src),
        "shard": SHARD,
        "events": str(tmp / "events"),
        "count_out": str(tmp / "counted"),
        "seeds": {str(s): str(tmp / f"seed{s}") for s in SEEDS},
    }
    r = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(spec)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    ref = tmp / "ref"
    prepare(dataset_source(str(src)), "gpt2", ref, SHARD, workers=1)  # uninterrupted, no hooks
    return src, ref, json.loads(r.stdout.splitlines()[-1])


@pytest.mark.parametrize("seed", SEEDS)
def test_prepare_killed_at_random_points_resumes_to_the_uninterrupted_result(killed_runs, seed, capsys):
    src, ref, report = killed_runs
    assert report["events"] > 20  # several shards: kills land mid-shard, between shard and manifest, mid-manifest
    runs = report[str(seed)]
    assert runs["status"][0] == "killed"  # the first kill always lands: it is within the uninterrupted run's events
    out = ref.parent / f"seed{seed}"
    prepare(dataset_source(str(src)), "gpt2", out, SHARD, workers=1)
    assert snapshot(out) == snapshot(ref), runs  # byte for byte, the manifest included; no temp file left
    assert not list(out.glob(".*.tmp"))
