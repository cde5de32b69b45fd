"""Validation-loss curves as a PNG (used by the ladder and by the CPU bench)."""

from __future__ import annotations

from pathlib import Path

from scratch.plot import plt, save_figure


def plot_val_curves(
    curves: dict[str, list[dict]],
    path: Path,
    title: str,
    x: str = "iter",
    xlabel: str = "iteration",
    hlines: tuple[float, ...] = (),
    ylim: tuple[float, float] | None = None,
    note: str | None = None,
) -> None:
    """One line per run: history records' `x` against their whole-split val loss; final loss in the legend.
    note: a small footer (what the curves were made from: data identity, seed)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, hist in curves.items():
        ax.plot(
            [h[x] for h in hist],
            [h["val_loss"] for h in hist],
            marker=".",
            label=f"{name} ({hist[-1]['val_loss']:.3f})",
        )
    for y in hlines:
        ax.axhline(y, color="gray", lw=0.8, ls="--")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("val loss, whole split (nats/char)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if note:
        fig.text(0.01, 0.005, note, fontsize=6, color="gray", va="bottom")
    save_figure(fig, path, dpi=120)
