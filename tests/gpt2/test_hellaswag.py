"""HellaSwag scoring on real validation examples, checked against a direct per-ending computation."""

import json

import pytest
import torch
import torch.nn.functional as F

from gpt2 import hellaswag
from gpt2.tokenizer import load_tokenizer
from testutil import require_tiktoken_cache, shared_file


@pytest.fixture(scope="module")
def examples():
    return list(hellaswag.iter_examples(shared_file("hellaswag_val.jsonl"), limit=100))


@pytest.fixture(scope="module")
def tok():
    require_tiktoken_cache()
    return load_tokenizer("gpt2")


@pytest.fixture(scope="module")
def model(tok):
    """The real GPT (tiny preset, seeded random weights): scoring must agree with the direct computation, whatever
    the weights."""
    from gpt2.model import GPT, GPTConfig

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matmuls on 2 shared cores
    yield GPT(GPTConfig.from_preset("tiny", vocab_size=tok.n_vocab, pos_emb="rope")).eval()
    torch.set_num_threads(threads)


def direct_mean_losses(model, tok, ex):
    """Mean NLL of each ending's tokens given the context, one unpadded sequence per ending."""
    ctx = tok.encode_ordinary(ex["ctx"])
    out = []
    for ending in ex["endings"]:
        end = tok.encode_ordinary(" " + ending)
        seq = torch.tensor([ctx + end])
        logp = F.log_softmax(model(seq)[0][0].double(), dim=-1)
        nll = [-logp[len(ctx) + j - 1, t].item() for j, t in enumerate(end)]
        out.append(sum(nll) / len(nll))
    return out


def test_render_example_rows_and_mask(examples, tok):
    ex = examples[0]
    tokens, mask, label = hellaswag.render_example(ex, tok)
    assert label == ex["label"] == 3 and tokens.shape[0] == 4 and tokens.shape == mask.shape
    for i, ending in enumerate(ex["endings"]):
        n = int(mask[i].sum())
        row = tokens[i, : int((mask[i].nonzero().max()) + 1)].tolist()
        assert tok.decode(row) == ex["ctx"] + " " + ending
        assert tok.decode(row[-n:]) == " " + ending  # the mask covers exactly the ending


def test_scoring_matches_direct_computation(examples, tok, model):
    for ex in examples[:6]:
        tokens, mask, _ = hellaswag.render_example(ex, tok)
        _, mean = hellaswag.ending_losses(model(tokens)[0], tokens, mask)
        direct = direct_mean_losses(model, tok, ex)
        assert mean.tolist() == pytest.approx(direct, rel=1e-4)
        _, pred_norm = hellaswag.predict(model, tokens, mask)
        assert pred_norm == min(range(4), key=direct.__getitem__)


def test_truncation_keeps_the_ending(examples, tok, model):
    ex = examples[2]
    full, fmask, _ = hellaswag.render_example(ex, tok)
    short, smask, _ = hellaswag.render_example(ex, tok, max_len=30)
    assert short.shape[1] <= 30
    for i in range(4):
        assert int(smask[i].sum()) == int(fmask[i].sum())
        n = int(fmask[i].sum())
        assert short[i][smask[i].bool()].tolist() == full[i][fmask[i].bool()].tolist()[:n]


def test_accuracy_on_100_examples_and_rank_split(examples, tok, model):
    counts = hellaswag.evaluate(model, tok, examples, block_size=model.config.block_size)
    r = hellaswag.accuracy(counts)
    assert r["n"] == 100 and 0.0 <= r["acc"] <= 1.0 and 0.0 <= r["acc_norm"] <= 1.0
    halves = [hellaswag.evaluate(model, tok, examples[:8], rank=k, world_size=2) for k in range(2)]
    whole = hellaswag.evaluate(model, tok, examples[:8])
    assert {k: halves[0][k] + halves[1][k] for k in whole} == whole


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / "h.jsonl"
    bad.write_text(json.dumps({"ctx": "a", "endings": ["b", "c"], "label": 0}) + "\n")
    with pytest.raises(ValueError, match="endings"):
        list(hellaswag.iter_examples(bad))
    with pytest.raises(FileNotFoundError, match="not found"):
        hellaswag.resolve_path(tmp_path / "missing.jsonl")
    good = tmp_path / "short.jsonl"
    good.write_text(json.dumps({"ctx": "a", "endings": ["b", "c", "d", "e"], "label": 0}) + "\n")
    with pytest.raises(ValueError, match="10042"):
        hellaswag.validate(good)


def test_shared_copy_is_the_validation_set():
    hellaswag.validate(shared_file("hellaswag_val.jsonl"))  # 10,042 well-formed examples


def test_download_checks_and_caches(tmp_path, monkeypatch):
    """download() through urllib (a file:// URL stands in for the official one, offline): checked, then cached."""
    src = shared_file("hellaswag_val.jsonl")
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "cache"))
    path = hellaswag.cached_val_file(url=src.as_uri())
    assert path.read_bytes() == src.read_bytes()
    assert hellaswag.cached_val_file(url="file:///nonexistent") == path  # the cache answers
    short = tmp_path / "short.jsonl"
    short.write_text("".join(src.read_text().splitlines(keepends=True)[:10]))
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "bad"))
    with pytest.raises(ValueError, match="has 10 examples"):
        hellaswag.cached_val_file(url=short.as_uri())
    assert not list((tmp_path / "bad").iterdir())  # nothing bad is left behind
    monkeypatch.setenv("BFS_CACHE", str(tmp_path / "none"))
    with pytest.raises(ConnectionError, match="local"):
        hellaswag.cached_val_file(url="file:///nonexistent/hellaswag_val.jsonl")
