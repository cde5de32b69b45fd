"""Build the multi-GB training corpus for bench/bpe_train.py --big, reproducibly, from ../shared/data.

    python bench/big_corpus.py                       # 31 copies: 2.65 GB at runs/bench/big-corpus.txt (~30 s)
    python bench/big_corpus.py --copies 2 --out /tmp/small.txt

The original project trained its 16K tokenizers on 2.6 GB (TinyStoriesV2) and 3.3 GB (FineWeb). We have 85 MB of
real text here (the Gutenberg books and the multilingual file), so the corpus is that text repeated, with a
deterministic twist that keeps the repetition from being trivial: copy 0 is the text itself; in copy k >= 1 about
`--typo-rate` per mille of the eligible positions (a lowercase ASCII letter with letters on both sides) become
another letter ("restrictions" -> "reztrictions"). Frequent words keep most of their counts and each typo is a rare
variant, so the vocabulary gets the long tail of real web text: 5.3 million distinct pre-tokens at the defaults.
Which letters change, and to what, is a pure function of (copy, byte offset) through splitmix64, not a library RNG,
so the same sources give the same bytes on any machine; the manifest beside the corpus records the sources' and the
result's sha256, and bench/bpe_train.py checks it before timing anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from common import RESULTS, SHARED
from scratch.cli import ArgumentParser, UsageError, non_negative_int, positive_int, run
from scratch.files import atomic_open, atomic_write, file_digest

EOT = b"<|endoftext|>"
SOURCES = ("gutenberg-en.txt", "multilingual.txt")
DEFAULT_OUT = RESULTS / "big-corpus.txt"
VERSION = 1  # bump when the transformation changes: manifests of other versions no longer match


def manifest_path(corpus: Path) -> Path:
    return corpus.with_name(corpus.name + ".json")


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Steele et al.'s splitmix64 finaliser, vectorised: a well-mixed 64-bit hash of each uint64 (wrapping math)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def with_typos(text: np.ndarray, copy: int, per_mille: int) -> np.ndarray:
    """Copy `copy` of the text: the original for copy 0; else, at the positions the hash of (copy, offset) picks
    among lowercase ASCII letters with letters on both sides, another lowercase letter (also picked by the hash)."""
    if copy == 0 or per_mille == 0:
        return text
    lower = (text >= ord("a")) & (text <= ord("z"))
    eligible = np.flatnonzero(lower[:-2] & lower[1:-1] & lower[2:]) + 1
    h = splitmix64(eligible.astype(np.uint64) + (np.uint64(copy) << np.uint64(40)))
    pick = h % np.uint64(1000) < np.uint64(per_mille)
    where, shift = eligible[pick], (h[pick] >> np.uint64(32)) % np.uint64(25) + np.uint64(1)  # 1..25: never itself
    out = text.copy()
    out[where] = (text[where] - ord("a") + shift) % 26 + ord("a")
    return out


def source_text(shared: Path) -> tuple[np.ndarray, list[dict]]:
    """The sources joined by <|endoftext|>, as bytes, and their names, sizes and sha256."""
    parts, record = [], []
    for name in SOURCES:
        path = shared / name
        if not path.is_file():
            raise UsageError(f"{path} not found: the corpus is built from ../shared/data beside the checkout")
        parts.append(path.read_bytes())
        record.append({"name": name, "bytes": len(parts[-1]), "sha256": file_digest(path, "sha256")})
    return np.frombuffer(EOT.join(parts) + EOT, dtype=np.uint8), record


def recipe(sources: list[dict], copies: int, per_mille: int) -> dict:
    return {"version": VERSION, "sources": sources, "copies": copies, "typo_per_mille": per_mille}


def build(out: Path, copies: int, per_mille: int, shared: Path = SHARED) -> dict:
    """Write the corpus atomically and its manifest beside it; return the manifest."""
    text, sources = source_text(shared)
    with atomic_open(out, "wb") as f:
        for k in tqdm(range(copies), desc="writing copies", unit="copy"):
            f.write(with_typos(text, k, per_mille).tobytes())
    manifest = {**recipe(sources, copies, per_mille), "bytes": out.stat().st_size, "sha256": file_digest(out, "sha256")}
    atomic_write(manifest_path(out), json.dumps(manifest, indent=1) + "\n")
    return manifest


def check(corpus: Path) -> dict:
    """The manifest of a corpus this script built, after checking the file still matches it (size and sha256)."""
    mpath = manifest_path(corpus)
    if not corpus.is_file() or not mpath.is_file():
        raise UsageError(f"{corpus} (and its manifest) not found: build it with `python bench/big_corpus.py`")
    manifest = json.loads(mpath.read_text())
    if manifest.get("version") != VERSION:
        raise UsageError(f"{corpus} was built by another version of bench/big_corpus.py: rebuild it with --overwrite")
    if corpus.stat().st_size != manifest["bytes"] or file_digest(corpus, "sha256") != manifest["sha256"]:
        raise UsageError(f"{corpus} no longer matches its manifest {mpath}: rebuild it with --overwrite")
    return manifest


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the corpus (manifest: OUT.json)")
    p.add_argument("--copies", type=positive_int, default=31, help="copies of the 85 MB sources (31: 2.6 GB)")
    p.add_argument(
        "--typo-rate", type=non_negative_int, default=20, help="changed letters per mille of the eligible, copy >= 1"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing corpus made with other settings")
    args = p.parse_args(argv)
    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a folder: give a file path, e.g. {args.out / 'big-corpus.txt'}")
    if args.out.exists():
        try:
            old = check(args.out)
        except UsageError:
            old = None
        wanted = recipe(source_text(SHARED)[1], args.copies, args.typo_rate)
        if old is not None and {k: old[k] for k in wanted} == wanted:
            print(f"{args.out} is already built with these settings ({old['bytes'] / 1e9:.2f} GB): nothing to do")
            return
        if not args.overwrite:
            raise UsageError(f"{args.out} exists and was not built with these settings: pass --overwrite to replace it")
    manifest = build(args.out, args.copies, args.typo_rate)
    print(f"{args.out}: {manifest['bytes'] / 1e9:.2f} GB, sha256 {manifest['sha256'][:16]}...", file=sys.stderr)


if __name__ == "__main__":
    run(main)
