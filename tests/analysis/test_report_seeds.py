"""A report over several seeds per cell: n and intervals, checked by hand (Student t,
Welch's t with the delta method, Newcombe's score interval) and by exact enumeration of
every bootstrap resample (the estimates that keep the percentile bootstrap)."""

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
    # baseline 1's mean AUC_n 1/6 passes the 0.1 gate, its first run (AUC_n 0) does not:
    # FT is the cell's measure; the ratio and its interval are still in the CSV
    assert prog["measure"] == "ft"

    # FT's interval by hand: the delta method's variance terms, Welch's df, t at the
    # calibrated level for 3 runs
    from scipy import stats as sp

    from analysis.stats import level_for

    x, y = (np.array(PROG) + 21) / 42, (np.array(BASE) + 21) / 42
    mx, my = x.mean(), y.mean()
    tx = x.var(ddof=1) / 3 / (1 - my) ** 2
    ty = ((mx - 1) / (1 - my) ** 2) ** 2 * y.var(ddof=1) / 3
    df = (tx + ty) ** 2 / (tx**2 / 2 + ty**2 / 2)
    half = sp.t.ppf(0.5 + level_for("ft", 3) / 2, df) * np.sqrt(tx + ty)
    assert float(prog["forward_transfer_lo"]) == pytest.approx(0.6 - half, abs=1e-4)
    assert float(prog["forward_transfer_hi"]) == pytest.approx(0.6 + half, abs=1e-4)

    def ratio(x, y):
        return 100 * (x.mean() + 21) / (y.mean() + 21) if y.mean() > -21 else np.nan

    lo, hi = exact_percentiles(ratio)
    assert float(prog["transfer_lo"]) == pytest.approx(lo, rel=0.05)
    assert float(prog["transfer_hi"]) == pytest.approx(hi, rel=0.05)
    # the AUC's own interval: Student t over the 3 scores (sd 7), reaching past [0, 14]
    half = sp.t.ppf(0.5 + level_for("mean", 3) / 2, 2) * 7 / np.sqrt(3)
    assert float(prog["auc_lo"]) == pytest.approx(7.0 - half, abs=1e-3)
    assert float(prog["auc_hi"]) == pytest.approx(7.0 + half, abs=1e-3)


def test_table1_gives_intervals_and_the_probability_of_improvement(seeded):
    out = build_report(seeded)
    text = (out / "table1.txt").read_text()
    # a seeded budget's runs are seeds, not the paper's top jobs
    assert (
        text.splitlines()[0] == "Table 1 (pong_soup, transfer %, mean over up to 3 seeds per cell)"
    )
    line = next(x for x in text.splitlines() if x.startswith("progressive-2col"))
    # every progressive seed beats every baseline seed: P = 1, but 3 runs against 3
    # cannot exclude 0.5 (the exact rank test's p is 0.1): Newcombe's interval keeps it
    p = next(c for c in line.split("  ") if c.strip().startswith("1.00 ["))
    lo = float(p.split("[")[1].split(",")[0])
    assert lo < 0.5 and p.strip().endswith("1.00] (n=3)")
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
    # the asymptote's interval is a cell mean's: Student t over 21, 21, -21 at the
    # calibrated level (a percentile bootstrap could not leave [-21, 21])
    from scipy import stats as sp

    from analysis.stats import level_for

    half = sp.t.ppf(0.5 + level_for("mean", 3) / 2, 2) * np.std([21, 21, -21], ddof=1) / 3**0.5
    assert float(prog["asymptotic_lo"]) == pytest.approx(7.0 - half, abs=1e-3)
    assert float(prog["asymptotic_hi"]) == pytest.approx(7.0 + half, abs=1e-3)


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
    # step 100: 10, 12 (interpolated over the NaN window), 14; step 200: the third seed
    # ended before it, so no mean there (a mean of the other two would jump by its loss)
    assert band["mean"][:2] == pytest.approx([2.0, 12.0])
    assert np.isnan(band["mean"][2]) and np.isnan(band["lo"][2]) and np.isnan(band["hi"][2])
    assert 10.0 <= band["lo"][1] <= 12.0 <= band["hi"][1] <= 14.0
    # three seeds a window apart at the end: the last grid step is one seed's alone
    ends = mean_curve(
        [([0, 1000], [0.0, 0.0]), ([0, 1001], [0.0, 0.0]), ([0, 1000, 1010], [0.0, 0.0, 30.0])],
        points=5,
    )
    assert np.isnan(ends["mean"][-1]) and list(ends["n"])[-1] == 1
    assert np.nanmax(ends["mean"]) < 1.0  # no jump to 30
    one = mean_curve([([0, 100], [1.0, 2.0])], points=2)
    assert np.isnan(one["lo"]).all()  # one seed: no band


def test_the_report_opens_with_the_answer_and_its_intervals(seeded):
    out = build_report(seeded)
    md = (out / "report.md").read_text()
    assert md.index("## The answer") < md.index("## How the numbers are made")
    line = next(x for x in md.splitlines() if x.startswith("- progressive-2col"))
    assert "P(a run beats baseline 1) 1.00 [0.45, 1.00] (n=3)" in line
    assert line.endswith("the intervals do not support a difference from baseline 1.")
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


def test_the_ratio_needs_every_baseline_1_run_clear_of_the_gate(tmp_path):
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
    assert prog["measure"] == "ft"  # the mean passes the 0.1 gate, two of the runs do not
    # the report's matrix shows no ratio there, and says why (the CSV keeps the number)
    md = (root / "report" / "report.md").read_text()
    row = next(x for x in md.splitlines() if x.startswith("| progressive-2col | pong"))
    assert "- (baseline 1 under AUC_n 0.1 in a run)" in row


def _analysis(shares_new, kind, episodes=None):
    """An afs.json / aps.json whose newest column has ``shares_new[layer]`` per layer."""
    layers = {
        lay: {"columns": [None if v is None else 1 - v, v]}
        for lay, v in zip(("conv1", "conv2", "conv3", "fc"), shares_new, strict=True)
    }
    data = {"layers": layers}
    if episodes:
        data["episodes"] = episodes
    return json.dumps(data)


def test_afs_and_aps_of_every_seed_are_averaged_with_intervals(seeded):
    """The sensitivity table: per layer, the mean of the seeds' newest-column shares with
    the interval of a cell's mean at n = 3 (Student t at nominal 99%, by hand from the
    printed t table's 9.925 for 2 degrees of freedom), clipped to [0, 1]; a run whose layer
    is undefined (all its features dead) leaves that layer's n one short; a run without
    the file is not counted."""
    afs = [(0.38, 0.5, 0.9, None), (0.40, 0.5, 0.6, 0.3), (0.42, 0.5, 0.3, 0.5)]
    aps = [(0.1, 0.2, 0.3, 0.4), (0.3, 0.4, 0.5, 0.6)]  # seed 2 has no aps.json
    for seed in range(3):
        run = seeded / "pong_soup-hflip" / "progressive_from_pong_soup-pong" / f"seed{seed}"
        (run / "afs.json").write_text(_analysis(afs[seed], "afs"))
        if seed < 2:
            (run / "aps.json").write_text(_analysis(aps[seed], "aps", episodes=2))
    out = build_report(seeded)
    md = (out / "report.md").read_text()
    table = md.split("## Sensitivity of the new column (AFS and APS)", 1)[1].split("\n## ", 1)[0]
    lines = [x for x in table.splitlines() if x.startswith("| progressive-2col")]
    assert len(lines) == 2
    afs_cells = [c.strip() for c in lines[0].split("|")[1:-1]]
    aps_cells = [c.strip() for c in lines[1].split("|")[1:-1]]
    assert afs_cells[3] == "AFS" and aps_cells[3] == "APS (2 ep. per level)"
    half = 9.925 * 0.02 / np.sqrt(3)  # sd of 0.38, 0.40, 0.42 is 0.02
    assert afs_cells[4] == f"0.40 [{0.40 - half:.2f}, {0.40 + half:.2f}] (n=3)"
    assert afs_cells[6] == "0.60 [0.00, 1.00] (n=3)"  # 0.60 +- 1.72, clipped to a share's range
    assert afs_cells[5] == "0.50 [0.50, 0.50] (n=3)"  # no spread, no width
    assert afs_cells[7].startswith("0.40 [") and afs_cells[7].endswith("(n=2)")  # one dead
    assert aps_cells[4].startswith("0.20 [") and aps_cells[4].endswith("(n=2)")
    assert (out / "sensitivity_per_layer.png").is_file()
    assert (out / "transfer_vs_afs.png").is_file()
    html = (out / "index.html").read_text()
    assert "Sensitivity of the new column" in html and "sensitivity_per_layer.png" in html


def test_a_report_without_analyses_has_no_sensitivity_section(seeded):
    out = build_report(seeded)
    assert "## Sensitivity" not in (out / "report.md").read_text()
    assert not (out / "sensitivity_per_layer.png").exists()


def test_speed_up_is_baseline_1s_median_time_over_the_cells(tmp_path):
    """PathNet's speed-up over seeds, by hand: Pong's threshold is half way from the floor
    (-21) to the top (21), a score of 0; baseline 1's seeds reach it at 400 and 600 steps
    and never (a censored time, sorted last: median 600), progressive's at 100, 200 and
    300 (median 200): 3.0x. Its interval's bounds come from resamples of those times."""
    root = tmp_path / "results"
    root.mkdir()
    (root / "floors.json").write_text(json.dumps({"pong_soup/hflip": {"floor": -21.0}}))
    base = [[(0, -21.0), (400, 0.0), (1000, 0.0)], [(0, -21.0), (600, 0.0), (1000, 0.0)]]
    base.append([(0, -21.0), (1000, -10.0)])
    prog = [[(0, -21.0), (t, 0.0), (1000, 0.0)] for t in (100, 200, 300)]
    for seed in range(3):
        write_run(root, "pong_soup/hflip", "scratch", [], base[seed], seed=seed)
        write_run(root, "pong_soup/hflip", "progressive", ["pong_soup/pong"], prog[seed], seed=seed)
    out = build_report(root)
    prog_row = rows(out)["progressive-2col"]
    assert float(prog_row["speed_up"]) == pytest.approx(3.0)
    assert prog_row["time_to_threshold"] == "200"
    assert rows(out)["baseline1-scratch"]["time_to_threshold"] == "600"
    # every resample's value: medians of 3 draws from {400, 600, inf} over {100, 200, 300}
    draws = list(itertools.product(range(3), repeat=3))
    b_times, p_times = [400.0, 600.0, np.inf], [100.0, 200.0, 300.0]
    support = {
        np.median([b_times[i] for i in a]) / np.median([p_times[i] for i in c])
        for a in draws
        for c in draws
    }
    lo, hi = prog_row["speed_up_lo"], prog_row["speed_up_hi"]
    assert float(lo) in {round(v, 3) for v in support if np.isfinite(v)}
    assert hi == "inf" or float(hi) in {round(v, 3) for v in support}
    md = (out / "report.md").read_text()
    assert "| 3.00x [" in md and "200k" not in md.split("## Transfer matrix")[0]


def test_table1_aggregates_carry_intervals_and_progressive_meets_every_baseline(tmp_path):
    """Two targets, 3 seeds: Table 1's ratio mean and median and FT median are the hand
    computations with intervals; progressive-2col against each baseline gives the
    probability of beating it and what its interval supports."""
    root = tmp_path / "results"
    root.mkdir()
    floors = {"pong_soup/hflip": {"floor": -21.0}, "pong_soup/noisy": {"floor": -21.0}}
    (root / "floors.json").write_text(json.dumps(floors))
    base = {"hflip": [0.0, 2.0, 4.0], "noisy": [-7.0, -7.0, -7.0]}  # AUC_n 0.5-0.6, 1/3
    prog = {"hflip": [10.0, 12.0, 14.0], "noisy": [7.0, 7.0, 7.0]}
    head = {"hflip": [-21.0, -21.0, -21.0], "noisy": [-21.0, -21.0, -21.0]}  # at the floor
    for t in ("hflip", "noisy"):
        task = f"pong_soup/{t}"
        for seed in range(3):
            flat = lambda v: [(0, v), (100, v)]  # noqa: E731
            write_run(root, task, "scratch", [], flat(base[t][seed]), seed=seed)
            write_run(root, task, "progressive", ["pong_soup/pong"], flat(prog[t][seed]), seed=seed)
            write_run(
                root, task, "finetune-head", ["pong_soup/pong"], flat(head[t][seed]), seed=seed
            )
    out = build_report(root)
    table = (out / "table1.txt").read_text().splitlines()
    line = next(x for x in table if x.startswith("progressive-2col"))
    # ratio (AUC + 21) / (AUC_base + 21): hflip 33 / 23, noisy 28 / 14
    r_hflip, r_noisy = 100 * 33 / 23, 100 * 28 / 14
    assert f"{(r_hflip + r_noisy) / 2:.0f}% [" in line  # mean over the two targets
    assert f"{np.median([r_hflip, r_noisy]):.0f}% [" in line  # median of two = mean
    # FT per target: hflip (33/42 - 23/42) / (1 - 23/42); noisy (28/42 - 14/42) / (1 - 14/42)
    ft = [(33 - 23) / (42 - 23), (28 - 14) / (42 - 14)]
    assert f"{np.median(ft):.2f} [" in line
    md = (out / "report.md").read_text()
    versus = md.split("Progressive nets against each baseline:", 1)[1].split("\n## ", 1)[0]
    rows = {r.split("|")[1].strip(): r for r in versus.splitlines() if r.startswith("| baseline")}
    # every progressive run beats every baseline run on both targets: P = 1; over two
    # targets (6 runs against 6) Newcombe's interval excludes 0.5
    assert "1.00 [0.62, 1.00] (n=3)" in rows["baseline1-scratch"]
    assert "better (the interval is above 0.5)" in rows["baseline2-finetune-head"]
    answer = md.split("## The answer", 1)[1].split("## How the numbers", 1)[0]
    assert "the paper's ratio" in answer and "over 2 target(s)" in answer


def _forgetting(run_dir, scores):
    data = {"task": "pong_soup/pong", "episodes": len(scores), "seed": 4242, "greedy": False}
    data.update(scores=scores, mean=sum(scores) / len(scores))
    (run_dir / "forgetting_pong_soup-pong.json").write_text(json.dumps(data))


def _forgetting_section(root):
    md = (build_report(root) / "report.md").read_text()
    section = md.split("## Forgetting", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| progressive")]


def test_forgetting_pairs_each_seed_with_its_own_source_and_averages(seeded):
    """Seed s's target run is compared with seed s's source run; the row is the mean over
    the three pairs, with the calibrated t interval by hand and n = 3."""
    befores = ([10.0, 10.0], [12.0, 12.0], [-1.0, -1.0])  # source runs of seeds 0, 1, 2
    afters = ([10.0, 10.0], [10.0, 12.0], [-9.0, -1.0])  # lost 0, 1, 4: mean 5/3
    for seed, (b, a) in enumerate(zip(befores, afters, strict=True)):
        src = write_run(seeded, "pong_soup/pong", "scratch", [], [(0, 0), (100, 0)], seed=seed)
        _forgetting(src, b)
        _forgetting(
            seeded / "pong_soup-hflip" / "progressive_from_pong_soup-pong" / f"seed{seed}", a
        )
    (row,) = _forgetting_section(seeded)
    cols = [c.strip() for c in row.strip("|").split("|")]
    # before (10 + 12 - 1) / 3 = 7, after (10 + 11 - 5) / 3 = 16/3
    assert cols[3:5] == ["7.000", "5.333"]
    lost = np.array([0.0, 1.0, 4.0])
    value, bounds = cols[5].split(" [")
    assert float(value) == pytest.approx(5 / 3, abs=1e-3)
    lo, hi = (float(x) for x in bounds.split("]")[0].split(", "))
    # Student t at nominal 99% (the calibrated level at n = 3): the t table's 9.925 for 2
    # degrees of freedom, times the pairs' standard deviation over the root of 3
    half = 9.925 * lost.std(ddof=1) / np.sqrt(3)
    assert lo == pytest.approx(5 / 3 - half, abs=0.01) and hi == pytest.approx(
        5 / 3 + half, abs=0.01
    )
    assert cols[5].endswith("n=3")
    # relative: 0 / 31, 1 / 33, 4 / 20 over the floor -21
    assert cols[6].startswith(f"{np.mean([0, 1 / 33, 4 / 20]):.2f} [")
    assert cols[7] == "2 of 6"  # one episode of seed 1 and one of seed 2


def test_forgetting_with_one_shared_source_run(seeded):
    """With ``source_seed`` 0 every seed's target pairs with the seed-0 source run."""
    src = write_run(seeded, "pong_soup/pong", "scratch", [], [(0, 0), (100, 0)], seed=0)
    _forgetting(src, [10.0, 10.0])
    for seed in range(3):
        d = seeded / "pong_soup-hflip" / "progressive_from_pong_soup-pong" / f"seed{seed}"
        cfg = json.loads((d / "config.json").read_text())
        cfg["run"]["source_seed"] = 0 if seed else None
        (d / "config.json").write_text(json.dumps(cfg))
        _forgetting(d, [10.0, 10.0 - 2 * seed])  # lost 0, 1, 2
    (row,) = _forgetting_section(seeded)
    cols = [c.strip() for c in row.strip("|").split("|")]
    assert cols[3:5] == ["10.000", "9.000"]
    assert cols[5].startswith("1.000 [") and cols[5].endswith("n=3")


def test_a_speed_up_over_a_baseline_that_never_got_there_says_so():
    """Baseline 1's median never reached the threshold: the speed-up is undefined and
    says so with "-" (no "inf [inf, inf]"); a defined one keeps its interval."""
    import math

    from analysis.render import _speed_text, _steps_text
    from analysis.stats import Estimate

    never = Estimate(math.inf, math.nan, math.nan, 3)
    assert _speed_text(never) == "- (baseline 1 never got there)"
    assert (
        _speed_text(Estimate(math.inf, math.inf, math.inf, 3)) == "- (baseline 1 never got there)"
    )
    assert _speed_text(Estimate(2.0, 1.5, 3.0, 3)) == "2.00x [1.50x, 3.00x] (n=3)"
    assert _steps_text(Estimate(math.inf, math.nan, math.nan, 1)) == "never (n=1, no interval)"
