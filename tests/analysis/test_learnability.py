"""Learnability rows against hand computation, on synthetic curves shaped like Pong's
(negative scores), Labyrinth's (rewards spread over long episodes, windows without an
episode end) and on the committed Pong results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import write_run

from analysis.learnability import (
    clear_margin,
    learnability_markdown,
    learnability_plot,
    learnability_rows,
    steps_to_clear,
)
from benchmarks.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_steps_to_clear_needs_three_measured_points_in_a_row():
    steps = [0, 10, 20, 30, 40, 50, 60]
    # a lucky window at 10, a dip at 20, then three in a row from 30
    assert steps_to_clear(steps, [-20, -18.5, -19.5, -18, -18, -17, -20], -19) == 30.0
    # a window without an episode end (NaN) is skipped, not a break and not a point
    assert steps_to_clear(steps, [-20, -18, math.nan, -18, -18, -20, -20], -19) == 10.0
    assert steps_to_clear(steps, [-20, -18, -18, -20, -18, -18, -20], -19) == math.inf
    assert steps_to_clear([0, 10], [5.0, 5.0], 1.0, windows=1) == 0.0
    with pytest.raises(ValueError, match="windows must be >= 1"):
        steps_to_clear([0], [0.0], 0.0, windows=0)


def test_the_margin_is_two_random_sds_and_at_least_one_reward():
    assert clear_margin(0.4) == 1.0  # Pong: random play -20.2 +- 0.4
    assert clear_margin(30.0) == 60.0  # a game whose random episodes vary by 30 points
    assert clear_margin(None) == 1.0


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    floors = {
        "pong_soup/hflip": {"floor": -20.2, "std": 0.4, "episodes": 5},
        "labyrinth/seek_track_1": {"floor": 0.5, "std": 0.75, "episodes": 20},
    }
    (root / "floors.json").write_text(json.dumps(floors))
    # Pong: leaves -19.2 at 300 for good; the last 10% of 0..1000 is 900..1000
    pong = [(0, -21), (100, -19), (200, -20), (300, -19), (400, -17), (500, -15), (900, -9)]
    pong += [(1000, -7)]
    write_run(root, "pong_soup/hflip", "scratch", [], pong, seed=1)
    # Labyrinth: apples over long episodes; windows without an episode end are NaN
    lab = [(0, 0.0), (50, math.nan), (100, 2.5), (150, math.nan), (200, 2.0), (250, 3.0)]
    lab += [(300, 1.0), (1000, 1.5)]
    write_run(root, "labyrinth/seek_track_1", "scratch", [], lab)
    # not scratch from nothing, or not finished: no rows
    write_run(root, "pong_soup/hflip", "scratch", ["pong_soup/pong"], pong, seed=2)
    write_run(root, "pong_soup/hflip", "scratch", [], pong, seed=3, state="running")
    write_run(root, "pong_soup/hflip", "progressive", ["pong_soup/pong"], pong)
    return root


def test_rows_against_hand_computation(tree):
    lab, pong = learnability_rows([tree])
    assert (pong.task, pong.seed, pong.steps) == ("pong_soup/hflip", 1, 1000.0)
    assert pong.floor_sd == pytest.approx(0.4) and pong.margin == 1.0
    assert pong.cleared_at == 300.0  # -19, -17, -15 from 300 (100's -19 dips to -20)
    assert pong.final == pytest.approx(-8.0) and pong.best == -7 and pong.learned
    # Labyrinth: floor 0.5, sd 0.75, so margin 1.5 and level 2.0: 100 (2.5), 200 (2.0),
    # 250 (3.0) are three measured points in a row (the NaN windows are not points)
    assert lab.margin == pytest.approx(1.5)
    assert lab.cleared_at == 100.0
    assert lab.final == pytest.approx(1.5) and not lab.learned  # it fell back below 2.0
    md = learnability_markdown([lab, pong])
    assert "| pong_soup/hflip | 1 | 1k | -20.20 (0.40) | 1.00 | 0k | -8.00 | -7.00 | yes |" in md


def test_the_figure_draws_each_curve_against_its_floor(tree):
    """Each panel holds its run's measured points (NaN windows left out), the floor, floor
    + margin and the cleared step, in the rows' order."""
    import matplotlib.pyplot as plt

    lab, pong = learnability_rows([tree])
    fig = learnability_plot([lab, pong])
    try:
        for ax, row in zip(fig.axes, (lab, pong), strict=False):
            curve, floor, level, cleared = ax.get_lines()
            pts = [(x / 1e6, y) for x, y in row.curve if not math.isnan(y)]
            assert list(zip(curve.get_xdata(), curve.get_ydata(), strict=True)) == pts
            assert list(floor.get_ydata()) == [row.floor] * 2
            assert list(level.get_ydata()) == pytest.approx([row.floor + row.margin] * 2)
            assert list(cleared.get_xdata()) == [row.cleared_at / 1e6] * 2
            assert row.task in ax.get_title()
        assert len(fig.axes[0].get_lines()[0].get_xdata()) == 6  # 8 windows, 2 NaN
    finally:
        plt.close(fig)


def test_cli_writes_the_table_and_refuses_a_missing_root(tree, tmp_path, capsys):
    out = tmp_path / "learnability.md"
    png = tmp_path / "fig" / "learnability.png"
    assert main(["learnability", str(tree), "--out", str(out), "--figure", str(png)]) == 0
    assert "| labyrinth/seek_track_1 | 0 |" in out.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["learnability", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no results directory" in err[0]


def test_the_committed_pong_column_against_a_plain_loop():
    """The shipped Pong column (2M steps, real curve): the cleared step equals a plain
    scan written here, and the column learned (its final score is far above -19.2)."""
    root = ROOT / "docs" / "results" / "pong-soup"  # the zoo column, with measured floors
    (row,) = [r for r in learnability_rows([root]) if r.task == "pong_soup/pong"]
    assert row.floor_sd is not None  # the random policy's, from floors.json
    curve = (root / "pong_soup-pong" / "scratch" / "seed0" / "curve.csv").read_text()
    lines = curve.strip().splitlines()
    cols = lines[0].split(",")
    pts = [dict(zip(cols, map(float, line.split(",")), strict=True)) for line in lines[1:]]
    pts = [p for p in pts if math.isfinite(p["episode_return_mean"])]
    level = row.floor + row.margin
    expected = next(
        pts[i]["env_steps"]
        for i in range(len(pts) - 2)
        if all(pts[j]["episode_return_mean"] >= level for j in (i, i + 1, i + 2))
    )
    assert row.cleared_at == expected
    assert row.learned and row.final > 15
