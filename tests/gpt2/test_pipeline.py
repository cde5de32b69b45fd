"""gpt2.pipeline's config: checked when made (its own rule here, the trainer's through TrainConfig.check), and the
stand-alone train command it reports describes exactly the run it starts. (The stages run in test_demo.py.)"""

import dataclasses
import shlex
from pathlib import Path

import pytest

from gpt2.demo import DemoConfig
from gpt2.pipeline import PipelineConfig, train_command
from gpt2.tokenizer_experiment import DEFAULTS
from gpt2.train import config_from_argv


@pytest.mark.parametrize(
    "cfg",
    [
        DemoConfig(out="runs/x").pipeline(),
        DEFAULTS,
        dataclasses.replace(DEFAULTS, hellaswag="../shared/data/hellaswag_val.jsonl"),
    ],
)
def test_the_train_command_is_the_run(cfg: PipelineConfig):
    data = Path(cfg.out) / "data"
    argv = shlex.split(train_command(cfg, data, run_name="model-a"))
    assert argv[:5] == ["uv", "run", "--no-sync", "python", "gpt-2/train.py"]
    train_cfg, resume = config_from_argv(argv[5:])
    assert train_cfg == cfg.train_config(data, run_name="model-a") and resume is None


def test_the_trainer_extras_are_each_callers_choice():
    for cfg in (DemoConfig().pipeline(), DEFAULTS):
        train_cfg = cfg.train_config(Path(cfg.out) / "data")
        assert (train_cfg.sample_tokens, train_cfg.hellaswag, train_cfg.keep_last) == (24, None, 1)
    with pytest.raises(TypeError, match="eval_sample_tokens"):  # no defaults: a caller must say
        PipelineConfig(**{k: v for k, v in dataclasses.asdict(DEFAULTS).items() if k != "eval_sample_tokens"})


@pytest.mark.parametrize(
    "change, problem",
    [
        (dict(vocab_size=257), "--vocab-size 257 leaves no merges"),
        (dict(preset="huge"), "unknown preset 'huge'"),
        (dict(seq_len=4096), "--seq-len 4096 must be in 1..128"),
        (dict(steps=0), "a run of 0 steps"),
    ],
)
def test_bad_settings_are_refused_when_the_config_is_made(change, problem):
    with pytest.raises(ValueError, match=problem):
        dataclasses.replace(DEFAULTS, **change)
