"""How every command-line script of the project parses flags and fails: one line on stderr and exit code 2 for the
mistakes a user can make, a full traceback only for bugs.

    from scratch.cli import ArgumentParser, positive_int, run

    def main(argv: list[str] | None = None) -> None:
        p = ArgumentParser(description="...")
        p.add_argument("--steps", type=positive_int, default=100)   # "--steps 0" -> "error: argument --steps: ..."
        args = p.parse_args(argv)
        ...

    if __name__ == "__main__":
        run(main)

Anticipated errors are the ones the code raises on purpose with a message that says what to do: UsageError, ValueError
and OSError with its subclasses (FileNotFoundError, FileExistsError, ConnectionError, ...). Anything else is a bug
and keeps its traceback; BFS_TRACEBACK=1 shows the traceback for anticipated errors too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_USAGE = 2  # what argparse uses for a bad flag, so every anticipated error exits the same way


class UsageError(Exception):
    """A mistake in how a command was called or in what it was given; the message says how to put it right."""


ANTICIPATED = (UsageError, ValueError, OSError)


def one_line(error: BaseException) -> str:
    """The error's message on one line (an OSError without our own message: 'No such file or directory: PATH')."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror and len(error.args) == 2:
        text = f"{error.strerror}: {error.filename}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def fail(message: str) -> NoReturn:
    """Print `error: MESSAGE` to stderr and exit 2."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> NoReturn:
    """Call main(argv) and exit: its return code, 2 with one line for an anticipated error, 130 on Ctrl-C."""
    try:
        code = main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except ANTICIPATED as e:
        if os.environ.get("BFS_TRACEBACK"):
            raise
        fail(one_line(e))
    sys.exit(code or 0)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (`PROG: error: argument --x: ...`) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _number(kind: type, low: float | None, low_inclusive: bool, what: str) -> Callable[[str], int | float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if low is not None and (value < low or (value == low and not low_inclusive)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = _number(int, 0, False, "an integer >= 1")
non_negative_int = _number(int, 0, True, "an integer >= 0")
positive_float = _number(float, 0.0, False, "a number > 0")
non_negative_float = _number(float, 0.0, True, "a number >= 0")
