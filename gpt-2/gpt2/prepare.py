"""Text -> token shards: FineWeb-Edu from the hub, or local .txt / .jsonl / .parquet, with any tokenizer.

    python gpt-2/prepare.py --dataset fineweb-edu --subset sample-10BT --tokenizer gpt2 --out data/edu10B
    python gpt-2/prepare.py --dataset ../shared/data/gutenberg-en.txt --tokenizer gpt2 --shard-tokens 2M --out data/gut
    python gpt-2/prepare.py --reencode data/gut --tokenizer cl100k_base --out data/gut-cl100k

Documents:
- fineweb-edu, .jsonl and .parquet all go through one function, `hf_documents`: a streaming HF `datasets` dataset
  (`load_dataset("HuggingFaceFW/fineweb-edu", name=subset, ...)` or `load_dataset("json"|"parquet", data_files=...)`)
  whose `text` column holds one document per row; a directory means every .parquet (else .jsonl) file in it.
- a .txt file is split into documents on the literal "<|endoftext|>" (a file without it is one document).
Empty documents are skipped. Every document is written as [eot] + encode_ordinary(text).

Shards are --shard-tokens tokens each (the last one shorter), documents back to back, a document that does not fit
continuing in the next shard (as in nanoGPT's fineweb.py; a shard that does not start with end-of-text starts with the
rest of a document). The first shard is the validation split. --max-tokens cuts the stream at exactly that many.
`--reencode FROM_DIR` decodes FROM_DIR's documents (joined across shards) and tokenizes them again with another
tokenizer: the same document stream, so its val shard starts with the same text.

Tokenizing runs `encode_ordinary_batch(texts, num_threads=workers)` (for a bpe tokenizer its numpy variant,
`encode_ordinary_batch_to_numpy`: one array per batch, no Python list per document): tiktoken and bpe-rs both release
the GIL while encoding, so threads use every core without pickling text and token lists between processes.

Resumable: each shard goes to a temp file that is renamed when complete, and the manifest (written atomically after
every shard) lists the finished ones with where the next starts (document index, tokens of it already written).
Rerunning the same command skips that far into the documents and rewrites the interrupted shard; the result is
byte-identical to an uninterrupted run. Refused, with nothing changed: a different command into the same --out, a
source file that changed since the shards were written (the manifest records each local file's size and mtime: cheap
at any size, where a hash would re-read a 40 GB corpus on every resume; a copy or `touch` without a change is refused
too, the safe mistake), a file in --out that prepare.py did not write (a manifest, or a shard that no manifest
lists), and a .txt/.jsonl source that is not UTF-8 (checked before anything is written; the error names the byte).
"""

from __future__ import annotations

import argparse
import codecs
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gpt2.shards import (
    DTYPES,
    MANIFEST,
    check_shard,
    dtype_for_vocab,
    open_shard,
    read_header,
    read_manifest,
    tokenizer_hash,
    write_manifest,
    write_shard,
)
from gpt2.tokenizer import TIKTOKEN_NAMES, load_tokenizer
from scratch.cli import ArgumentParser, positive_int, run
from scratch.files import file_digest, remove_stale_temps

FINEWEB_EDU = "HuggingFaceFW/fineweb-edu"
EOT_TEXT = "<|endoftext|>"
BATCH_BYTES = 4 << 20  # text per encode_ordinary_batch call: big enough to keep every thread busy
BATCH_DOCS = 1024
NUMPY_BATCHES = True  # False: the list path for every tokenizer (tests compare the two; bench/gpt2_data.py times both)
SHARD_NAME = re.compile(r"(val|train)_\d{5}\.bin")  # the shard files prepare.py writes
TEXT_SUFFIXES = (".txt", ".jsonl", ".json", ".parquet")


def parse_count(s: str | int | None) -> int | None:
    """'100M' -> 100_000_000 (K, M, B/G suffixes; underscores allowed)."""
    if s is None or isinstance(s, int):
        return s
    m = re.fullmatch(r"\s*([0-9_.]+)\s*([kKmMbBgG]?)\s*", s)
    if not m:
        raise ValueError(f"cannot read {s!r} as a count: use e.g. 100M, 2.5B, 500K or 1000")
    mult = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}[m.group(2).lower()]
    try:
        return int(float(m.group(1).replace("_", "")) * mult)
    except ValueError:
        raise ValueError(f"cannot read {s!r} as a count: use e.g. 100M, 2.5B, 500K or 1000") from None


def count_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a count (K/M/B suffixes) of at least LOW; a bad one is a one-line flag error."""

    def parse(text: str) -> int:
        try:
            n = parse_count(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        if n < low:
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be a count >= {low}")
        return n

    parse.__name__ = f"a count >= {low}"
    return parse


# ----------------------------------------------------------------------------------------------------------------
# sources of documents


def hf_documents(dataset, skip: int = 0) -> Iterator[str]:
    """The `text` of every row of an HF dataset (streaming or not), empty ones skipped, after the first `skip`."""
    cols = dataset.column_names
    if cols is not None and "text" not in cols:
        raise ValueError(
            f"the dataset has no 'text' column (columns: {', '.join(cols)}): prepare.py needs one "
            f"document per row in a column named text"
        )

    def docs():
        for batch in dataset.iter(batch_size=1000):
            if "text" not in batch:
                raise ValueError(
                    f"the dataset has no 'text' column (columns: {', '.join(batch)}): prepare.py needs "
                    f"one document per row in a column named text"
                )
            yield from (t for t in batch["text"] if t)

    return itertools.islice(docs(), skip, None)


def load_hf_dataset(dataset: str, subset: str | None = None):
    """A streaming dataset: FineWeb-Edu from the hub, or local .jsonl/.parquet files (one path serves both)."""
    from datasets import load_dataset  # here: importing datasets takes seconds, and .txt input never needs it

    if dataset == "fineweb-edu":
        return load_dataset(FINEWEB_EDU, name=subset or "sample-10BT", split="train", streaming=True)
    path = Path(dataset)
    files = [path]
    if path.is_dir():
        files = _data_files(path)
        if not files:
            raise FileNotFoundError(f"{path} holds no .parquet or .jsonl files")
    builder = "parquet" if files[0].suffix == ".parquet" else "json"
    return load_dataset(builder, data_files=[str(f) for f in files], split="train", streaming=True)


def txt_documents(path: Path, skip: int = 0, chunk_chars: int = 16 << 20) -> Iterator[str]:
    """The documents of a .txt file split on "<|endoftext|>", read in chunks (a separator may straddle two)."""

    def split():
        pieces: list[str] = []  # of the document being read
        carry, keep = "", len(EOT_TEXT) - 1  # the last chars, which may begin a separator
        with open(path, encoding="utf-8") as f:
            while chunk := f.read(chunk_chars):
                *docs, last = (carry + chunk).split(EOT_TEXT)
                for d in docs:
                    yield "".join(pieces) + d
                    pieces = []
                pieces.append(last[:-keep])
                carry = last[-keep:]
        yield "".join(pieces) + carry

    def named():  # check_utf8 ran before any write; this only fires when the file changed while being read
        try:
            yield from split()
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 ({e.reason}): it changed while being read?") from None

    return itertools.islice((d for d in named() if d), skip, None)


def check_utf8(path: Path, block: int = 16 << 20) -> None:
    """Raise ValueError naming the file and the byte offset of the first byte that is not UTF-8 (before any shard is
    written, so a bad file leaves no folder behind); a progress bar for files over a few hundred MB."""
    decoder, done = codecs.getincrementaldecoder("utf-8")(), 0
    size = path.stat().st_size
    with (
        open(path, "rb") as f,
        tqdm(
            total=size, unit="B", unit_scale=True, desc=f"checking {path.name} is UTF-8", disable=size < 256 << 20
        ) as bar,
    ):
        while True:
            data = f.read(block)
            held = len(decoder.getstate()[0])  # the end of the last block: an incomplete character, decoded first
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as e:
                offset = done - held + e.start
                raise ValueError(
                    f"{path} is not UTF-8: byte {offset:,} is 0x{_byte_at(path, offset):02x} ({e.reason}); convert "
                    f"it first (e.g. iconv -f latin1 -t utf-8); nothing was written"
                ) from None
            if not data:
                return
            done += len(data)
            bar.update(len(data))


def _byte_at(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(1)[0]


def shard_documents(data_dir: Path, manifest: dict, tok, skip: int = 0) -> Iterator[str]:
    """Decode a shard directory back into its documents (split at end-of-text tokens, joined across shard
    boundaries), after the first `skip`."""
    eot, pending = manifest["eot_token"], None  # pending: pieces of the document being assembled
    for s in manifest["shards"]:
        if skip and skip >= s["docs"]:  # every document starting here is skipped
            skip -= s["docs"]
            continue
        mm = open_shard(data_dir, s, manifest["dtype"])
        starts = np.flatnonzero(np.asarray(mm) == eot)[skip:]
        skip = 0
        if pending is not None:  # the head of this shard continues the pending document
            pending.append(mm[: starts[0] if len(starts) else len(mm)])
        for a, b in zip(starts.tolist(), np.append(starts[1:], len(mm)).tolist()):
            if pending is not None:
                yield tok.decode(np.concatenate(pending)[1:].tolist())
            pending = [mm[a:b]]
    if pending is not None:
        yield tok.decode(np.concatenate(pending)[1:].tolist())


def file_bytes(dataset: str) -> int | None:
    """Size on disk of a local source, for the progress bar (None for the hub)."""
    p = Path(dataset)
    if p.is_file():
        return p.stat().st_size
    if p.is_dir():
        return sum(f.stat().st_size for f in p.iterdir() if f.is_file())
    return None


# ----------------------------------------------------------------------------------------------------------------
# tokenize and write


@dataclass
class Source:
    """Where documents come from: documents(skip) yields them after the first `skip`; settings name the source."""

    documents: Callable[[int], Iterable[str]]
    settings: dict
    total_bytes: int | None = None
    identity: dict | None = None  # what the source is now (sizes and mtimes, a manifest's hash): a resume compares it
    check: Callable[[], None] = lambda: None  # raises on a source that cannot be read to the end (run before writing)


def encode_batches(tok, docs: Iterable[str], workers: int) -> Iterator[tuple[str, np.ndarray | list[int]]]:
    """(text, ids) per document, encoded in parallel a batch of several MB at a time. A bpe tokenizer's ids are views
    of one numpy array per batch (encode_ordinary_batch_to_numpy: no Python int per token); tiktoken's are lists."""
    numpy_batches = NUMPY_BATCHES and hasattr(tok, "encode_ordinary_batch_to_numpy")
    it = iter(docs)
    while True:
        batch, size = [], 0
        for text in it:
            batch.append(text)
            size += len(text)
            if size >= BATCH_BYTES or len(batch) >= BATCH_DOCS:
                break
        if not batch:
            return
        if not numpy_batches:
            yield from zip(batch, tok.encode_ordinary_batch(batch, num_threads=workers))
            continue
        ids, offsets = tok.encode_ordinary_batch_to_numpy(batch, num_threads=workers)
        bounds = offsets.tolist()  # one list per batch, not per document
        yield from ((text, ids[a:b]) for text, a, b in zip(batch, bounds, bounds[1:]))


def prepare(
    source: Source,
    tokenizer: str,
    out: str | Path,
    shard_tokens: int,
    workers: int | None = None,
    max_tokens: int | None = None,
    dtype: str = "auto",
) -> dict:
    """Tokenize the source's documents into shards of shard_tokens tokens under OUT (resuming what is there).

    Documents flow into shards back to back: a document that does not fit is continued in the next shard (a shard's
    `docs` counts the documents starting in it, its `bytes` the UTF-8 bytes its tokens decode to, end-of-text tokens
    excluded). Each shard entry records where the next one starts (next_doc, next_offset), which is all a resumed run
    needs. --max-tokens cuts the stream at exactly that many tokens."""
    if shard_tokens < 2:
        raise ValueError(f"--shard-tokens must be at least 2, got {shard_tokens}")
    out = Path(out)
    tok = load_tokenizer(tokenizer)
    dtype = dtype_for_vocab(tok.n_vocab, dtype)
    tok_hash = tokenizer_hash(tokenizer, tok)
    settings = {
        **source.settings,
        "tokenizer": tokenizer,
        "shard_tokens": shard_tokens,
        "max_tokens": max_tokens,
        "dtype": dtype,
    }
    manifest = {
        "tokenizer": tokenizer,
        "tokenizer_hash": tok_hash,
        "dtype": dtype,
        "eot_token": tok.eot_token,
        "vocab_size": tok.n_vocab,
        "settings": settings,
        "source": source.identity,
        "complete": False,
        "shards": [],
    }
    if (out / MANIFEST).exists():
        manifest = _resume(out, manifest)
        _check_no_foreign_shards(out, manifest)
        _remove_stale_temps(out)
        if manifest["complete"]:
            print(f"{out}: already complete ({len(manifest['shards'])} shards), nothing to do")
            return manifest
    else:
        _check_no_foreign_shards(out, None)
        source.check()  # a source that fails half-way must fail before the first write
        _remove_stale_temps(out)
    shards = manifest["shards"]
    doc, offset = (shards[-1]["next_doc"], shards[-1]["next_offset"]) if shards else (0, 0)
    done = sum(s["tokens"] for s in shards)  # tokens in finished shards
    limit = max_tokens if max_tokens is not None else float("inf")
    workers = workers or os.cpu_count() or 1
    max_id = np.iinfo(DTYPES[dtype]).max
    bar = tqdm(
        total=source.total_bytes,
        initial=sum(s["bytes"] for s in shards),
        unit="B",
        unit_scale=True,
        desc=f"tokenizing with {tokenizer}",
        delay=1,  # no bar for a run (or an error) within a second: its output stays one line
        dynamic_ncols=True,
    )
    parts: list[np.ndarray] = []
    ntok = ndocs = nbytes = 0

    def flush(next_doc: int, next_offset: int) -> None:
        nonlocal parts, ntok, ndocs, nbytes, done
        i = len(shards)
        split = "val" if i == 0 else "train"
        entry = {
            "file": f"{split}_{i:05d}.bin",
            "split": split,
            "tokens": ntok,
            "docs": ndocs,
            "bytes": nbytes,
            "next_doc": next_doc,
            "next_offset": next_offset,
        }
        out.mkdir(parents=True, exist_ok=True)
        shards.append(entry)
        write_manifest(out, manifest)  # first: a shard file is always listed (a resume rewrites one that is missing)
        write_shard(out / entry["file"], np.concatenate(parts), ndocs, nbytes, tok_hash)
        done += ntok
        parts, ntok, ndocs, nbytes = [], 0, 0, 0
        bar.set_postfix(shards=len(shards), tokens=f"{done:,}")

    for text, ids in encode_batches(tok, source.documents(doc), workers):
        if done + ntok >= limit:
            break
        if not isinstance(ids, np.ndarray):
            ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and ids.max() > max_id:
            raise ValueError(
                f"tokenizer {tokenizer} produced id {ids.max()}, which does not fit {dtype}: use "
                f"--dtype uint32 (the shard in progress was not written)"
            )
        tokens = np.empty(len(ids) + 1, dtype=DTYPES[dtype])  # [eot] + ids
        tokens[0], tokens[1:] = tok.eot_token, ids
        text_bytes = len(text.encode("utf-8"))
        pos, offset = offset, 0  # a resumed run skips the tokens of this document already written
        while pos < len(tokens) and done + ntok < limit:
            piece = tokens[pos : pos + int(min(shard_tokens - ntok, limit - done - ntok))]
            whole = pos == 0 and len(piece) == len(tokens)
            nbytes += text_bytes if whole else len(tok.decode_bytes(piece[1 if pos == 0 else 0 :].tolist()))
            ndocs += pos == 0
            parts.append(piece)
            ntok += len(piece)
            pos += len(piece)
            if ntok == shard_tokens:
                flush(doc + 1, 0) if pos == len(tokens) else flush(doc, pos)
        doc += 1
        bar.update(text_bytes)
    if ntok:
        flush(doc, 0)
    bar.close()
    if not shards:
        raise ValueError("the dataset holds no documents (empty, or only empty texts): nothing was written")
    manifest["complete"] = True
    write_manifest(out, manifest)
    if len(shards) == 1:
        print(f"warning: {out} holds a single shard, the val split, and no train split: lower --shard-tokens")
    return manifest


def _resume(out: Path, fresh: dict) -> dict:
    """The manifest already in OUT, checked to be from the same settings and the same source; from the first shard
    whose file is missing or damaged on, shards are dropped from it, to be written again."""
    try:
        old = read_manifest(out, allow_incomplete=True, check_shards=False)
    except ValueError as e:
        raise ValueError(
            f"{out / MANIFEST} was not written by prepare.py ({e}): use another --out (nothing was changed)"
        ) from None
    for key in ("settings", "tokenizer_hash"):
        if old.get(key) != fresh[key]:
            raise ValueError(
                f"{out} holds shards from other settings ({key}: {old.get(key)} != {fresh[key]}): use a "
                f"fresh --out (nothing was changed)"
            )
    _check_same_source(out, old.get("source", "unrecorded"), fresh["source"])
    for i in range(len(old["shards"])):
        try:
            check_shard(out, old, i)
        except (OSError, ValueError) as e:
            interrupted = i == len(old["shards"]) - 1 and not old.get("complete")  # listed, then killed mid-write
            print(f"resuming at shard {i}" if interrupted else f"rewriting from shard {i} on: {e}")
            old["shards"], old["complete"] = old["shards"][:i], False
            break
    return old


def _check_same_source(out: Path, old: dict | str | None, new: dict | None) -> None:
    """Refuse to resume (or call complete) shards of a source that changed since they were written."""
    if old == "unrecorded":
        print(f"warning: {out / MANIFEST} records no source identity (an older prepare.py): not checked")
    elif old != new:
        raise ValueError(
            f"{out} was made from another version of the source (then: {_describe(old)}; now: {_describe(new)}): "
            f"use a fresh --out, or restore the source (nothing was changed)"
        )


def _describe(identity: dict | None) -> str:
    if not identity:
        return "unknown"
    if "files" in identity:
        return f"{len(identity['files'])} files, {sum(size for size, _ in identity['files'].values()):,} bytes"
    if "manifest_sha256" in identity:
        return f"manifest sha256 {identity['manifest_sha256'][:12]}"
    return f"{identity['size']:,} bytes, mtime_ns {identity['mtime_ns']}"


def _check_no_foreign_shards(out: Path, manifest: dict | None) -> None:
    """A shard-named file in OUT that the manifest does not list is another run's (or a user's): refuse to replace
    it. One that carries this run's tokenizer hash is ours (a rewrite from a damaged shard on left it behind)."""
    if not out.is_dir():
        return
    listed = {s["file"] for s in manifest["shards"]} if manifest else set()
    for path in sorted(out.iterdir()):
        if not SHARD_NAME.fullmatch(path.name) or path.name in listed:
            continue
        if manifest is not None:
            try:
                if read_header(path)["tokenizer_hash"] == manifest["tokenizer_hash"]:
                    continue
            except (OSError, ValueError):
                pass
        raise ValueError(
            f"{path} is in --out but no prepare.py manifest there lists it: use another --out, or move it away "
            f"(nothing was changed)"
        )


def _remove_stale_temps(out: Path) -> None:
    """Temp files of a killed prepare.py (only ours: --out may be a folder other tools write into too)."""
    stale = remove_stale_temps(out, OUR_FILES) if out.is_dir() else []
    if stale:
        print(f"removed {len(stale)} temp file(s) left by an interrupted run: {', '.join(p.name for p in stale)}")


OUR_FILES = re.compile(r"manifest\.json|(val|train)_\d{5}\.bin")


def file_identity(path: Path) -> dict:
    """A local source's identity: size and mtime of the file, or of each data file of a folder."""
    if path.is_dir():
        return {"files": {f.name: [(st := f.stat()).st_size, st.st_mtime_ns] for f in _data_files(path)}}
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _data_files(folder: Path) -> list[Path]:
    """The files load_hf_dataset reads from a folder: every .parquet, else every .jsonl, else every .json."""
    return sorted(folder.glob("*.parquet")) or sorted(folder.glob("*.jsonl")) or sorted(folder.glob("*.json"))


# ----------------------------------------------------------------------------------------------------------------
# the two sources


def dataset_source(dataset: str, subset: str | None = None) -> Source:
    """The documents of fineweb-edu (from the hub) or of a local .txt/.jsonl/.parquet file or folder."""
    if dataset != "fineweb-edu":
        p = Path(dataset)
        if not p.exists():
            raise FileNotFoundError(f"{p} not found: give --dataset fineweb-edu or a .txt, .jsonl or .parquet path")
        if p.is_file() and p.suffix not in (".txt", ".jsonl", ".json", ".parquet"):
            raise ValueError(f"{p}: unknown file type {p.suffix!r}: use .txt, .jsonl or .parquet")
    if dataset.endswith(".txt"):
        documents = lambda skip: txt_documents(Path(dataset), skip)  # noqa: E731
    else:
        ds = load_hf_dataset(dataset, subset)
        documents = lambda skip: hf_documents(ds, skip)  # noqa: E731
    if dataset == "fineweb-edu":  # streamed from the hub: no identity to record beyond the name and subset
        return Source(documents, {"dataset": dataset, "subset": subset}, None)
    path = Path(dataset)
    text_files = [f for f in (_data_files(path) if path.is_dir() else [path]) if f.suffix in (".txt", ".jsonl")]
    return Source(
        documents,
        {"dataset": str(path.resolve()), "subset": None},
        file_bytes(dataset),
        file_identity(path),
        lambda: _check_all_utf8(text_files),
    )


def _check_all_utf8(files: list[Path]) -> None:
    for f in files:
        check_utf8(f)


def reencode_source(from_dir: str | Path) -> Source:
    """The documents of an existing shard directory, decoded with its own tokenizer."""
    from_dir = Path(from_dir)
    src = read_manifest(from_dir)
    src_tok = load_tokenizer(src["tokenizer"])
    return Source(
        lambda skip: shard_documents(from_dir, src, src_tok, skip),
        {"reencode": str(from_dir.resolve()), "from_tokenizer_hash": src["tokenizer_hash"]},
        sum(s["bytes"] for s in src["shards"]),
        {"manifest_sha256": file_digest(from_dir / MANIFEST, "sha256")},  # it lists every shard's size and bytes
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, each checked here (a bad one: one line naming it and exit 2, before any work)."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # input: a dataset, or shards to re-tokenize
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="fineweb-edu, or a .txt/.jsonl/.parquet file (or a folder of them)")
    src.add_argument("--reencode", metavar="FROM_DIR", help="re-tokenize this shard directory's documents")
    p.add_argument("--subset", default="sample-10BT", help="FineWeb-Edu config (sample-10BT, sample-100BT, ...)")
    # tokenizer and shards
    p.add_argument("--tokenizer", default="gpt2", help=f"{' | '.join(TIKTOKEN_NAMES)} | PATH.model")
    p.add_argument(
        "--shard-tokens",
        type=count_at_least(2),
        default=None,
        help="tokens per shard, K/M/B suffixes (default 100M; with --reencode: FROM_DIR's)",
    )
    p.add_argument(
        "--max-tokens", type=count_at_least(1), default=None, help="stop after exactly this many tokens (K/M/B)"
    )
    p.add_argument("--dtype", default="auto", choices=["auto", "uint16", "uint32"])
    p.add_argument("--out", required=True, help="output directory (rerun the same command to resume)")
    p.add_argument("--workers", type=positive_int, default=None, help="tokenizer threads (default: all cores)")
    args = p.parse_args(argv)
    if problem := _path_problem(args):
        p.error(problem)
    return args


def _path_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the path flags (None: nothing), in argparse's words."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return f"argument --out: {out} is a file: give a folder (new, or one prepare.py is resuming)"
    if args.reencode:
        if not (Path(args.reencode) / MANIFEST).is_file():
            return f"argument --reencode: {args.reencode} holds no {MANIFEST}: give a folder prepare.py wrote"
        if Path(args.reencode).resolve() == out.resolve():
            return "--reencode FROM_DIR and --out must differ (the source would be overwritten)"
    elif args.dataset != "fineweb-edu":
        path = Path(args.dataset)
        if not path.exists():
            return f"argument --dataset: {path} not found: give fineweb-edu or a .txt, .jsonl or .parquet file"
        if path.is_dir() and not _data_files(path):
            return f"argument --dataset: {path} holds no .parquet or .jsonl files: give a file or such a folder"
        if path.is_file() and path.suffix not in TEXT_SUFFIXES:
            return f"argument --dataset: {path}: unknown file type {path.suffix!r}: use .txt, .jsonl or .parquet"
    tok = Path(args.tokenizer)
    if args.tokenizer not in TIKTOKEN_NAMES:
        if tok.suffix != ".model":
            return f"argument --tokenizer: {args.tokenizer!r} is neither {', '.join(TIKTOKEN_NAMES)} nor a .model file"
        if not tok.is_file():
            return f"argument --tokenizer: {tok} is not a file: train one with `python bpe/train.py --out PREFIX`"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shard_tokens = args.shard_tokens or parse_count("100M")
    if args.reencode:
        source = reencode_source(args.reencode)
        if args.shard_tokens is None:
            shard_tokens = read_manifest(args.reencode)["settings"]["shard_tokens"]
    else:
        source = dataset_source(args.dataset, args.subset)
    m = prepare(
        source,
        args.tokenizer,
        args.out,
        shard_tokens,
        workers=args.workers,
        max_tokens=args.max_tokens,
        dtype=args.dtype,
    )
    tokens = sum(s["tokens"] for s in m["shards"])
    print(
        f"{args.out}: {len(m['shards'])} shards, {tokens:,} tokens ({m['dtype']}), "
        f"{sum(s['docs'] for s in m['shards']):,} documents, {sum(s['bytes'] for s in m['shards']):,} bytes"
    )
    return 0


if __name__ == "__main__":
    run(main)
