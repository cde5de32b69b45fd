"""scratch.plot.save_figure writes a valid image atomically and closes the figure; the module selects Agg."""

import os
import struct
import subprocess
import sys

import pytest

from scratch.plot import plt, save_figure


def png_size(path):
    """(width, height) from the PNG signature and IHDR chunk, read by hand."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the file is complete
    return struct.unpack(">II", data[16:24])


def test_save_figure_writes_png_and_closes(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [1, 0, 1])
    out = save_figure(fig, tmp_path / "new" / "curve.png", dpi=50)
    assert out == tmp_path / "new" / "curve.png"
    assert png_size(out) == (200, 150)  # figsize * dpi
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in out.parent.iterdir()) == ["curve.png"]  # no temp file left
    from PIL import Image

    with Image.open(out) as im:
        im.verify()


def test_format_follows_the_suffix(tmp_path):
    fig, _ = plt.subplots()
    out = save_figure(fig, tmp_path / "fig.svg")
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()
    assert not plt.fignum_exists(fig.number)


def test_failed_save_keeps_the_old_file(tmp_path):
    out = tmp_path / "fig.png"
    out.write_bytes(b"previous figure")
    fig, _ = plt.subplots()
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "fig.notaformat")
    plt.close(fig)
    assert out.read_bytes() == b"previous figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_importing_selects_the_file_only_backend():
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    code = "import scratch.plot, matplotlib; print(matplotlib.get_backend())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().lower() == "agg"
