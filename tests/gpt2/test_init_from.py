"""A context longer than the preset's (--block-size) and fine-tuning (--init-from): a run started from a checkpoint
scores, at step 0, exactly what the source scores on the same shards, with a fresh optimizer and schedule; the
refusals (another tokenizer, OpenAI's weights offline) are one line and exit 2; a stopped fine-tune resumes exactly."""

import json
from pathlib import Path

import pytest
import torch

from gpt2 import evaluate, hellaswag
from gpt2 import train as T
from gpt2.checkpoint import load_checkpoint, model_from_checkpoint
from gpt2.configs import resolve
from gpt2.distributed import Dist
from gpt2.evaluate import val_loss
from gpt2.model import GPT, GPTConfig
from gpt2.prepare import main as prepare
from gpt2.sample import load_sampler
from gpt2.tokenizer import load_tokenizer
from scratch.cli import UsageError, run
from testutil import gpt2_shards, tiny_run

CPU = Dist(device=torch.device("cpu"))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return gpt2_shards(tmp_path_factory.mktemp("shakespeare"))


@pytest.fixture(scope="module")
def small_val(tmp_path_factory):
    """The same text in shards of 4K tokens: a val split an eighth the size, for the CLI that scores all of it."""
    return gpt2_shards(tmp_path_factory.mktemp("shakespeare-4k"), shard_tokens="4K")


@pytest.fixture(scope="module")
def source(shards, tmp_path_factory):
    """A tiny learned-position run of 3 steps: the checkpoint fine-tunes start from."""
    return T.train(tiny_run(shards, tmp_path_factory.mktemp("src"), max_steps=3))


def records(run_dir, kind):
    with open(Path(run_dir) / "log.jsonl") as f:
        return [r for r in map(json.loads, f) if r["type"] == kind]


def fails_with(main, argv, capsys) -> str:
    """Run a CLI main as its script does; assert exit 2 with one line on stderr, and return that line."""
    with pytest.raises(SystemExit) as e:
        run(main, argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------------------------------ --block-size
@pytest.mark.parametrize("config, pos_emb", [("global-datafix", "learned"), ("rope", "rope")])
def test_block_size_above_the_presets_trains_and_loads(shards, tmp_path, config, pos_emb):
    cfg = tiny_run(
        shards, tmp_path, config, block_size=256, seq_len=160, micro_batch=2, total_batch_tokens=320, max_steps=2,
        eval_every=2, val_batches=4,
    )  # fmt: skip
    result = T.train(cfg)
    state = load_checkpoint(result.checkpoint)
    assert state["config"]["block_size"] == 256 and state["config"]["pos_emb"] == pos_emb
    model = model_from_checkpoint(state)
    if pos_emb == "learned":
        assert model.transformer.wpe.weight.shape == (256, 64)
    else:
        assert model.rotary.cos.shape == (256, 32)  # a table for every position, tiny's head size 32
    # evaluate: the saved model scores what the run measured at its last step (the same 4 val batches)
    loss = val_loss(model, shards, 2, 160, CPU, 4)
    assert loss == pytest.approx(result.last_eval["val_loss"], abs=1e-6)
    # sample: a 200-token prompt (past tiny's 128) through the KV cache gives what one full forward gives
    sampler, tok, _ = load_sampler(str(result.checkpoint))
    prompt = torch.randint(tok.n_vocab, (1, 200), generator=torch.Generator().manual_seed(0))
    cached = sampler.generate(prompt, 8, temperature=0)
    recomputed = sampler.generate(prompt, 8, temperature=0, use_cache=False)
    assert torch.equal(cached, recomputed)
    assert cached[0, 200].item() == sampler(prompt)[0][0, -1].argmax().item()


def test_seq_len_above_the_block_size_names_block_size(shards, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--seq-len 200 must be in 1\.\.128 \(the tiny block size\): pass --block"):
        resolve("rope", model="tiny", seq_len=200, micro_batch=1, total_batch_tokens=200).check()
    with pytest.raises(ValueError, match=r"--seq-len 300 must be in 1\.\.256 \(--block-size\)"):
        resolve("rope", model="tiny", block_size=256, seq_len=300, micro_batch=1, total_batch_tokens=300).check()
    argv = ["--model", "tiny", "--seq-len", "200", "--micro-batch", "1", "--total-batch-tokens", "200"]
    err = fails_with(T.main, [*argv, "--data", shards, "--out", str(tmp_path)], capsys)
    assert "--block-size 200" in err
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ --init-from
def test_fine_tune_starts_at_the_source_loss_with_a_fresh_optimizer(shards, source, tmp_path):
    cfg = tiny_run(
        shards, tmp_path, init_from=str(source.run_dir), model=None, max_steps=2, eval_every=2, val_batches=5,
        max_lr=1e-3, warmup_steps=4,
    )  # fmt: skip
    tuned = T.train(cfg)
    # the oracle: the source checkpoint, loaded on its own, scored by gpt2.evaluate on the same 5 val batches
    want = val_loss(model_from_checkpoint(load_checkpoint(source.checkpoint)), shards, 4, 32, CPU, 5)
    first = records(tuned.run_dir, "eval")[0]
    assert first["step"] == 0 and first["val_loss"] == pytest.approx(want, abs=1e-6)
    assert [r["lr"] for r in records(tuned.run_dir, "train")] == [1e-3 / 4, 2e-3 / 4]  # warmup from its start
    state = load_checkpoint(tuned.checkpoint)
    assert state["step"] == 2 and state["optimizer"]["state"][0]["step"].item() == 2  # not the source's 3 + 2
    assert state["config"] == load_checkpoint(source.checkpoint)["config"]
    header = records(tuned.run_dir, "config")[0]
    assert header["init_from"] == state["init_from"]
    assert header["init_from"]["checkpoint"] == str(source.checkpoint) and header["init_from"]["step"] == 3
    assert header["init_from"]["tokenizer"] == "gpt2" and len(header["init_from"]["tokenizer_hash"]) == 64


def test_fine_tune_refusals(shards, source, tmp_path, capsys):
    # the architecture comes from the source: --model / --block-size may not contradict it
    with pytest.raises(UsageError, match="--model gpt2 contradicts"):
        T.train(tiny_run(shards, tmp_path, init_from=str(source.checkpoint), model="gpt2"))
    with pytest.raises(UsageError, match="learned positions for 128 tokens only"):
        T.train(tiny_run(shards, tmp_path, init_from=str(source.checkpoint), model=None, block_size=256, seq_len=32))
    with pytest.raises(ValueError, match=r"--seq-len 200 must be in 1\.\.128 \(the block size of --init-from"):
        T.train(tiny_run(shards, tmp_path, init_from=str(source.checkpoint), model=None, seq_len=200, micro_batch=1,
                         total_batch_tokens=200))  # fmt: skip


def test_a_stopped_fine_tune_resumes_exactly(shards, source, tmp_path):
    """--init-from with --resume continues the fine-tune (the checkpoint's weights, optimizer and loader) to the
    result of an uninterrupted one; without --init-from the resume is refused, naming it."""
    settings = dict(init_from=str(source.run_dir), model=None, max_steps=4, max_lr=1e-3, warmup_steps=2)
    straight = T.train(tiny_run(shards, tmp_path / "straight", **settings))
    stopped = T.train(tiny_run(shards, tmp_path / "split", stop_at=2, **settings))
    assert stopped.stopped == "stop_at" and stopped.step == 2
    with pytest.raises(ValueError, match="init_from: checkpoint"):
        T.train(
            tiny_run(shards, tmp_path / "split", **{**settings, "init_from": None, "model": "tiny"}), resume="latest"
        )
    resumed = T.train(tiny_run(shards, tmp_path / "split", **settings), resume="latest")
    assert resumed.losses == straight.losses[2:]
    a, b = load_checkpoint(straight.checkpoint)["model"], load_checkpoint(resumed.checkpoint)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fine_tune_refuses_shards_of_another_tokenizer(source, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 300)
    other = tmp_path / "cl100k"
    prepare(["--dataset", str(text), "--tokenizer", "cl100k_base", "--shard-tokens", "1K", "--out", str(other)])
    argv = ["--init-from", str(source.run_dir), "--data", str(other), "--out", str(tmp_path / "runs")]
    err = fails_with(T.main, [*argv, "--hellaswag", "none", "--device", "cpu"], capsys)
    assert "trained with tokenizer gpt2" in err and "made with cl100k_base" in err
    assert not (tmp_path / "runs").exists()


def tiny_pretrained(name, **overrides):
    """Stands in for OpenAI's download: a seeded tiny GPT with GPT-2's architecture and vocabulary."""
    torch.manual_seed(0)
    return GPT(GPTConfig.from_preset("tiny", vocab_size=50257, **overrides))


def offline(name, **overrides):
    raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them cached")


def test_fine_tune_from_openai_weights(shards, tmp_path, monkeypatch):
    monkeypatch.setattr(GPT, "from_pretrained", tiny_pretrained)
    tuned = T.train(tiny_run(shards, tmp_path, init_from="gpt2", model=None, max_steps=1, eval_every=1, val_batches=3))
    want = val_loss(tiny_pretrained("gpt2", pad_vocab_to=64), shards, 4, 32, CPU, 3)
    assert records(tuned.run_dir, "eval")[0]["val_loss"] == pytest.approx(want, abs=1e-6)
    assert records(tuned.run_dir, "config")[0]["init_from"]["init_from"] == "gpt2"


def test_openai_weights_offline_is_one_line(shards, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(GPT, "from_pretrained", offline)
    argv = ["--init-from", "gpt2", "--data", shards, "--out", str(tmp_path), "--hellaswag", "none", "--device", "cpu"]
    err = fails_with(T.main, argv, capsys)
    assert "cannot download OpenAI's gpt2 weights" in err and "--init-from PATH" in err
    assert not any(tmp_path.iterdir())
    jsonl = tmp_path.parent / f"{tmp_path.name}-hs.jsonl"
    jsonl.write_text("")
    err = fails_with(hellaswag.main, ["--ckpt", "gpt2", "--path", str(jsonl)], capsys)
    assert "cannot download OpenAI's gpt2 weights" in err and "--ckpt PATH" in err


# ------------------------------------------------------------------------------------------------ hellaswag --ckpt gpt2
def test_hellaswag_scores_openai_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(GPT, "from_pretrained", tiny_pretrained)
    examples = [
        {"ctx": f"Example {i}: a man walks into a {w} and", "endings": ["sits.", "runs away fast.", "eats", "sleeps"],
         "label": i % 4}
        for i, w in enumerate(["bar", "room", "shop", "park", "house", "field"])
    ]  # fmt: skip
    path = tmp_path / "hs.jsonl"
    path.write_text("".join(json.dumps(ex) + "\n" for ex in examples))
    run_ok = pytest.raises(SystemExit)
    with run_ok as e:
        run(hellaswag.main, ["--ckpt", "gpt2", "--path", str(path), "--device", "cpu"])
    assert e.value.code == 0
    # the oracle: the same stand-in model scored directly, with tiktoken's gpt2 tokenizer
    want = hellaswag.accuracy(hellaswag.evaluate(tiny_pretrained("gpt2").eval(), load_tokenizer("gpt2"), examples))
    assert capsys.readouterr().out.strip() == f"6 examples: acc {want['acc']:.4f}  acc_norm {want['acc_norm']:.4f}"


# -------------------------------------------------------------------------------------- python -m gpt2.evaluate
def test_evaluate_cli_scores_a_run_and_openai_weights(small_val, source, monkeypatch, capsys):
    """The CLI's val loss over the whole val split equals evaluate_checkpoint's (a checkpoint) and val_loss of the
    stand-in model itself (`gpt2`, OpenAI's weights monkeypatched)."""
    with pytest.raises(SystemExit) as e:
        run(evaluate.main, ["--ckpt", str(source.run_dir), "--data", small_val, "--seq-len", "32", "--device", "cpu"])
    assert e.value.code == 0
    want, bpb, _ = evaluate.evaluate_checkpoint(source.checkpoint, small_val, 8, 32, torch.device("cpu"))
    out = capsys.readouterr().out
    assert f"val loss {want:.4f} | bits per byte {bpb:.4f}" in out
    monkeypatch.setattr(GPT, "from_pretrained", tiny_pretrained)
    with pytest.raises(SystemExit):
        run(evaluate.main, ["--ckpt", "gpt2", "--data", small_val, "--seq-len", "32", "--device", "cpu"])
    want = val_loss(tiny_pretrained("gpt2", pad_vocab_to=64), small_val, 8, 32, CPU, None)
    assert f"val loss {want:.4f}" in capsys.readouterr().out
    monkeypatch.setattr(GPT, "from_pretrained", offline)
    err = fails_with(evaluate.main, ["--ckpt", "gpt2", "--data", small_val], capsys)
    assert "cannot download" in err and "--ckpt PATH" in err
    err = fails_with(evaluate.main, ["--ckpt", str(source.run_dir), "--data", small_val, "--seq-len", "999"], capsys)
    assert "--seq-len 999" in err and "128" in err
