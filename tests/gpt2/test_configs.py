"""Each named config resolves to the settings the issue documents (the expected table is written out here by hand)."""

import re

import pytest

from gpt2.configs import EXPERIMENTS, ORIGINAL_STEPS, TrainConfig, model_overrides, resolve

# name: (pos_emb, mlp, max_lr, warmup at full length, loader), read by hand from the original's train_gpt2.py at each
# experiment's commit (garg-aayush/building-from-scratch: 301fb8c, 6061123, f1d6c78, c952c26, 2e339d1, b3dd4d8)
DOCUMENTED = {
    "baseline": ("learned", "gelu", 6e-4, 715, "sequential"),
    "periodicity-fix": ("learned", "gelu", 6e-4, 715, "shuffle-shards"),
    "lr-inc": ("learned", "gelu", 1.5e-3, 300, "shuffle-shards"),
    "global-datafix": ("learned", "gelu", 1.5e-3, 300, "global"),
    "rope": ("rope", "gelu", 1.5e-3, 300, "global"),
    "swiglu": ("rope", "swiglu", 1.5e-3, 300, "global"),
}


def test_exactly_the_six_experiments():
    assert list(EXPERIMENTS) == list(DOCUMENTED)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_config_resolves_to_documented_settings(name):
    pos_emb, mlp, max_lr, warmup, loader = DOCUMENTED[name]
    cfg = resolve(name)
    assert model_overrides(cfg) == {"pos_emb": pos_emb, "mlp": mlp}
    assert cfg.lr == max_lr
    assert cfg.warmup(ORIGINAL_STEPS) == warmup
    assert cfg.exp.loader == loader
    # the shared recipe
    assert (cfg.beta1, cfg.beta2, cfg.weight_decay, cfg.grad_clip, cfg.min_lr_ratio) == (0.9, 0.95, 0.1, 1.0, 0.1)
    assert cfg.total_batch_tokens == 2**19
    assert cfg.experiment["name"] == name  # saved with the run


def test_short_runs_keep_the_warmup_fraction():
    cfg = resolve("baseline")
    assert cfg.warmup(1907) == 71  # a tenth of the run length: 715 * 1907 / 19073 = 71.49 warmup steps
    assert resolve("lr-inc").warmup(1907) == 30  # 300 * 1907 / 19073 = 29.99
    assert resolve("baseline").warmup(3) == 1  # never zero
    assert resolve("baseline", warmup_steps=7).warmup(100) == 7  # an explicit value wins


def test_overrides_and_errors():
    cfg = resolve("rope", max_lr=1e-3, model="tiny")
    assert cfg.lr == 1e-3 and cfg.model == "tiny"
    with pytest.raises(ValueError, match="unknown config 'gelu'"):
        resolve("gelu")
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        resolve("rope", learning_rate=1.0)
    assert TrainConfig(**resolve("rope").to_dict()) == resolve("rope")  # round-trips through a plain dict


def test_check_refuses_settings_that_cannot_train():
    resolve("rope").check()  # the defaults: 124M, 64 x 1024 tokens per micro-batch, 8 of them per step
    resolve("rope").check(world_size=8)  # 8 ranks: one micro-batch each
    tiny = dict(model="tiny", micro_batch=4, total_batch_tokens=1024)  # tiny: block size 128
    resolve("rope", **tiny, seq_len=128).check()
    for overrides, problem in [
        (dict(model="huge"), "unknown preset 'huge'"),
        (dict(**tiny, seq_len=129), "--seq-len 129 must be in 1..128 (the tiny block size)"),
        (dict(**tiny, seq_len=96), "tokens per step (1024) must be a multiple of micro-batch x seq-len = 384"),
        (dict(**tiny, max_steps=0), "a run of 0 steps"),
    ]:
        with pytest.raises(ValueError, match=re.escape(problem)):
            resolve("rope", **overrides).check()
    with pytest.raises(ValueError, match=re.escape("= 512 (4 x 128, times 3 ranks = 1536)")):
        resolve("rope", **tiny).check(world_size=3)
