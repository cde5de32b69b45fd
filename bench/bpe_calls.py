"""Where Python's share of a call goes when bpe-rs encodes many small documents.

    python bench/bpe_calls.py               # 15 rounds, ~1 minute on 2 cores (the figures in bpe/README.md)

bench/bpe_encode.py's "8 KB documents" rows run 6-27% below bpe-rs's whole-text speed (093cff5, 01d3501, e0cb523), while
the Rust loop alone (bpe-rs/examples/encode_speed.rs) encodes ~8 KB pieces of the text as fast as the whole text. This
table splits the difference: the whole text in one call against one call per ~8 KB document, returning lists of Python
ints against numpy arrays, with Python's cycle collector on (as in bpe_encode.py and in a caller's program) and off. A
round keeps each call's output until the call returns, then frees it (timed, as bpe_encode.py does). Every output is
checked equal to tiktoken's ids first; every run is a first pass (`clear_cache()`); the cases of a corpus are timed in
interleaved rounds (common.interleaved_medians), so a slow minute on a shared VM slows all of them alike.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from bpe_encode import DOC_CHARS, TEN_MB, batch_pieces, map_list

from common import corpus_slice, interleaved_medians, machine, markdown_table
from scratch.cli import ArgumentParser, positive_int, run

# (label, file in ../shared/data, bytes read, ranks): English where most pieces are tokens, and the multilingual file
# with the ranks where bpe-rs is furthest from its goal against tiktoken.
CORPORA = [
    ("gutenberg 10 MB", "gutenberg-en.txt", TEN_MB, "cl100k_base"),
    ("multilingual 12 MB", "multilingual.txt", None, "o200k_base"),
]


def collector_off(fn: Callable[[], object]) -> Callable[[], object]:
    """fn with Python's cycle collector off while it runs (and its output is freed)."""

    def run() -> None:
        gc.disable()
        try:
            fn()
        finally:
            gc.enable()

    return run


def outputs(tok, text: str, docs: list[str]) -> dict[str, Callable[[], object]]:
    """{call, output: encode}: the whole text and the documents, each to lists and to numpy."""

    def to_numpy(t: str):
        return tok.encode_to_numpy(t, disallowed_special=())

    return {
        "whole text, list": lambda: tok.encode_ordinary(text),
        "whole text, numpy": lambda: to_numpy(text),
        "8 KB documents, lists": lambda: map_list(tok.encode_ordinary, docs),
        "8 KB documents, numpy": lambda: map_list(to_numpy, docs),
    }


def plain(out) -> list:
    """An output as plain lists of ints (numpy arrays, and lists of them, become lists)."""
    if hasattr(out, "tolist"):
        return out.tolist()
    return [a if isinstance(a, int) else plain(a) for a in out]


def check(found: dict[str, Callable[[], object]], want_text: list[int], want_docs: list[list[int]]) -> None:
    """Every output's ids equal tiktoken's, or the bench stops."""
    for name, fn in found.items():
        want = want_text if name.startswith("whole text") else want_docs
        assert plain(fn()) == want, f"bpe-rs's ids ({name}) differ from tiktoken's"


def call_cases(found: dict[str, Callable[[], object]]) -> dict[str, Callable[[], object]]:
    """Each output with the collector on and off."""
    cases = {}
    for name, fn in found.items():
        cases[f"{name}, collector on"] = fn
        cases[f"{name}, collector off"] = collector_off(fn)
    return cases


def bench_corpus(label: str, text: str, name: str, runs: int) -> list[list[object]]:
    """Table rows (corpus, ranks, call, output, collector, ms, MB/s, time vs the whole text to a list)."""
    import tiktoken

    from bpe import Tokenizer

    tok, tik = Tokenizer.from_tiktoken(name), tiktoken.get_encoding(name)
    docs = batch_pieces(text, DOC_CHARS)
    found = outputs(tok, text, docs)
    check(found, tik.encode_ordinary(text), [tik.encode_ordinary(d) for d in docs])
    cases = call_cases(found)
    secs = interleaved_medians({case: (fn, tok.clear_cache) for case, fn in cases.items()}, runs)
    base, nbytes = secs["whole text, list, collector on"], len(text.encode("utf-8"))
    rows = []
    for case, s in secs.items():
        call, output, collector = case.split(", ")
        rows.append(
            [label, name, call, output, collector, f"{s * 1e3:.1f}", f"{nbytes / s / 1e6:.1f}", f"{s / base:.2f}x"]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=positive_int, default=15, help="interleaved rounds; medians are reported")
    args = p.parse_args(argv)
    rows = []
    for label, file, max_bytes, name in CORPORA:
        rows += bench_corpus(label, corpus_slice(file, max_bytes), name, args.runs)
    header = ["corpus", "ranks", "call", "output", "collector", "ms (median)", "MB/s", "time vs whole text, list"]
    print(f"# Where a call's time goes in Python (bpe-rs, {machine()}, 1 thread, each run a first pass)\n")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    run(main)
