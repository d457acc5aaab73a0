"""Seeds are a dimension of every suite: the budget says how many per cell, ``--seeds N``
(``SEEDS=`` in the Makefile) overrides it, and bad values are one clear line."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.budgets import get_budget
from benchmarks.cli import main
from benchmarks.runner import plan_runs, seeds_for
from benchmarks.suites import get_suite


def test_the_laptop_catch_matrix_has_five_seeds_per_cell_with_their_own_sources():
    suite, budget = get_suite("catch-soup"), get_budget("laptop")
    waves, manifest = plan_runs(suite, budget)
    cells = Counter((m["label"], tuple(m["sources"]), m["target"]) for m in manifest)
    assert set(cells.values()) == {5} and len(cells) == len(suite.reduced)
    per_cell = {}
    for m in manifest:
        per_cell.setdefault((m["label"], m["target"]), []).append(m["seed"])
        assert m["config"]["seed"] == m["seed"] and m["config"]["tag"] == ""
        assert m["config"]["lr"] == 7e-4  # a cell's seeds share the default hyperparameters
    assert all(sorted(s) == [0, 1, 2, 3, 4] for s in per_cell.values())
    # every seed trains its own source column (same seed), shared by that seed's cells
    sources = [c for c in waves[0] if c.task == "catch_soup/pong" and c.agent == "scratch"]
    assert sorted(c.seed for c in sources) == [0, 1, 2, 3, 4]


def test_seeds_override_the_budget_and_one_seed_is_the_old_matrix():
    suite, budget = get_suite("pong-soup"), get_budget("laptop")
    assert seeds_for(budget, "pong_soup") == 1
    _, one = plan_runs(suite, budget)
    _, three = plan_runs(suite, budget, seeds=3)
    assert len(three) == 3 * len(one)
    assert [m["config"] for m in one] == [m["config"] for m in three if m["seed"] == 0]


def test_the_paper_budget_keeps_its_jobs_and_refuses_seeds():
    suite, budget = get_suite("pong-soup"), get_budget("paper")
    _, manifest = plan_runs(suite, budget)
    jobs = [
        m for m in manifest if m["label"] == "baseline1-scratch" and m["target"].endswith("/pong")
    ]
    assert len(jobs) == 25 and jobs[1]["config"]["tag"] == "job1"
    with pytest.raises(ValueError, match="samples hyperparameters per job"):
        plan_runs(suite, budget, seeds=2)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="seeds must be a positive integer"):
            seeds_for(get_budget("laptop"), "pong_soup", bad)


@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5", ""])
def test_a_bad_seeds_option_is_one_line_and_exit_2_and_touches_nothing(value, tmp_path, capsys):
    out = tmp_path / "results"
    assert (
        main(["bench", "catch-soup", "--budget", "smoke", f"--seeds={value}", "--out", str(out)])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"xfer: error: --seeds must be a positive whole number, got {value!r}"]
    assert not out.exists()
