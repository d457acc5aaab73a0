"""The statistics over seeds against hand computations, scipy's own implementations, and
a coverage test (synthetic seeds with a known mean: the 95% intervals hold it in about
95% of repeats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from analysis.stats import (
    Estimate,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    interval,
    paired_interval,
    probability_of_improvement,
    stratified_bootstrap,
)

# 3 seeds x 2 tasks, scores chosen so every aggregate differs
TABLE = np.array([[0.0, 10.0], [2.0, 20.0], [4.0, 60.0]])


def test_aggregates_by_hand():
    # task means 2 and 30
    assert aggregate_mean(TABLE) == 16.0
    assert aggregate_median(TABLE) == 16.0  # the median of two task means is their mean
    three = np.hstack([TABLE, [[1.0], [1.0], [1.0]]])  # task means 2, 30, 1
    assert aggregate_median(three) == 2.0
    # all 6 scores sorted 0 2 4 10 20 60; 25% of 6 is 1.5 -> 1 trimmed from each end
    assert aggregate_iqm(TABLE) == pytest.approx((2 + 4 + 10 + 20) / 4)


def test_iqm_is_scipys_trimmed_mean():
    rng = np.random.default_rng(3)
    for n in (4, 8, 12, 20):
        x = rng.normal(size=(n, 3))
        assert aggregate_iqm(x) == pytest.approx(sp.trim_mean(x.ravel(), 0.25))


def test_probability_of_improvement_by_hand():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    y = np.array([[2.0, 5.0], [2.0, 6.0], [0.0, 4.0]])
    # task 0: x=1 beats 0 only (1/3); x=3 beats all (3/3) -> 4/6
    # task 1: x=5 vs 5, 6, 4: tie, loss, win -> 1.5/3 for each x -> 3/6
    assert probability_of_improvement(x, y) == pytest.approx((4 / 6 + 3 / 6) / 2)
    # it is Mann-Whitney's U over n*m, per task
    u = sp.mannwhitneyu(x[:, 0], y[:, 0]).statistic
    assert u / 6 == pytest.approx(4 / 6)


def test_the_bootstrap_resamples_runs_within_each_task():
    boots = stratified_bootstrap(TABLE, reps=200, seed=1)
    assert boots.shape == (200, 3, 2)
    assert set(np.unique(boots[:, :, 0])) <= {0.0, 2.0, 4.0}
    assert set(np.unique(boots[:, :, 1])) <= {10.0, 20.0, 60.0}
    # with replacement: some resample repeats a run
    assert any(len(set(b[:, 0])) < 3 for b in boots)


def test_two_runs_interval_by_enumeration():
    # resample means of [0, 1]: 0 (1/4), 0.5 (1/2), 1 (1/4): the 2.5% and 97.5% points
    est = interval(np.array([[0.0], [1.0]]), reps=4_000)
    assert (est.value, est.lo, est.hi, est.n) == (0.5, 0.0, 1.0, 2)


def test_one_run_has_no_interval_and_says_so():
    est = interval(np.array([[3.0, 4.0]]))
    assert est.n == 1 and not est.has_interval and math.isnan(est.lo)
    assert est.text() == "3.50 (n=1, no interval)"
    assert Estimate(0.123, 0.05, 0.2, 5).text() == "0.12 [0.05, 0.20] (n=5)"


def test_a_one_task_interval_matches_scipys_percentile_bootstrap():
    x = np.random.default_rng(7).normal(2.0, 1.5, size=12)
    ours = interval(x[:, None], reps=20_000, seed=0)
    theirs = sp.bootstrap(
        (x,), np.mean, method="percentile", n_resamples=20_000, random_state=0
    ).confidence_interval
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert ours.lo == pytest.approx(theirs.low, abs=0.05 * se)
    assert ours.hi == pytest.approx(theirs.high, abs=0.05 * se)


def test_paired_interval_of_a_clear_improvement():
    rng = np.random.default_rng(0)
    better, worse = rng.normal(1.0, 0.1, (5, 3)), rng.normal(0.0, 0.1, (5, 3))
    est = paired_interval(better, worse)
    assert est.value == 1.0 and est.lo == 1.0 and est.n == 5
    assert paired_interval(better[:1], worse).has_interval is False


@pytest.mark.parametrize("tasks", [1, 3])
def test_95_percent_intervals_hold_the_known_mean_about_95_percent_of_the_time(tasks):
    rng = np.random.default_rng(2024 + tasks)
    repeats, seeds, hits = 400, 20, 0
    means = np.linspace(-5.0, 5.0, tasks)  # negative scores too
    for r in range(repeats):
        scores = rng.normal(means, 2.0, size=(seeds, tasks))
        est = interval(scores, reps=500, seed=r)
        hits += est.lo <= means.mean() <= est.hi
    coverage = hits / repeats
    # the percentile bootstrap under-covers slightly at 20 seeds (about 93-94%)
    assert 0.90 <= coverage <= 0.985, coverage
