"""The Tokenizer: tiktoken's interface and special-token rules over our BPE, with a Rust or pure-Python engine.

    >>> tok = Tokenizer.train("hello hello world<|endoftext|>", vocab_size=262, special_tokens=["<|endoftext|>"])
    >>> ids = tok.encode("hello<|endoftext|>", allowed_special="all")
    >>> tok.decode(ids)
    'hello<|endoftext|>'
    >>> Tokenizer.from_tiktoken("gpt2").encode("hello world")   # needs tiktoken's cache or network
    [31373, 995]

This module owns the API, the special-token policy and the errors (as tiktoken's core.py does); the engines only
split and merge. `backend="rust"` (default) runs bpe-rs; `backend="python"` runs encoding.py, the readable oracle.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import tiktoken
from tqdm.auto import tqdm

import bpe_rs

from . import formats, training
from .chunking import find_safe_cut
from .encoding import bpe_encode, ranks_from_merges
from .patterns import GPT2_PATTERN, pretokenize, resolve_pattern, special_regex, split_special

AllowedSpecial = Literal["all"] | Collection[str]
Backend = Literal["rust", "python"]
Pair = tuple[int, int]
# Ids may leave gaps (cl100k_base has no id 100256) but no id lies further than this past the number of tokens: the
# engines keep an id -> token table as long as the largest id, so a stray 4,000,000,000 must never reach them.
# bpe-rs/src/encode.rs has the same bound.
MAX_ID_GAP = 1 << 16


class Tokenizer:
    """A byte-level BPE tokenizer: mergeable ranks (token bytes -> id), special tokens, and a split pattern."""

    def __init__(
        self,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int] | None = None,
        pattern: str = GPT2_PATTERN,
        name: str = "bpe",
        merges: Sequence[Pair] | None = None,
        backend: Backend = "rust",
    ):
        self.mergeable_ranks = dict(mergeable_ranks)
        self.special_tokens = dict(special_tokens or {})
        self.pattern = resolve_pattern(pattern)
        self.name = name
        self.merges = list(merges) if merges is not None else None
        self.unique_pretokens: int | None = None  # set by train(): distinct pre-tokens in the corpus
        self._validate()
        self._decoder = {i: t for t, i in self.mergeable_ranks.items()}
        self._decoder.update({i: s.encode("utf-8") for s, i in self.special_tokens.items()})
        self.backend = backend
        self._engine = _rust_engine(self) if backend == "rust" else None
        if backend not in ("rust", "python"):
            raise ValueError(f"unknown backend {backend!r}: use 'rust' (fast, default) or 'python' (the reference)")

    def _validate(self) -> None:
        """Checked here, before anything reaches the Rust engine (which checks the id bound again)."""
        limit = len(self.mergeable_ranks) + len(self.special_tokens) + MAX_ID_GAP
        for kind, items in (("token", self.mergeable_ranks.items()), ("special token", self.special_tokens.items())):
            for token, i in items:
                if type(i) is not int or not 0 <= i < limit:
                    raise ValueError(
                        f"{kind} {token!r} has id {i!r}: ids must be integers in 0..{limit - 1} (one per token, "
                        f"plus at most {MAX_ID_GAP:,} unused ids)"
                    )
        if len(set(self.mergeable_ranks.values())) != len(self.mergeable_ranks):
            raise ValueError("two ordinary tokens have the same id")
        if not all(isinstance(s, str) and s for s in self.special_tokens):
            raise ValueError("special tokens must be non-empty strings")
        missing = [b for b in range(256) if bytes([b]) not in self.mergeable_ranks]
        if missing:
            raise ValueError(f"byte-level BPE needs all 256 single bytes in the vocabulary; missing {missing[:5]}...")
        clash = set(self.special_tokens.values()) & set(self.mergeable_ranks.values())
        if clash:
            raise ValueError(f"special token ids {sorted(clash)[:5]} are also used by ordinary tokens")

    # ------------------------------------------------------------------------------------------ constructors
    @classmethod
    def from_merges(
        cls,
        merges: Sequence[Pair],
        special_tokens: Sequence[str] | dict[str, int] = (),
        pattern: str = GPT2_PATTERN,
        name: str = "bpe",
        backend: Backend = "rust",
    ) -> Tokenizer:
        """Ids 0..255 are bytes, 256 + i is merge i; special tokens follow unless given ids."""
        ranks = ranks_from_merges(merges)
        if not isinstance(special_tokens, dict):
            special_tokens = {s: len(ranks) + i for i, s in enumerate(special_tokens)}
        return cls(ranks, special_tokens, pattern, name, merges, backend)

    @classmethod
    def train(
        cls,
        text: str | None = None,
        vocab_size: int = 512,
        pattern: str = GPT2_PATTERN,
        special_tokens: Sequence[str] = (),
        path: str | os.PathLike | None = None,
        trainer: Literal["rust", "python", "naive"] = "rust",
        workers: int | None = None,
        progress: bool = False,
        name: str = "bpe",
    ) -> Tokenizer:
        """Train on a string or a file. All three trainers give the same merges (tests/bpe/test_training.py)."""
        if text is None and path is None:
            raise ValueError("nothing to train on: pass a text or a path")
        num_merges = training.num_merges_for(vocab_size, special_tokens)
        if trainer == "rust":
            callback = _tqdm_callback() if progress else None
            merges, unique = _call_rust(
                bpe_rs.train,
                text,
                None if path is None else str(path),
                num_merges,
                resolve_pattern(pattern),
                list(special_tokens),
                workers or 0,
                callback,
            )
        elif trainer == "python":
            counts = (
                training.count_pretokens(text, pattern, special_tokens)
                if path is None
                else training.count_pretokens_file(path, pattern, special_tokens, workers)
            )
            merges, unique = training.train_counts(counts, num_merges, progress), len(counts)
        elif trainer == "naive":
            if text is None:
                text = training.decode_utf8(Path(path).read_bytes(), path)
            merges, unique = training.train_naive(text, vocab_size, pattern, special_tokens), None
        else:
            raise ValueError(f"unknown trainer {trainer!r}: use 'rust', 'python' or 'naive'")
        if not merges and num_merges > 0:
            raise ValueError("the corpus is empty (or has no pair of bytes to merge): train on some text")
        tok = cls.from_merges(merges, special_tokens, pattern, name)
        tok.unique_pretokens = unique
        return tok

    @classmethod
    def from_tiktoken(cls, encoding, backend: Backend = "rust") -> Tokenizer:
        """Run a tiktoken Encoding (or its name: gpt2, r50k_base, cl100k_base, o200k_base) through our engine."""
        if isinstance(encoding, str):
            encoding = tiktoken.get_encoding(encoding)
        return cls(
            encoding._mergeable_ranks, encoding._special_tokens, encoding._pat_str, encoding.name, backend=backend
        )

    @classmethod
    def load(cls, path: str | os.PathLike, backend: Backend = "rust") -> Tokenizer:
        """Load our `.model` file, or a `minbpe v1` / `simple-bpe v1` one (formats.py reads it; we build)."""
        spec = formats.load_model(path)
        try:
            return cls(**spec, backend=backend)
        except ValueError as e:  # parsed, but not a tokenizer (a byte missing, an id used twice, a bad pattern)
            raise ValueError(f"{path} is malformed or truncated ({e}): re-save it or train again") from None

    def save(self, prefix: str | os.PathLike) -> Path:
        """Write PREFIX.model (for load) and PREFIX.vocab (for people); returns the .model path."""
        return formats.save_model(
            prefix, self.mergeable_ranks, self.special_tokens, self.pattern, self.name, self.merges
        )

    # ------------------------------------------------------------------------------------------ properties
    @functools.cached_property
    def n_vocab(self) -> int:
        return max(self._decoder) + 1

    @property
    def eot_token(self) -> int:
        try:
            return self.special_tokens["<|endoftext|>"]
        except KeyError:
            raise AttributeError(f"tokenizer {self.name!r} has no <|endoftext|> special token") from None

    @property
    def special_tokens_set(self) -> set[str]:
        return set(self.special_tokens)

    @property
    def cached_pieces(self) -> int:
        """Pieces (pre-tokens that are no single token) whose merges the Rust engine remembers across calls.

        Merging is the slow path and such pieces recur from document to document, so the engine keeps their ids:
        at most bpe_rs.MAX_CACHED_PIECES per thread, forgotten all at once when full. The Python backend keeps none.
        """
        return self._engine.cached_pieces if self._engine is not None else 0

    @property
    def merge_algorithm(self) -> str:
        """How the engine merges a non-ASCII or long piece that is no single token: "backtracking"
        (bpe-rs/src/backtrack.rs; any vocabulary whose tokens each encode to themselves and outrank their parts, as
        trained ones do), "rank by rank" (tiktoken's loop, in Rust; short ASCII pieces always take it) or "python"
        (the reference backend)."""
        return self._engine.merge_algorithm if self._engine is not None else "python"

    def clear_cache(self) -> None:
        """Forget the remembered merges: to free their memory, or to time encoding as a first pass over a text."""
        if self._engine is not None:
            self._engine.clear_cache()

    def token_bytes(self, token: int) -> bytes:
        """The bytes of one token id (decode_single_token_bytes in tiktoken)."""
        try:
            return self._decoder[token]
        except (KeyError, TypeError):
            raise ValueError(f"token id {token!r} is not in the vocabulary (0..{self.n_vocab - 1})") from None

    decode_single_token_bytes = token_bytes

    # ------------------------------------------------------------------------------------------ encoding
    def encode_ordinary(self, text: str) -> list[int]:
        """Encode text, treating special-token strings as ordinary text."""
        if self._engine is not None:
            try:
                return self._engine.encode_ordinary(text)
            except UnicodeEncodeError:
                return self._engine.encode_ordinary(replace_surrogates(text))
        ids: list[int] = []
        for piece in pretokenize(replace_surrogates(text), self.pattern):
            ids.extend(bpe_encode(piece.encode("utf-8"), self.mergeable_ranks))
        return ids

    def encode(
        self, text: str, *, allowed_special: AllowedSpecial = frozenset(), disallowed_special: AllowedSpecial = "all"
    ) -> list[int]:
        """Encode text; allowed special tokens become their ids, disallowed ones raise (tiktoken's rules)."""
        allowed = self._allowed(text, allowed_special, disallowed_special)
        if not allowed:
            return self.encode_ordinary(text)
        text = replace_surrogates(text)
        if self._engine is not None:
            return self._engine.encode(text, sorted(allowed))
        ids: list[int] = []
        for part in split_special(text, allowed):
            ids.extend([self.special_tokens[part]] if part in allowed else self.encode_ordinary(part))
        return ids

    def _allowed(self, text: str, allowed_special: AllowedSpecial, disallowed_special: AllowedSpecial) -> set[str]:
        allowed = self.special_tokens_set if allowed_special == "all" else set(allowed_special)
        disallowed = self.special_tokens_set - allowed if disallowed_special == "all" else set(disallowed_special)
        if disallowed:
            rx = special_regex(disallowed)
            match = rx.search(text) if rx is not None else None
            if match:
                raise_disallowed_token(match.group())
        return allowed & self.special_tokens_set

    def encode_ordinary_batch(self, texts: Sequence[str], *, num_threads: int = 8) -> list[list[int]]:
        if self._engine is not None:
            try:
                return self._engine.encode_ordinary_batch(list(texts), num_threads)
            except UnicodeEncodeError:
                return self._engine.encode_ordinary_batch([replace_surrogates(t) for t in texts], num_threads)
        with ThreadPoolExecutor(num_threads) as pool:
            return list(pool.map(self.encode_ordinary, texts))

    def encode_ordinary_batch_to_numpy(
        self, texts: Sequence[str], *, num_threads: int = 8
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every text's ids in one array, and where each text's ids start: `(ids, offsets)`.

        Not in tiktoken. `ids` has `self.dtype` (uint16 when every id fits, as encode_to_numpy); `offsets` is int64,
        len(texts) + 1 long, and text i's ids are `ids[offsets[i]:offsets[i + 1]]` (a view). The Rust engine builds
        the array without a Python int or list per id or text: what a data pipeline wants from encode_ordinary_batch.

            >>> tok = Tokenizer.from_tiktoken("gpt2")   # needs tiktoken's cache or network
            >>> ids, offsets = tok.encode_ordinary_batch_to_numpy(["hello world", "", "hi"])
            >>> ids.tolist(), offsets.tolist(), ids.dtype
            ([31373, 995, 5303], [0, 2, 2, 3], dtype('uint16'))
            >>> ids[offsets[2] : offsets[3]].tolist() == tok.encode_ordinary("hi")
            True
        """
        if self._engine is not None:
            try:
                return self._engine.encode_ordinary_batch_to_numpy(list(texts), num_threads)
            except UnicodeEncodeError:
                texts = [replace_surrogates(t) for t in texts]
                return self._engine.encode_ordinary_batch_to_numpy(texts, num_threads)
        batch = self.encode_ordinary_batch(texts, num_threads=num_threads)
        offsets = np.zeros(len(batch) + 1, dtype=np.int64)
        np.cumsum([len(ids) for ids in batch], out=offsets[1:])
        ids = np.fromiter(itertools.chain.from_iterable(batch), dtype=self.dtype, count=int(offsets[-1]))
        return ids, offsets

    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        num_threads: int = 8,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[list[int]]:
        allowed = set()
        for text in texts:
            allowed |= self._allowed(text, allowed_special, disallowed_special)
        if self._engine is not None:
            return self._engine.encode_batch([replace_surrogates(t) for t in texts], sorted(allowed), num_threads)
        fn = functools.partial(self.encode, allowed_special=allowed, disallowed_special=())
        with ThreadPoolExecutor(num_threads) as pool:
            return list(pool.map(fn, texts))

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
        num_threads: int = 1,
    ) -> np.ndarray:
        """Token ids as a numpy array: uint16 when every id fits (n_vocab <= 65536), else uint32.

        `num_threads` (not in tiktoken; Rust engine only): other than 1 (0 = all cores), the text is cut at safe
        points (chunking.py's rule) and the chunks are encoded in parallel; the ids are the same.
        """
        allowed = self._allowed(text, allowed_special, disallowed_special)
        if self._engine is not None:
            return _call_rust(self._engine.encode_to_numpy, replace_surrogates(text), sorted(allowed), num_threads)
        return np.asarray(self.encode(text, allowed_special=allowed, disallowed_special=()), dtype=self.dtype)

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned dtype that holds every id."""
        return np.dtype(np.uint16 if self.n_vocab <= 1 << 16 else np.uint32)

    def encode_iterable(
        self,
        texts: Iterable[str] | str | os.PathLike,
        *,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
        chunk_chars: int = 1 << 20,
    ) -> Iterator[int]:
        """Stream ids from an iterable of strings (an open text file works) or a path, in bounded memory.

        Text is buffered up to a safe cut (chunking.py) so no pre-token straddles two chunks: the ids equal
        encode() of the whole concatenated text.
        """
        if isinstance(texts, (str, os.PathLike)):
            yield from self._encode_path(Path(texts), allowed_special, disallowed_special, chunk_chars)
            return
        specials = [s.encode() for s in self.special_tokens]
        buffer = ""
        for text in texts:
            buffer += text
            if len(buffer) < chunk_chars:
                continue
            data = buffer.encode("utf-8", "surrogatepass")
            cut = find_safe_cut(data, max(0, len(data) - chunk_chars // 2), specials)
            if cut is None:
                continue  # keep buffering until a safe cut appears
            head = data[:cut].decode("utf-8", "surrogatepass")
            buffer = data[cut:].decode("utf-8", "surrogatepass")
            yield from self.encode(head, allowed_special=allowed_special, disallowed_special=disallowed_special)
        if buffer:
            yield from self.encode(buffer, allowed_special=allowed_special, disallowed_special=disallowed_special)

    def _encode_path(self, path: Path, allowed_special, disallowed_special, chunk_chars: int) -> Iterator[int]:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: check the path")
        with open(path, encoding="utf-8", newline="") as f:
            try:
                yield from self.encode_iterable(
                    iter(lambda: f.read(chunk_chars), ""),
                    allowed_special=allowed_special,
                    disallowed_special=disallowed_special,
                    chunk_chars=chunk_chars,
                )
            except UnicodeDecodeError as e:
                raise ValueError(f"{path} is not UTF-8 text ({e.reason}); convert it first") from None

    # ------------------------------------------------------------------------------------------ decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Concatenated bytes of the tokens; an unknown id raises ValueError."""
        if isinstance(ids, np.ndarray):
            ids = ids.tolist()
        elif not isinstance(ids, list):
            ids = list(ids)  # a list goes to Rust as is: copying millions of ids would cost more than decoding
        if self._engine is not None:
            return _call_rust(self._engine.decode_bytes, ids)
        return b"".join(self.token_bytes(i) for i in ids)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Decode to text; bytes that are not valid UTF-8 become U+FFFD (errors='replace')."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def decode_batch(self, batch: Sequence[Sequence[int]], errors: str = "replace") -> list[str]:
        return [self.decode(ids, errors) for ids in batch]

    def __repr__(self) -> str:
        return f"<Tokenizer {self.name!r} n_vocab={self.n_vocab} specials={len(self.special_tokens)} {self.backend}>"


def replace_surrogates(text: str) -> str:
    """Lone surrogates (not encodable as UTF-8) become U+FFFD, as tiktoken does; other text is returned as is."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def raise_disallowed_token(token: str) -> None:
    """The error tiktoken raises, word for word, so that code written for tiktoken handles ours the same."""
    raise ValueError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        f"If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        f"To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


def _rust_engine(tok: Tokenizer):
    top = max(tok.mergeable_ranks.values(), default=0)
    if top >= bpe_rs.RANK_LIMIT:
        raise ValueError(
            f"token id {top} is too large for the Rust backend (ids below {bpe_rs.RANK_LIMIT}): "
            f"use backend='python' for this vocabulary"
        )
    return _call_rust(bpe_rs.Encoder, list(tok.mergeable_ranks.items()), tok.special_tokens, tok.pattern)


def _call_rust(fn, *args):
    """Call into bpe-rs; a Rust panic arrives as PanicException (a BaseException): make it an ordinary error."""
    try:
        return fn(*args)
    except (ValueError, OSError, TypeError):
        raise
    except BaseException as e:  # pyo3's PanicException derives from BaseException
        if type(e).__name__ == "PanicException":
            raise RuntimeError(f"bpe-rs failed internally ({e}); please report this with the input") from e
        raise


def _tqdm_callback():
    """A callback the Rust trainer calls with (phase, done) to drive tqdm bars."""
    bars: dict[str, tqdm] = {}

    def update(phase: str, done: int, phase_total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(
                total=phase_total or None, desc=phase, unit="merge" if phase == "merging" else "MB", leave=False
            )
        bar.update(done - bar.n)
        if phase_total and done >= phase_total:
            bar.close()

    return update
