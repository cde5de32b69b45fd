"""plot.py: reads run logs (a resumed run's repeated steps replaced), tabulates best values, draws the figure."""

import json

from gpt2 import plot


def write_log(run_dir, evals, resumed_evals=()):
    run_dir.mkdir(parents=True)
    recs = [
        {"type": "config", "step": 0, "train_config": {"config": "rope", "model": "tiny", "total_batch_tokens": 100}}
    ]
    recs += [{"type": "train", "step": s, "loss": 5.0, "tokens_per_sec": 1000.0} for s in range(1, 5)]
    recs += [{"type": "eval", "step": s, "val_loss": v, "val_bpb": v / 2, "hellaswag": h} for s, v, h in evals]
    recs += [{"type": "config", "step": 2, "train_config": {"config": "rope"}}]  # a resume appends a second header
    recs += [{"type": "eval", "step": s, "val_loss": v, "val_bpb": v / 2, "hellaswag": h} for s, v, h in resumed_evals]
    (run_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_table_and_plot(tmp_path):
    write_log(tmp_path / "a", [(0, 10.0, 0.25), (2, 6.0, 0.30), (4, 5.5, 0.28)])
    write_log(tmp_path / "b", [(0, 10.0, 0.25), (4, 7.0, 0.26)], resumed_evals=[(4, 6.5, 0.27)])
    runs = [plot.load_run(tmp_path / "a"), plot.load_run(tmp_path / "b" / "log.jsonl")]
    assert [e["val_loss"] for e in runs[1].evals] == [10.0, 6.5]  # the later record of step 4 wins
    a, b = plot.summarize(runs[0]), plot.summarize(runs[1])
    assert (a["min_val_loss"], a["min_val_bpb"], a["max_hellaswag"]) == (5.5, 2.75, 0.30)
    assert (b["min_val_loss"], b["max_hellaswag"], b["steps"], b["tokens"]) == (6.5, 0.27, 4, 400)
    table = plot.results_table(runs)
    assert "| a | rope | tiny | 4 | 400 | 5.5000 | 2.7500 | 0.3000 | 1,000 |" in table
    out = plot.plot_runs(runs, tmp_path / "img" / "runs.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gpt2_reference_lines(tmp_path, monkeypatch):
    """--gpt2-hellaswag and --gpt2-val-loss draw horizontal lines at those values on their panels, and only there."""
    write_log(tmp_path / "a", [(0, 10.0, 0.25), (4, 5.5, 0.28)])
    drawn = {}

    def keep(fig, out):
        drawn["fig"] = fig
        return out

    monkeypatch.setattr(plot, "save_figure", keep)
    plot.main([str(tmp_path / "a"), "--out", str(tmp_path / "p.png"), "--gpt2-hellaswag", "--gpt2-val-loss", "3.29"])
    axes = drawn["fig"].axes
    flat = {
        ax.get_title(): {ln.get_ydata()[0] for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1} for ax in axes
    }
    assert 0.2955 in flat["HellaSwag acc_norm"] and 3.29 in flat["val loss (nats/token)"]
    assert 0.2955 not in flat["val loss (nats/token)"] and 3.29 not in flat["val bits per byte"]
