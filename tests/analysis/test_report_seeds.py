"""A report over several seeds per cell: n and 95% intervals, checked by hand and by
exact enumeration of every bootstrap resample."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
from conftest import write_run

from analysis.report import build_report

# flat curves: a run's AUC is its score; normalised (score + 21) / 42 on Pong
BASE = [-21.0, -14.0, -7.0]  # AUC_n 0, 1/6, 2/6
PROG = [0.0, 7.0, 14.0]  # AUC_n 1/2, 4/6, 5/6


@pytest.fixture
def seeded(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "floors.json").write_text(json.dumps({"pong_soup/hflip": {"floor": -21.0}}))
    for seed, (b, p) in enumerate(zip(BASE, PROG, strict=True)):
        write_run(root, "pong_soup/hflip", "scratch", [], [(0, b), (100, b)], seed=seed)
        write_run(
            root,
            "pong_soup/hflip",
            "progressive",
            ["pong_soup/pong"],
            [(0, p), (100, p)],
            seed=seed,
        )
    return root


def rows(out):
    with (out / "transfer_matrix.csv").open() as f:
        return {r["agent"]: r for r in csv.DictReader(f)}


def exact_percentiles(fn):
    """2.5th and 97.5th percentiles of ``fn`` over all 27 x 27 equally likely resamples."""
    draws = list(itertools.product(range(3), repeat=3))
    values = [
        fn(np.array([PROG[i] for i in a]), np.array([BASE[i] for i in b]))
        for a in draws
        for b in draws
    ]
    values = np.array([v for v in values if np.isfinite(v)])
    return np.percentile(values, [2.5, 97.5])


def test_cells_carry_n_and_intervals_that_match_exact_enumeration(seeded):
    out = build_report(seeded)
    prog = rows(out)["progressive-2col"]
    assert prog["n"] == "3" and prog["jobs"] == "3"
    # by hand: FT = (2/3 - 1/6) / (1 - 1/6) = 0.6; ratio = (7 + 21) / (-14 + 21) = 400%
    assert float(prog["forward_transfer"]) == pytest.approx(0.6, abs=1e-4)
    assert float(prog["transfer"]) == pytest.approx(400.0)
    # baseline 1's AUC_n 1/6 passes the 0.1 gate, its interval (down to 0) does not: FT is
    # the cell's measure; the ratio and its interval are still in the CSV
    assert prog["measure"] == "ft"

    def ft(x, y):
        xn, yn = (x.mean() + 21) / 42, (y.mean() + 21) / 42
        return (xn - yn) / (1 - yn)

    lo, hi = exact_percentiles(ft)
    assert float(prog["forward_transfer_lo"]) == pytest.approx(lo, abs=0.03)
    assert float(prog["forward_transfer_hi"]) == pytest.approx(hi, abs=0.03)

    def ratio(x, y):
        return 100 * (x.mean() + 21) / (y.mean() + 21) if y.mean() > -21 else np.nan

    lo, hi = exact_percentiles(ratio)
    assert float(prog["transfer_lo"]) == pytest.approx(lo, rel=0.05)
    assert float(prog["transfer_hi"]) == pytest.approx(hi, rel=0.05)
    # the AUC's own interval: the mean of 3 resampled scores lies within [0, 14]
    assert 0.0 <= float(prog["auc_lo"]) < 7.0 < float(prog["auc_hi"]) <= 14.0


def test_table1_gives_intervals_and_the_probability_of_improvement(seeded):
    out = build_report(seeded)
    text = (out / "table1.txt").read_text()
    line = next(x for x in text.splitlines() if x.startswith("progressive-2col"))
    # every progressive seed beats every baseline seed: P = 1 in every resample
    assert "1.00 [1.00, 1.00] (n=3)" in line
    assert "0.60 [" in line  # FT mean with its interval
    md = (out / "report.md").read_text()
    assert "[" in md and "n=3" in md


def test_one_seed_says_it_has_no_interval(seeded):
    for d in seeded.glob("*/*/seed[12]"):
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
    out = build_report(seeded)
    prog = rows(out)["progressive-2col"]
    assert prog["n"] == "1" and prog["forward_transfer_lo"] == "n/a"
    assert "n=1, no interval" in (out / "report.md").read_text()


def test_taylor_and_stone_measures_by_hand(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "floors.json").write_text(json.dumps({"pong_soup/white": {"floor": -21.0}}))
    progressive = [
        [(0, -10.0), (100, 21.0), (200, 21.0)],  # reaches 0 at 100 * 10 / 31 steps
        [(0, -15.0), (100, -15.0), (200, 21.0)],  # at 100 + 100 * 15 / 36
        [(0, -21.0), (100, -21.0), (200, -21.0)],  # never: censored
    ]
    for seed, curve in enumerate(progressive):
        write_run(root, "pong_soup/white", "scratch", [], [(0, -20.0), (200, -20.0)], seed=seed)
        write_run(root, "pong_soup/white", "progressive", ["pong_soup/pong"], curve, seed=seed)
    out = build_report(root)
    prog, base = rows(out)["progressive-2col"], rows(out)["baseline1-scratch"]
    # jumpstart: mean first point -46/3 against baseline 1's -20
    assert float(prog["jumpstart"]) == pytest.approx(-46 / 3 + 20, abs=1e-4)
    # asymptotic: the points of the last 10% of the steps (step 200): 21, 21, -21
    assert float(prog["asymptotic"]) == pytest.approx(7.0, abs=1e-4)
    # threshold 0 (half way from -21 to 21): median of 32.3, 141.7 and never
    assert float(prog["time_to_threshold"]) == pytest.approx(100 + 1500 / 36, abs=0.5)
    assert prog["time_to_threshold_hi"] == "inf"  # a resample of two censored runs
    assert base["time_to_threshold"] == "inf" and base["time_to_threshold_lo"] == "inf"
    # resamples of three runs: the asymptote's 2.5% / 97.5% points are -21 and 21
    assert float(prog["asymptotic_lo"]) == pytest.approx(-21.0)
    assert float(prog["asymptotic_hi"]) == pytest.approx(21.0)


def test_the_mean_curve_over_seeds_and_its_band_by_hand():
    from analysis.cells import mean_curve

    # two seeds on the same steps, one on a shorter range; a NaN window is left out
    band = mean_curve(
        [
            ([0, 100, 200], [0.0, 10.0, 20.0]),
            ([0, 100, 200], [2.0, float("nan"), 22.0]),
            ([0, 100], [4.0, 14.0]),
        ],
        points=3,
    )
    assert list(band["steps"]) == [0.0, 100.0, 200.0]
    assert list(band["n"]) == [3, 3, 2]
    # step 100: 10, 12 (interpolated over the NaN window), 14
    assert band["mean"] == pytest.approx([2.0, 12.0, 21.0])
    assert 10.0 <= band["lo"][1] <= 12.0 <= band["hi"][1] <= 14.0
    one = mean_curve([([0, 100], [1.0, 2.0])], points=2)
    assert np.isnan(one["lo"]).all()  # one seed: no band


def test_the_report_opens_with_the_answer_and_its_intervals(seeded):
    out = build_report(seeded)
    md = (out / "report.md").read_text()
    assert md.index("## The answer") < md.index("## How the numbers are made")
    line = next(x for x in md.splitlines() if x.startswith("- progressive-2col"))
    assert "P(a run beats baseline 1) 1.00 [1.00, 1.00] (n=3)" in line
    assert line.endswith("better than baseline 1 (the interval is above 0.5).")
    assert (out / "summary_intervals.png").stat().st_size > 1000
    assert md.index("summary_intervals.png") < md.index("## How the numbers are made")


def test_one_seed_per_cell_is_called_an_anecdote(seeded):
    for d in seeded.glob("*/*/seed[12]"):
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
    md = (build_report(seeded) / "report.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("- progressive-2col"))
    assert line.endswith("one seed per cell, no interval: an anecdote, not a result.")


def test_the_ratio_needs_baseline_1s_interval_clear_of_the_gate(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "floors.json").write_text(json.dumps({"pong_soup/white": {"floor": -21.0}}))
    # baseline 1's AUC_n per seed: 0, 0, 0.5 -> mean 1/6 >= 0.1, but its interval reaches 0
    for seed, b in enumerate([-21.0, -21.0, 0.0]):
        write_run(root, "pong_soup/white", "scratch", [], [(0, b), (100, b)], seed=seed)
        write_run(
            root,
            "pong_soup/white",
            "progressive",
            ["pong_soup/pong"],
            [(0, 7.0), (100, 7.0)],
            seed=seed,
        )
    prog = rows(build_report(root))["progressive-2col"]
    assert float(prog["auc_normalized_baseline"]) == pytest.approx(1 / 6, abs=1e-4)
    assert prog["measure"] == "ft"  # the point passes the 0.1 gate, the interval does not
