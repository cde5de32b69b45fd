"""prepare.py: text -> token shards, checked against tiktoken encoding the same documents directly.

The corpus: pieces of ../shared/data/multilingual.txt (many scripts, so byte counts are not character counts), one
document longer than a shard (it spans three), and an empty one (skipped), written as .txt, .jsonl and .parquet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tiktoken

from gpt2 import prepare as prep
from gpt2.data import make_loader
from gpt2.prepare import EOT_TEXT, dataset_source, main, parse_count, prepare, reencode_source
from gpt2.shards import HEADER_BYTES, read_manifest
from testutil import ROOT, corpus_file, require_tiktoken_cache, shared_file

SHARD = 3000


@pytest.fixture(scope="module")
def docs():
    require_tiktoken_cache()
    text = shared_file("multilingual.txt").read_text(encoding="utf-8")
    rng = np.random.default_rng(0)
    pieces = text.split(EOT_TEXT)[::8]
    out = [p[: int(rng.integers(1, 3000))] for p in pieces[:40]]
    out[5] = ""  # an empty document is skipped
    out[9] = " ".join(pieces[:6])[:25_000]  # longer than a shard
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, docs):
    """The same documents as .txt, .jsonl and .parquet (FineWeb-like: extra columns beside `text`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("corpus")
    (root / "docs.txt").write_text(EOT_TEXT.join(docs), encoding="utf-8")
    rows = [
        {"text": d, "id": f"<urn:{i}>", "url": f"https://example.org/{i}", "score": 3.5} for i, d in enumerate(docs)
    ]
    with open(root / "docs.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    pq.write_table(pa.Table.from_pylist(rows), root / "docs.parquet", row_group_size=7)
    return root


def oracle(docs, name="gpt2"):
    enc = tiktoken.get_encoding(name)
    return np.concatenate([[enc.eot_token] + enc.encode_ordinary(d) for d in docs if d]).astype(np.int64)


def read_tokens(root):
    m = read_manifest(root)
    return [np.fromfile(root / s["file"], dtype=m["dtype"], offset=HEADER_BYTES).astype(np.int64) for s in m["shards"]]


def files(root):
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


@pytest.fixture(scope="module")
def ref(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("ref") / "gpt2"
    prepare(dataset_source(str(corpus / "docs.txt")), "gpt2", out, SHARD, workers=2)
    return out


def test_shards_are_the_tiktoken_encoding_and_manifest_counts(ref, docs):
    m = read_manifest(ref)
    enc = tiktoken.get_encoding("gpt2")
    shards = read_tokens(ref)
    want = oracle(docs)
    np.testing.assert_array_equal(np.concatenate(shards), want)
    assert [len(s) for s in shards] == [SHARD] * (len(want) // SHARD) + [len(want) % SHARD]
    assert enc.decode(np.concatenate(shards).tolist()) == EOT_TEXT + EOT_TEXT.join(d for d in docs if d)
    assert (m["tokenizer"], m["dtype"], m["eot_token"], m["vocab_size"]) == ("gpt2", "uint16", 50256, 50257)
    assert [s["split"] for s in m["shards"]] == ["val"] + ["train"] * (len(shards) - 1)
    for entry, toks in zip(m["shards"], shards):
        assert entry["tokens"] == len(toks)
        assert entry["docs"] == int((toks == enc.eot_token).sum())
        assert entry["bytes"] == len(enc.decode_bytes(toks[toks != enc.eot_token].tolist()))
    assert sum(s["docs"] for s in m["shards"]) == sum(1 for d in docs if d)
    assert sum(s["bytes"] for s in m["shards"]) == sum(len(d.encode()) for d in docs)
    assert any(s["docs"] == 0 for s in m["shards"])  # the long document fills a shard on its own


def test_worker_count_does_not_change_the_shards(ref, corpus, tmp_path):
    prepare(dataset_source(str(corpus / "docs.txt")), "gpt2", tmp_path / "one", SHARD, workers=1)
    assert files(tmp_path / "one") == files(ref)


def test_jsonl_parquet_and_hub_go_through_one_path(ref, corpus, tmp_path, monkeypatch):
    import datasets

    for name in ("docs.jsonl", "docs.parquet"):
        prepare(dataset_source(str(corpus / name)), "gpt2", tmp_path / name, SHARD, workers=2)
        assert [v for k, v in files(tmp_path / name).items() if k != "manifest.json"] == [
            v for k, v in files(ref).items() if k != "manifest.json"
        ]
    # the hub: the same load_dataset call, answered here from the local parquet file
    calls, real = [], datasets.load_dataset

    def fake_hub(path, *args, **kwargs):
        calls.append((path, kwargs))
        assert path == "HuggingFaceFW/fineweb-edu"
        return real("parquet", data_files=[str(corpus / "docs.parquet")], split="train", streaming=True)

    monkeypatch.setattr(datasets, "load_dataset", fake_hub)
    m = prepare(dataset_source("fineweb-edu", "sample-10BT"), "gpt2", tmp_path / "hub", SHARD, workers=2)
    assert calls == [("HuggingFaceFW/fineweb-edu", {"name": "sample-10BT", "split": "train", "streaming": True})]
    assert m["settings"]["dataset"] == "fineweb-edu" and m["settings"]["subset"] == "sample-10BT"
    assert [v for k, v in files(tmp_path / "hub").items() if k != "manifest.json"] == [
        v for k, v in files(ref).items() if k != "manifest.json"
    ]


@pytest.mark.parametrize("when", ["mid-shard", "after-rename"])
def test_interrupted_prepare_resumes_to_the_same_shards(ref, corpus, tmp_path, monkeypatch, when):
    """Crash while writing shard 3 (a partial temp file left behind, as by SIGKILL), or just after its rename (the
    manifest, written first, already lists it); rerunning the same command gives the uninterrupted result byte for
    byte, temp file gone."""
    src = str(corpus / "docs.txt")
    real, calls = prep.write_shard, []

    def crashing(path, tokens, *args):
        calls.append(path)
        if len(calls) == 3:
            if when == "mid-shard":
                path.with_name(f".{path.name}.k1ll3d.tmp").write_bytes(b"partial")  # as atomic_open leaves it
            else:
                real(path, tokens, *args)
            raise KeyboardInterrupt
        real(path, tokens, *args)

    monkeypatch.setattr(prep, "write_shard", crashing)
    with pytest.raises(KeyboardInterrupt):
        prepare(dataset_source(src), "gpt2", tmp_path / "out", SHARD, workers=2)
    monkeypatch.setattr(prep, "write_shard", real)
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert len(m["shards"]) == 3 and not m["complete"]
    with pytest.raises(ValueError, match="did not finish"):
        make_loader("global", tmp_path / "out", 2, 64)
    prepare(dataset_source(src), "gpt2", tmp_path / "out", SHARD, workers=2)
    assert files(tmp_path / "out") == files(ref)


def test_rerun_is_a_noop_and_other_settings_are_refused(ref, corpus, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    before = files(out)
    prepare(dataset_source(str(corpus / "docs.txt")), "gpt2", out, SHARD, workers=2)
    with pytest.raises(ValueError, match="other settings"):
        prepare(dataset_source(str(corpus / "docs.txt")), "gpt2", out, SHARD + 1)
    with pytest.raises(ValueError, match="other settings"):
        prepare(dataset_source(str(corpus / "docs.txt")), "cl100k_base", out, SHARD)
    assert files(out) == before


def test_max_tokens_cuts_exactly(docs, corpus, tmp_path):
    m = prepare(dataset_source(str(corpus / "docs.txt")), "gpt2", tmp_path / "cut", SHARD, max_tokens=7000)
    toks = np.concatenate(read_tokens(tmp_path / "cut"))
    np.testing.assert_array_equal(toks, oracle(docs)[:7000])
    assert [s["tokens"] for s in m["shards"]] == [3000, 3000, 1000]


def test_reencode_with_cl100k_through_the_cli(ref, docs, tmp_path, capsys):
    out = tmp_path / "cl100k"
    main(["--reencode", str(ref), "--tokenizer", "cl100k_base", "--shard-tokens", "2K", "--out", str(out)])
    m = read_manifest(out)
    assert m["dtype"] == "uint32" and m["tokenizer"] == "cl100k_base"  # 100277 ids do not fit uint16
    np.testing.assert_array_equal(np.concatenate(read_tokens(out)), oracle(docs, "cl100k_base"))
    assert sum(s["bytes"] for s in m["shards"]) == sum(s["bytes"] for s in read_manifest(ref)["shards"])
    assert "shards" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--reencode", str(ref), "--out", str(ref)])


# ---------------------------------------------------------------------------------------------------------------
# bad input: clear errors, nothing written


def test_empty_dataset(tmp_path):
    require_tiktoken_cache()  # prepare loads the gpt2 tokenizer before it reads the data
    (tmp_path / "empty.txt").write_text(EOT_TEXT + EOT_TEXT)
    with pytest.raises(ValueError, match="no documents"):
        prepare(dataset_source(str(tmp_path / "empty.txt")), "gpt2", tmp_path / "out", SHARD)
    assert not (tmp_path / "out").exists()


def test_no_text_column(tmp_path):
    require_tiktoken_cache()  # prepare loads the gpt2 tokenizer before it reads the data
    (tmp_path / "x.jsonl").write_text('{"content": "hello"}\n')
    with pytest.raises(ValueError, match="no 'text' column"):
        prepare(dataset_source(str(tmp_path / "x.jsonl")), "gpt2", tmp_path / "out", SHARD)
    assert not (tmp_path / "out").exists()


def test_vocab_that_does_not_fit_the_dtype(corpus, tmp_path):
    with pytest.raises(ValueError, match="does not fit uint16"):
        prepare(dataset_source(str(corpus / "docs.txt")), "cl100k_base", tmp_path / "out", SHARD, dtype="uint16")
    assert not (tmp_path / "out").exists()


def test_unknown_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        dataset_source(str(tmp_path / "nope.txt"))
    (tmp_path / "a.csv").write_text("text\nhi\n")
    with pytest.raises(ValueError, match="unknown file type"):
        dataset_source(str(tmp_path / "a.csv"))
    with pytest.raises(ValueError, match="count"):
        parse_count("lots")
    assert parse_count("100M") == 10**8 and parse_count("2.5K") == 2500 and parse_count("1_000") == 1000


def test_reencode_refuses_a_broken_source(ref, tmp_path):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(ref, src)
    shard = src / read_manifest(src)["shards"][1]["file"]
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ValueError, match="truncated"):
        reencode_source(src)


@pytest.mark.slow
def test_killed_cli_resumes_to_the_same_shards(tmp_path):
    """The real thing: SIGKILL the CLI once two shards are on disk, rerun it, compare with an uninterrupted run."""
    require_tiktoken_cache()
    src = shared_file("gutenberg-en.txt")
    cmd = [
        sys.executable,
        str(ROOT / "gpt-2" / "prepare.py"),
        "--dataset",
        str(src),
        "--shard-tokens",
        "1M",
        "--max-tokens",
        "8M",
        "--workers",
        "2",
        "--out",
    ]
    env = {**os.environ}
    subprocess.run(cmd + [str(tmp_path / "ref")], check=True, env=env, capture_output=True)
    proc = subprocess.Popen(
        cmd + [str(tmp_path / "out")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while proc.poll() is None and len(list((tmp_path / "out").glob("train_*.bin"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not read_manifest(tmp_path / "out", allow_incomplete=True)["complete"]
    subprocess.run(cmd + [str(tmp_path / "out")], check=True, env=env, capture_output=True)
    assert files(tmp_path / "out") == files(tmp_path / "ref")


@pytest.mark.slow
def test_gutenberg_shards_decode_to_the_file():
    require_tiktoken_cache()
    src = corpus_file("gutenberg-en.txt")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        prepare(dataset_source(str(src)), "gpt2", d, 4_000_000, workers=2)
        toks = np.concatenate(read_tokens(Path(d)))
        docs = [p for p in src.read_text(encoding="utf-8").split(EOT_TEXT) if p]
        assert tiktoken.get_encoding("gpt2").decode(toks.tolist()) == EOT_TEXT + EOT_TEXT.join(docs)


def test_bpe_model_tokenizer_gives_the_same_tokens(ref, corpus, tmp_path):
    """A bpe .model file holding gpt2's vocab (bpe-rs engine) writes the tokens tiktoken wrote."""
    from bpe import Tokenizer

    model = Tokenizer.from_tiktoken("gpt2").save(tmp_path / "gpt2")
    m = prepare(dataset_source(str(corpus / "docs.txt")), str(model), tmp_path / "bpe", SHARD, workers=2)
    assert m["tokenizer"] == str(model) and m["dtype"] == "uint16"
    assert m["tokenizer_hash"] != read_manifest(ref)["tokenizer_hash"]  # the file's hash names it
    for a, b in zip(read_tokens(tmp_path / "bpe"), read_tokens(ref), strict=True):
        np.testing.assert_array_equal(a, b)


def test_txt_split_does_not_depend_on_the_chunk_size(tmp_path):
    """Reading in chunks finds every separator, also one that straddles two chunks (oracle: str.split)."""
    from gpt2.prepare import txt_documents

    rng = np.random.default_rng(1)
    alphabet = list("ab<|>endoftxé\n") + [EOT_TEXT]
    for trial in range(40):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 60))))
        path = tmp_path / f"{trial}.txt"
        path.write_text(text, encoding="utf-8")
        want = [d for d in text.split(EOT_TEXT) if d]
        for chunk in (1, 5, 12, 13, 14, 1000):
            assert list(txt_documents(path, chunk_chars=chunk)) == want
        assert list(txt_documents(path, skip=1)) == want[1:]


def test_rerun_rewrites_a_damaged_shard(ref, corpus, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    m = read_manifest(out)
    damaged = out / m["shards"][2]["file"]
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        make_loader("global", out, 2, 64)
    prepare(dataset_source(str(corpus / "docs.txt")), "gpt2", out, SHARD, workers=2)
    assert files(out) == files(ref)


def test_utf8_check_names_the_first_bad_byte_whatever_the_block_size(tmp_path):
    """Oracle: bytes.decode's own error offset on the whole file; blocks cut inside multi-byte characters."""
    from gpt2.prepare import check_utf8

    good = "é€😀 plain ".encode() * 50
    for bad_at in (0, 7, len(good) - 1, len(good)):
        data = good[:bad_at] + b"\xff" + good[bad_at:]
        path = tmp_path / "t.txt"
        path.write_bytes(data)
        with pytest.raises(UnicodeDecodeError) as want:
            data.decode("utf-8")
        for block in (1, 3, 5, 64, 1 << 20):
            with pytest.raises(ValueError, match=f"byte {want.value.start:,} is 0x"):
                check_utf8(path, block)
    path.write_bytes(good)
    for block in (1, 3, 1 << 20):
        check_utf8(path, block)


def test_preparing_shards_needs_no_torch():
    """prepare.py writes shards with numpy alone (gpt2.shards), so it starts in well under a second instead of the ~4 s
    that importing torch takes here: a mistake in its flags is reported at once."""
    code = "import sys, gpt2.prepare; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
