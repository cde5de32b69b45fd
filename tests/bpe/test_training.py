"""Trainer chain: naive (textbook oracle) == optimized Python == Rust, merge for merge, ties and specials included."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpe_rs
from bpe import Tokenizer
from bpe.patterns import CL100K_PATTERN, GPT2_PATTERN
from bpe.training import count_pretokens, count_pretokens_file, train_fast, train_naive
from testutil import corpus_file

EOT = "<|endoftext|>"


def three_trainers(text, vocab_size, pattern=GPT2_PATTERN, specials=()):
    naive = train_naive(text, vocab_size, pattern, specials)
    fast = Tokenizer.train(text, vocab_size, pattern, specials, trainer="python").merges
    rust = Tokenizer.train(text, vocab_size, pattern, specials, trainer="rust").merges
    return naive, fast, rust


def test_hand_computed_tie_rule():
    # "aaab aaab": (a,a) has 4; then (aa,a) and (a,b) both have 2: b"aa" > b"a" so (aa,a) wins; then ...
    naive, fast, rust = three_trainers("aaab aaab", 259)
    assert naive == [(97, 97), (256, 97), (257, 98)]
    assert fast == naive and rust == naive


@pytest.mark.parametrize("vocab_size", [300, 512])
@pytest.mark.parametrize("pattern", [GPT2_PATTERN, CL100K_PATTERN], ids=["gpt2", "cl100k"])
def test_chain_on_tiny_shakespeare(vocab_size, pattern):
    text = corpus_file("tinyshakespeare.txt").read_text()[:30_000]
    naive, fast, rust = three_trainers(text, vocab_size, pattern)
    assert len(naive) == vocab_size - 256
    assert fast == naive
    assert rust == naive


def test_chain_on_multilingual_with_special_tokens():
    text = corpus_file("multilingual.txt").read_text()[:40_000]
    assert EOT in text
    naive, fast, rust = three_trainers(text, 400, GPT2_PATTERN, [EOT])
    assert fast == naive and rust == naive
    tok = Tokenizer.from_merges(rust, [EOT])
    assert tok.special_tokens == {EOT: 256 + len(rust)}
    # the special token's bytes never became a merge: "<|" is common in the text but only inside specials
    assert all(b"<|endoftext" not in tok.token_bytes(i) for i in range(256, 256 + len(rust)))


@given(text=st.text(alphabet=st.sampled_from(list("ab c\n")), max_size=60), extra=st.integers(1, 30))
@settings(max_examples=60, deadline=None)
def test_chain_on_generated_text_full_of_ties(text, extra):
    # The engines directly: the Tokenizer refuses corpora with nothing to merge, which generated text can be.
    naive = train_naive(text, 256 + extra)
    assert train_fast(text, 256 + extra) == naive
    assert bpe_rs.train(text, None, extra, GPT2_PATTERN, [], 0, None)[0] == naive


def test_parallel_file_counting_equals_one_process(tmp_path):
    text = corpus_file("multilingual.txt", any_text=True).read_text()[:400_000]
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    assert count_pretokens_file(path, GPT2_PATTERN, [EOT], workers=2) == count_pretokens(text, GPT2_PATTERN, [EOT])
    by_path = Tokenizer.train(path=path, vocab_size=500, special_tokens=[EOT], trainer="rust", workers=2)
    by_text = Tokenizer.train(text, vocab_size=500, special_tokens=[EOT], trainer="python")
    assert by_path.merges == by_text.merges
    assert by_path.unique_pretokens == len(count_pretokens(text, GPT2_PATTERN, [EOT]))


def test_bad_training_input_gets_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="too small"):
        Tokenizer.train("hello", vocab_size=256, special_tokens=[EOT])
    with pytest.raises(ValueError, match="empty"):
        Tokenizer.train("", vocab_size=300)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café olé ".encode("latin-1") * 10)
    for trainer in ("rust", "python"):
        with pytest.raises(ValueError, match="not UTF-8"):
            Tokenizer.train(path=bad, vocab_size=300, trainer=trainer)
    with pytest.raises((FileNotFoundError, OSError), match="missing.txt"):
        Tokenizer.train(path=tmp_path / "missing.txt", vocab_size=300)


def test_train_fast_from_text_equals_naive_small():
    text = "low lower lowest newer wider " * 5
    assert train_fast(text, 280) == train_naive(text, 280)
