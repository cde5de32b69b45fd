"""Figures saved headless: `save_figure(fig, "images/x.png")` lays out, writes atomically and closes.

    from scratch.plot import plt, save_figure
    fig, ax = plt.subplots()
    ...
    save_figure(fig, out)

Importing this module selects matplotlib's file-only Agg backend, unless pyplot is already in use (a notebook's
inline backend is left alone), so scripts never try to open a window on a server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot is imported)

from scratch.files import atomic_open  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig: matplotlib.figure.Figure, out: str | os.PathLike, dpi: int = 110) -> Path:
    """Lay out, save (creating the folder; the format from the suffix) and close a figure; returns the path."""
    out = Path(out)
    fig.tight_layout()
    with atomic_open(out) as f:
        fig.savefig(f, dpi=dpi, format=out.suffix.lstrip(".") or "png")
    plt.close(fig)
    return out
