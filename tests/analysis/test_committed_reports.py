"""The committed reports are what the code builds from the committed results.

``docs/results/<suite>/`` holds a results root (run directories, floors, plan) and its
``report/``. Rebuilding the report from a copy of that root must give the committed
``transfer_matrix.csv`` and ``table1.txt`` byte for byte: a refactor of the report (or
of the run store it reads) that changes a number, a rounding or a row order fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.report import build_report

REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted(p for p in (REPO / "docs" / "results").iterdir() if (p / "report").is_dir())


def test_there_are_committed_reports_to_check():
    assert {p.name for p in COMMITTED} >= {"atari", "catch-soup", "labyrinth", "pong-soup"}


@pytest.mark.parametrize("results", COMMITTED, ids=lambda p: p.name)
def test_committed_report_rebuilds_the_same_tables(results: Path, tmp_path: Path):
    root = tmp_path / results.name
    shutil.copytree(results, root, ignore=shutil.ignore_patterns("report"))
    from analysis import figures

    figures.OVERLAPS.clear()
    out = build_report(root)
    assert figures.OVERLAPS == {}, f"{results.name}: text over text in {figures.OVERLAPS}"
    for name in ("transfer_matrix.csv", "table1.txt", "summary.md", "verdicts.csv"):
        rebuilt = (out / name).read_text()
        committed = (results / "report" / name).read_text()
        assert rebuilt == committed, f"{results.name}/report/{name} differs when rebuilt"
