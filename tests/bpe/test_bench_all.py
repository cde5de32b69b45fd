"""bench/bpe_all.py (`make bench-bpe`): its steps run in order, each one's stdout lands in the one report under its
command line, a failing step stops the run with no report, an earlier report is replaced only with --overwrite, and a
file it did not write never; a host check frames each step. Stand-in step scripts print known tables, so no benchmark
runs here."""

from __future__ import annotations

import re
import sys

import pytest

from scratch.cli import UsageError
from testutil import ROOT, bench_script


@pytest.fixture(scope="module")
def bench():
    return bench_script("bpe_all")


def fake_steps(bench, folder, monkeypatch, scripts: dict[str, str]) -> list[list[str]]:
    """Step scripts in `folder` (name -> source), run by bpe_all in place of the real ones; the host checks around
    them are numbered lines instead of ~4 s of timing each (the real one is tested below)."""
    for name, source in scripts.items():
        (folder / name).write_text(source)
    steps = [[name, "--flag", str(k)] for k, name in enumerate(scripts)]
    monkeypatch.setattr(bench, "BENCH", folder)
    monkeypatch.setattr(bench, "STEPS", steps)
    checks = iter(range(1, 100))
    monkeypatch.setattr(bench, "host_check", lambda: f"host check {next(checks)}")
    return steps


def test_report_holds_each_step_output_in_order(bench, tmp_path, monkeypatch):
    scripts = {
        "first.py": "import sys\nprint('| a | b |\\n|---|---|\\n| 1 |', sys.argv[1:])\n"
        "print('progress', file=sys.stderr)",
        "second.py": "print('| c |\\n|---|\\n| 2 |')",
    }
    fake_steps(bench, tmp_path, monkeypatch, scripts)
    out = tmp_path / "report.md"
    bench.main(["--out", str(out)])
    text = out.read_text()
    assert text.startswith(bench.TITLE)
    commit = bench.git("rev-parse", "--short", "HEAD")
    assert f"commit {commit}" in text.splitlines()[2], "the header names the commit the figures come from"
    assert bench.source()[0] in (commit, f"{commit}-dirty"), "the default report is named after the code it measured"
    first = text.index("## `python bench/first.py --flag 0`")
    second = text.index("## `python bench/second.py --flag 1`")
    assert first < text.index("| 1 | ['--flag', '0']") < second < text.index("| 2 |"), "each output under its command"
    framed = [text.index(f"{when}: host check {k}.") for k, when in enumerate(["Before", "After"] * 2, 1)]
    table_1, table_2 = text.index("| 1 | ['--flag', '0']"), text.index("| 2 |")
    assert first < framed[0] < table_1 < framed[1] < second < framed[2] < table_2 < framed[3], "checks frame each step"
    assert "progress" not in text, "stderr (progress bars) passes through, it is not part of the report"


def test_a_failing_step_stops_the_run_and_writes_no_report(bench, tmp_path, monkeypatch):
    marker = tmp_path / "third-ran"
    scripts = {
        "ok.py": "print('fine')",
        "broken.py": "raise SystemExit(3)",
        "third.py": f"open({str(marker)!r}, 'w').close()",
    }
    fake_steps(bench, tmp_path, monkeypatch, scripts)
    out = tmp_path / "report.md"
    with pytest.raises(UsageError, match=r"bench/broken.py --flag 1 failed with exit code 3"):
        bench.main(["--out", str(out)])
    assert not out.exists() and not marker.exists()


def test_nothing_is_replaced_without_consent_and_refusals_come_first(bench, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    fake_steps(bench, tmp_path, monkeypatch, {"step.py": f"open({str(marker)!r}, 'w').close()"})
    notes = tmp_path / "notes.md"
    notes.write_text("my own notes\n")
    with pytest.raises(UsageError, match="not a report of bench/bpe_all.py"):
        bench.main(["--out", str(notes)])
    assert notes.read_text() == "my own notes\n" and not marker.exists()
    with pytest.raises(UsageError, match="not a report of bench/bpe_all.py"):
        bench.main(["--out", str(notes), "--overwrite"])  # --overwrite replaces reports, not a user's own file
    earlier = tmp_path / "earlier.md"
    earlier.write_text(f"{bench.TITLE}\n\nold figures\n")
    with pytest.raises(UsageError, match="pass --overwrite"):
        bench.main(["--out", str(earlier)])  # the same --out twice: the first run's report stays
    assert "old figures" in earlier.read_text() and not marker.exists()
    assert notes.read_text() == "my own notes\n"
    bench.main(["--out", str(earlier), "--overwrite"])
    assert marker.exists() and "old figures" not in earlier.read_text()


def test_the_steps_are_the_commands_the_readme_lists(bench):
    """The README's re-run block and the one-run command must not drift apart: every step is listed there."""
    readme = (ROOT / "bpe" / "README.md").read_text()
    for step in bench.STEPS:
        assert f"python bench/{' '.join(step)}" in readme, step


def test_the_host_check_reports_medians_and_their_ratio(bench):
    common = sys.modules["common"]  # bench/ is importable once a bench script is loaded
    line = common.host_line([0.1, 0.3, 0.2], [0.25, 0.5, 0.3], copies=2)
    assert line.startswith("host check: a fixed Python loop took 200 ms alone and 300 ms as 2 copies at once (1.50x;")
    assert line.endswith("medians of 3")
    measured = common.host_check(rounds=1)  # the real thing, once: one process alone, then one per core, ~1 s
    numbers = r"took (\d+) ms alone and (\d+) ms as \d+ copies at once \((\d+\.\d\d)x"
    alone, at_once, ratio = re.search(numbers, measured).groups()
    assert int(alone) > 0 and int(at_once) > 0 and abs(float(ratio) - int(at_once) / int(alone)) < 0.05


def test_a_failing_host_check_is_a_line_not_a_lost_report(bench, monkeypatch):
    common = sys.modules["common"]
    monkeypatch.setattr(common, "HOST_LOOP", "print('no number')")
    assert common.host_check(rounds=1).startswith("host check: not measured (ValueError")
