"""bpe's reliability: the .model format detects truncation and corruption (fuzzed), ids are bounded before they reach
the Rust engine (which bounds them again and never aborts), the Python encoder is not quadratic, and
`python bpe/train.py` fails with one line and exit code 2, touching nothing, for ordinary mistakes (offline included).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import bpe_rs
from bpe import Tokenizer, cli
from bpe.encoding import bpe_encode, merge_heap, merge_scan
from bpe.formats import load_model
from testutil import ROOT, snapshot

EOT = "<|endoftext|>"
TEXT = "the cat sat on the mat; the bat ate a rat. " * 40 + "abcab aab abba cab bac tacit attic " * 30


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer.train(TEXT, vocab_size=300, special_tokens=[EOT], name="small")


@pytest.fixture(scope="module")
def saved(tok, tmp_path_factory) -> Path:
    return tok.save(tmp_path_factory.mktemp("model") / "small")


def write_v2(path: Path, body: str) -> Path:
    """A `bpe v2` file whose length and checksum are right for `body`: what is wrong is inside it."""
    data = body.encode()
    path.write_bytes(f"bpe v2 bytes={len(data)} sha256={hashlib.sha256(data).hexdigest()}\n".encode() + data)
    return path


HEADER = '{"name": "x", "pattern": "\\\\w+", "special_tokens": %s}'


# ------------------------------------------------------------------------------------------------ format integrity
def test_v2_header_records_the_bodys_length_and_sha256(saved):
    first, body = saved.read_bytes().split(b"\n", 1)
    assert first.decode() == f"bpe v2 bytes={len(body)} sha256={hashlib.sha256(body).hexdigest()}"


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d[:-3], r"promises \d+ bytes after it but the file holds"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 0x01]), "sha256 differs"),
        (lambda d: d[:100] + bytes([d[100] ^ 0x20]) + d[101:], "sha256 differs"),
        (lambda d: d.replace(b"sha256=", b"sha257="), "line 1 should read"),
    ],
    ids=["missing last 3 bytes", "last byte flipped", "byte 100 flipped", "line 1 garbled"],
)
def test_truncated_or_corrupted_v2_files_are_errors_naming_the_file(saved, tmp_path, damage, message):
    bad = tmp_path / "bad.model"
    bad.write_bytes(damage(saved.read_bytes()))
    with pytest.raises(ValueError, match=f"bad.model is malformed or truncated.*{message}"):
        Tokenizer.load(bad)


@pytest.mark.parametrize(
    "body, message",
    [
        (HEADER % "{}" + "\nmerges 2\n97 98\n-1 5\n", r"line 5: merge has id '-1'"),
        (HEADER % "{}" + "\nmerges 2\n97 98\n256 300\n", r"line 5: merge \(256, 300\) uses an id not made yet"),
        (HEADER % "{}" + "\nmerges 1\n97 98 99\n", "line 4: a merge is two ids"),
        (HEADER % "{}" + "\nmerges 1\n97 9.5\n", "line 4: merge has id '9.5'"),
        (HEADER % '{"<|x|>": -3}' + "\nmerges 1\n97 98\n", "special token '<|x|>' has id -3"),
        (HEADER % '{"<|x|>": 1.5}' + "\nmerges 1\n97 98\n", "special token '<|x|>' has id 1.5"),
        (HEADER % '{"<|x|>": 4000000000}' + "\nmerges 1\n97 98\n", r"has id 4000000000: ids must be integers in 0\.\."),
        (HEADER % '{"<|x|>": 97}' + "\nmerges 1\n97 98\n", "also used by ordinary tokens"),
        (HEADER % "{}" + "\nranks 2\nYQ== 0\nYQ== 1\n", "a token appears twice"),
    ],
    ids=[
        "negative",
        "not made yet",
        "three ids",
        "float",
        "negative special",
        "float special",
        "4e9 special",
        "clash",
        "duplicate rank",
    ],
)
def test_bad_ids_are_errors_naming_the_file_and_line(tmp_path, body, message):
    with pytest.raises(ValueError, match=f"bad.model is malformed or truncated.*{message}"):
        Tokenizer.load(write_v2(tmp_path / "bad.model", body), backend="python")  # Python checks, no Rust involved


def test_v1_files_load_and_their_truncations_and_negative_ids_are_caught(tok, saved, tmp_path):
    """v1 has no checksum (documented), but every v1 file ends with a newline and states its counts."""
    body = saved.read_bytes().split(b"\n", 1)[1]
    v1 = tmp_path / "old.model"
    v1.write_bytes(b"bpe v1\n" + body)
    assert load_model(v1) == load_model(saved)
    for cut in range(1, len(body) + 7):
        v1.write_bytes((b"bpe v1\n" + body)[:-cut])
        with pytest.raises(ValueError, match="old.model"):
            Tokenizer.load(v1)
    v1.write_text("bpe v1\n" + HEADER % "{}" + "\nmerges 1\n-1 97\n")
    with pytest.raises(ValueError, match="old.model is malformed.*line 4: merge has id '-1'"):
        Tokenizer.load(v1)


def _load_or_error(path: Path, original: dict) -> str:
    """'same' when the file loads as the original tokenizer, 'error' on a ValueError naming the file; anything else
    (a different tokenizer, another exception) fails the test."""
    try:
        spec = load_model(path)
        Tokenizer(**spec, backend="rust")
    except ValueError as e:
        assert path.name in str(e) and "\n" not in str(e), str(e)
        return "error"
    assert spec == original, "a damaged file loaded as a different tokenizer"
    return "same"


def test_fuzz_truncations_and_byte_flips_never_load_a_different_tokenizer(saved, tmp_path):
    data, original = saved.read_bytes(), load_model(saved)
    path = tmp_path / "fuzz.model"
    outcomes = []
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        outcomes.append(_load_or_error(path, original))
    assert set(outcomes) == {"error"}, "every truncation is detected"
    for seed in range(4):
        rng = random.Random(seed)
        for _ in range(120):
            damaged = bytearray(data)
            for _ in range(rng.choice([1, 1, 2, 5])):
                damaged[rng.randrange(len(data))] ^= rng.randrange(1, 256)
            path.write_bytes(bytes(damaged))
            outcomes.append(_load_or_error(path, original))
    assert outcomes.count("error") == len(outcomes)  # a flip never leaves the sha256 intact


# ------------------------------------------------------------------------------------------------ bounded ids
def test_python_bounds_ids_before_rust(tok):
    ranks = tok.mergeable_ranks
    for specials in ({EOT: 4_000_000_000}, {EOT: -1}, {EOT: 299.0}, {"": 299}):
        with pytest.raises(ValueError, match="special token|ids must be"):
            Tokenizer(ranks, specials, backend="python")
    with pytest.raises(ValueError, match="ids must be"):
        Tokenizer({**ranks, b"zz": 10**9}, backend="python")
    gaps = Tokenizer(ranks, {EOT: len(ranks) + 60_000})  # gaps as in cl100k_base are fine
    assert gaps.n_vocab == len(ranks) + 60_001


def test_a_special_token_id_of_4e9_is_an_error_not_an_abort(saved, tmp_path):
    """In a subprocess: before the fix the Rust engine tried to allocate 64 GB and aborted (exit 134)."""
    header, rest = saved.read_text().split("\n", 2)[1:]
    header = json.loads(header)
    header["special_tokens"][EOT] = 4_000_000_000
    huge = write_v2(tmp_path / "huge.model", json.dumps(header) + "\n" + rest)
    script = textwrap.dedent(
        f"""
        import bpe_rs
        from bpe import Tokenizer, cli
        try:
            Tokenizer.load({str(huge)!r})
        except ValueError as e:
            print("python:", e)
        ranks = [(bytes([i]), i) for i in range(256)]
        try:  # the engine itself, without Python's checks in front
            bpe_rs.Encoder(ranks, {{"<|x|>": 4_000_000_000}}, bpe_rs.GPT2_PATTERN)
        except ValueError as e:
            print("rust:", e)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "python: " + str(huge) + " is malformed or truncated" in result.stdout and "4000000000" in result.stdout
    assert "rust: id 4000000000 is out of range" in result.stdout


def test_rust_rejects_absurd_thread_counts():
    enc = bpe_rs.Encoder([(bytes([i]), i) for i in range(256)], {}, bpe_rs.GPT2_PATTERN)
    with pytest.raises(ValueError, match="too many"):
        enc.encode_to_numpy("hello", [], 1_000_000)


# ------------------------------------------------------------------------------------------------ python encoder
def test_heap_merge_equals_the_scan_on_random_pieces(tok):
    rng = random.Random(0)
    for _ in range(1500):
        piece = bytes(rng.choice(b"abct ;") for _ in range(rng.randrange(1, 300)))
        assert merge_heap(piece, tok.mergeable_ranks) == merge_scan(piece, tok.mergeable_ranks), piece


def test_python_encoder_on_one_20k_piece_equals_the_scan_and_the_rust_engine(tok):
    """One 20,000-character piece took the quadratic scan 24 s; bpe_encode now takes about 0.02 s (README)."""
    rng = random.Random(1)
    piece = "".join(rng.choice("abct") for _ in range(20_000))  # letters only: one pre-token
    assert tok.encode_ordinary(piece) == Tokenizer(tok.mergeable_ranks, backend="python").encode_ordinary(piece)
    head, ranks = piece[:3_000].encode(), tok.mergeable_ranks
    assert bpe_encode(head, ranks) == [ranks[p] for p in merge_scan(head, ranks)]


# ------------------------------------------------------------------------------------------------ the CLI
def train_cli(args: list[str], env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "bpe/train.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
    )


def _setup(tmp: Path) -> None:
    (tmp / "empty.txt").write_text("")
    (tmp / "latin1.txt").write_bytes("café au lait, crème brûlée. ".encode("latin-1") * 200)
    (tmp / "good.txt").write_text(TEXT)
    (tmp / "adir").mkdir()
    (tmp / "out").mkdir()
    (tmp / "out" / "old.model").write_text("the user's earlier tokenizer")
    (tmp / "out" / "old.vocab").write_text("its vocab")
    (tmp / "out" / "dir.model").mkdir()
    (tmp / "out" / "afile").write_text("not a folder")


CLI_CASES = [
    (["--data", "{tmp}/empty.txt"], "empty.txt is empty"),
    (["--data", "{tmp}/missing.txt"], "missing.txt' is neither a file nor a dataset name"),
    (["--data", "{tmp}/adir"], "adir is a folder"),
    (["--data", "{tmp}/latin1.txt"], "latin1.txt is not UTF-8 text"),
    (["--vocab-size", "0"], "argument --vocab-size: 0 is out of range: must be in 257.."),
    (["--vocab-size", "-5"], "argument --vocab-size: -5 is out of range"),
    (["--vocab-size", "256"], "argument --vocab-size: 256 is out of range"),
    (["--vocab-size", "ten"], "argument --vocab-size: 'ten' is not an integer"),
    (["--vocab-size", "257", "--special-token", "<a>", "--special-token", "<b>"], "vocab size 257 is too small"),
    (["--workers", "-1"], "argument --workers: -1 is out of range"),
    (["--out", "{tmp}/out/old"], "old.model exists: pass --overwrite to replace it, or choose another --out"),
    (["--out", "{tmp}/out/dir", "--overwrite"], "dir.model is a folder"),
    (["--out", "{tmp}/out/afile/tok"], "afile is a file, not a folder"),
]


@pytest.mark.parametrize("args, message", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_cli_mistakes_are_one_line_exit_2_and_touch_nothing(tmp_path, args, message):
    _setup(tmp_path)
    args = [a.format(tmp=tmp_path) for a in args]
    if "--data" not in args:
        args += ["--data", str(tmp_path / "good.txt")]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out" / "new")]
    before = snapshot(tmp_path)
    result = train_cli(args + ["--vocab-size", "300"] if "--vocab-size" not in args else args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["afile", "dir.model", "old.model", "old.vocab"]


def test_cli_overwrite_replaces_an_existing_tokenizer(tmp_path):
    _setup(tmp_path)
    out = str(tmp_path / "out" / "old")
    result = train_cli(["--data", str(tmp_path / "good.txt"), "--vocab-size", "300", "--out", out, "--overwrite"])
    assert result.returncode == 0, result.stderr
    trained_on, _ = cli.split_heldout(tmp_path / "good.txt")
    assert Tokenizer.load(out + ".model").merges == Tokenizer.train(trained_on, 300, "gpt4", [EOT]).merges
    assert (tmp_path / "out" / "old.vocab").read_text().startswith("[\\x00] 0\n")  # the vocab was rewritten too


SITECUSTOMIZE = {
    "refused": """
        import socket
        def _blocked(*args, **kwargs):
            raise OSError("network blocked by the test")
        socket.getaddrinfo = _blocked
        socket.socket.connect = _blocked
    """,
    "hangs": """
        import socket, time
        def _hang(*args, **kwargs):
            time.sleep(120)
        socket.getaddrinfo = _hang
        socket.socket.connect = _hang
    """,
}


def test_named_dataset_offline_uses_the_hub_cache(tmp_path):
    """A TinyStories file huggingface_hub cached earlier is used as is, with the network blocked."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE["refused"]))
    repo = tmp_path / "hf" / "hub" / "datasets--roneneldan--TinyStories"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "TinyStoriesV2-GPT4-train.txt").write_text(TEXT)
    env = os.environ.copy()
    env.update(PYTHONPATH=str(tmp_path / "site"), HF_HOME=str(tmp_path / "hf"), BFS_CACHE=str(tmp_path / "cache"))
    result = train_cli(["--data", "tinystories", "--vocab-size", "300", "--out", str(tmp_path / "ts")], env=env)
    assert result.returncode == 0, result.stderr
    assert "TinyStoriesV2-GPT4-train.txt" in result.stdout and (tmp_path / "ts.model").is_file()


@pytest.mark.parametrize("network", ["refused", "hangs"])
def test_named_dataset_offline_fails_fast_naming_data_path(tmp_path, network):
    """Before: 24 s of huggingface_hub retries, then a traceback. The bound is generous: the probe gives up at 3 s."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE[network]))
    env = os.environ.copy()
    env.pop("HF_HUB_OFFLINE", None)
    env.update(PYTHONPATH=str(tmp_path / "site"), HF_HOME=str(tmp_path / "hf"), BFS_CACHE=str(tmp_path / "cache"))
    start = time.monotonic()
    result = train_cli(["--data", "tinystories", "--out", str(tmp_path / "ts")], env=env, timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TinyStories" in lines[0] and "--data PATH" in lines[0], result.stderr
    assert elapsed < (8 if network == "refused" else 12), f"took {elapsed:.1f} s"
    assert not list(tmp_path.glob("ts.*"))
