"""The end-to-end demo (gpt2/demo.py) at a tiny budget, artifact by artifact, and the tokenizer experiment's table.

The demo runs once (module fixture, ~10-20 s on the shared 2-core machine) through its CLI entry point; each test then
checks one artifact against something computed independently: the corpus text, ln(vocab), the shard files."""

import json
import math
import re

import numpy as np
import pytest
import torch

from gpt2 import demo
from gpt2.tokenizer_experiment import Row, results_table
from scratch.cli import UsageError

VOCAB = 384
STEPS = 12


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    n = torch.get_num_threads()
    try:
        return demo.run_demo(
            demo.parse_args(
                [
                    "--out",
                    str(out),
                    "--preset",
                    "tiny",
                    "--steps",
                    str(STEPS),
                    "--vocab-size",
                    str(VOCAB),
                    "--batch-tokens",
                    "1024",
                    "--micro-batch",
                    "8",
                    "--seq-len",
                    "64",
                    "--eval-every",
                    "6",
                    "--val-batches",
                    "2",
                    "--sample-tokens",
                    "12",
                    "--prompt",
                    "Romeo:",
                    "--prompt",
                    "",
                    "--device",
                    "cpu",
                ]
            )
        )
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def heldout_docs():
    from bpe.corpus import default_corpus
    from gpt2.prepare import txt_documents

    return list(txt_documents(default_corpus()[1]))


def test_tokenizer_loads_and_round_trips(result, heldout_docs):
    from bpe import Tokenizer

    tok = Tokenizer.load(result.tokenizer)
    assert tok.n_vocab == VOCAB and tok.eot_token == VOCAB - 1
    text = heldout_docs[0][:20000]
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(ids) < len(text.encode()) / 1.5  # 127 merges compress English well below a byte per token


def test_shards_match_the_manifest_and_the_val_shard_is_the_heldout_plays(result, heldout_docs):
    from gpt2.shards import HEADER_BYTES, open_shard, read_manifest
    from gpt2.tokenizer import load_tokenizer

    m = read_manifest(result.data)  # checks every shard's header against the manifest
    assert m["complete"] and m["tokenizer"] == str(result.tokenizer) and m["vocab_size"] == VOCAB
    assert [s["split"] for s in m["shards"]] == ["val"] + ["train"] * (len(m["shards"]) - 1)
    for s in m["shards"]:
        assert (result.data / s["file"]).stat().st_size == HEADER_BYTES + 2 * s["tokens"]  # uint16
    tok = load_tokenizer(m["tokenizer"])
    val = np.asarray(open_shard(result.data, m["shards"][0], m["dtype"]))
    starts = np.flatnonzero(val == m["eot_token"])
    docs = [tok.decode(val[a + 1 : b].tolist()) for a, b in zip(starts, list(starts[1:]) + [len(val)])]
    assert docs == heldout_docs  # exactly the held-out plays, whole
    assert m["shards"][0]["bytes"] == sum(len(d.encode()) for d in heldout_docs)


def test_checkpoint_loads_and_val_loss_fell(result, heldout_docs):
    from gpt2.checkpoint import load_checkpoint, model_from_checkpoint
    from gpt2.shards import read_manifest

    state = load_checkpoint(result.checkpoint)
    model = model_from_checkpoint(state)
    assert model.config.pos_emb == "rope" and model.config.vocab_size == VOCAB
    assert state["step"] == STEPS and state["tokenizer"] == str(result.tokenizer)
    assert abs(result.initial_val_loss - math.log(VOCAB)) < 0.3  # an untrained model is near uniform
    assert result.val_loss < result.initial_val_loss - 0.2
    # bits per byte from the text itself, not from the manifest's byte count
    text_bytes = sum(len(d.encode()) for d in heldout_docs)
    tokens = read_manifest(result.data)["shards"][0]["tokens"]
    assert result.val_bpb == pytest.approx(result.val_loss / math.log(2) / (text_bytes / tokens), rel=1e-9)


def test_samples_decode_and_summary_written(result):
    assert len(result.samples) == 2
    assert result.samples[0].startswith("Romeo:") and len(result.samples[0]) > len("Romeo:")
    assert isinstance(result.samples[1], str) and result.samples[1]  # from <|endoftext|> alone
    summary = (result.out / "summary.md").read_text()
    assert f"{result.val_bpb:.4f}" in summary and "gpt-2/train.py --config rope" in summary
    assert "bpe/train.py --vocab-size 384" in summary and "```\nRomeo:" in summary
    assert (result.out / "loss.png").stat().st_size > 10_000


def test_stage_commands_in_the_summary_reproduce_the_artifacts(result, tmp_path):
    """Stages 1-3 rerun through the stand-alone CLIs, as summary.md lists them, give the same tokenizer, the same
    tokens and the same trained weights."""
    import shlex
    import shutil

    from bpe import cli as bpe_cli
    from gpt2 import prepare, train
    from gpt2.checkpoint import load_checkpoint
    from gpt2.shards import open_shard, read_manifest

    mains = {"bpe/train.py": bpe_cli.main, "gpt-2/prepare.py": prepare.main, "gpt-2/train.py": train.main}
    shutil.copy(result.out / "corpus.txt", tmp_path / "corpus.txt")
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # as the demo ran
    try:
        for stage in result.stages[:3]:
            argv = shlex.split(stage.command.replace(str(result.out), str(tmp_path)))
            mains[argv[4]](argv[5:])  # uv run --no-sync python SCRIPT ARGS...
    finally:
        torch.set_num_threads(n)
    assert (tmp_path / "tokenizer.model").read_bytes() == result.tokenizer.read_bytes()
    a, b = read_manifest(result.data), read_manifest(tmp_path / "data")
    assert [s["tokens"] for s in a["shards"]] == [s["tokens"] for s in b["shards"]]
    for sa, sb in zip(a["shards"], b["shards"]):
        assert np.array_equal(open_shard(result.data, sa, a["dtype"]), open_shard(tmp_path / "data", sb, b["dtype"]))
    mine = load_checkpoint(tmp_path / "model" / result.checkpoint.name)["model"]
    for k, v in load_checkpoint(result.checkpoint)["model"].items():
        assert torch.equal(v, mine[k]), k


@pytest.mark.parametrize(
    "flags, problem",
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--seq-len", "4096"], "--seq-len 4096 must be in 1..256"),
        (["--batch-tokens", "1000"], "a multiple of micro-batch x seq-len = 2048"),
    ],
)
def test_bad_settings_stop_before_any_work(tmp_path, capsys, flags, problem):
    with pytest.raises(SystemExit) as stop:
        demo.main(["--out", str(tmp_path / "x"), *flags])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_a_rerun_replaces_only_what_the_demo_wrote(result, tmp_path):
    """The record of the fixture's run claims its outputs; a folder of the user's with one of those names is refused
    (before any work, nothing changed) unless --overwrite, and a record of another command claims nothing."""
    from gpt2.pipeline import OUTPUTS, claim_outputs

    claimed = set(json.loads((result.out / OUTPUTS).read_text())["outputs"])
    assert claimed == set(demo.DEMO_OUTPUTS) and all((result.out / n).exists() for n in demo.DEMO_OUTPUTS)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "edu10B").write_bytes(b"mine")
    with pytest.raises(UsageError, match=re.escape(f"{tmp_path / 'data'} exists and was not written by")):
        claim_outputs(tmp_path, demo.MADE_BY, demo.DEMO_OUTPUTS)
    (tmp_path / OUTPUTS).write_text(json.dumps({"made_by": "someone else", "outputs": ["data"]}))
    with pytest.raises(UsageError, match="--overwrite"):
        claim_outputs(tmp_path, demo.MADE_BY, demo.DEMO_OUTPUTS)
    assert (tmp_path / "data" / "edu10B").read_bytes() == b"mine"
    claim_outputs(tmp_path, demo.MADE_BY, demo.DEMO_OUTPUTS, overwrite=True)
    assert not (tmp_path / "data").exists()
    (tmp_path / "data").mkdir()  # now the demo's own: a rerun may replace it
    claim_outputs(tmp_path, demo.MADE_BY, demo.DEMO_OUTPUTS)
    assert not (tmp_path / "data").exists()


def test_experiment_table():
    rows = [
        Row("a-4096", "a", 4096, 1000, 2.0, 2.5, 100, 2 * math.log(2) * 1.5),  # 1.5 bits/byte
        Row("gpt2", "WebText", 50257, 5000, 4.0, 4.0, 100, 4 * math.log(2) * 1.2),
    ]  # 1.2 bits/byte
    assert rows[0].val_bpb == pytest.approx(1.5) and rows[1].val_bpb == pytest.approx(1.2)
    assert rows[0].bytes_seen == 250
    lines = results_table(rows).splitlines()
    assert len(lines) == 4 and lines[0].count("|") == lines[2].count("|") == 11
    assert "| 1.5000 | +25.0% |" in lines[2] and "| **1.2000** | best |" in lines[3]
    assert "| 50,257 | 5,000 | 4.00 | 100 | 0.00 MB |" in lines[3]
