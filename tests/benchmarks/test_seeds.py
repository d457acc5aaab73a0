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
    suite, budget = get_suite("atari"), get_budget("smoke")
    assert seeds_for(budget, "atari") == 1
    _, one = plan_runs(suite, budget)
    _, three = plan_runs(suite, budget, seeds=3)
    assert len(three) == 3 * len(one)
    assert [m["config"] for m in one] == [m["config"] for m in three if m["seed"] == 0]


def test_the_laptop_pong_matrix_has_three_seeds_on_the_one_zoo_column():
    """``make bench-pong``: 3 seeds of baselines 1 and 3 and progressive on hflip and
    noisy, every seed's target on the seed-0 source (the shipped zoo column), so only
    the targets train; seed 0's configs are those of the committed one-seed runs."""
    from runstore.config import RunConfig, run_dir_for, source_config

    suite, budget = get_suite("pong-soup"), get_budget("laptop")
    waves, manifest = plan_runs(suite, budget)
    cells = Counter((m["label"], m["target"]) for m in manifest)
    assert set(cells) == {
        (label, f"pong_soup/{t}")
        for label in ("baseline1-scratch", "baseline3-finetune-all", "progressive-2col")
        for t in ("hflip", "noisy")
    }
    assert set(cells.values()) == {3}
    sources = {source_config(RunConfig.from_dict(m["config"])) for m in manifest} - {None}
    assert len(sources) == 1
    (source,) = sources
    assert (source.task, source.agent, source.seed) == ("pong_soup/pong", "scratch", 0)
    assert [c for c in waves[0] if c.sources == () and c.task == "pong_soup/pong"] == [source]
    for m in manifest:
        cfg = RunConfig.from_dict(m["config"])
        assert cfg.source_seed == (None if m["seed"] == 0 or not cfg.sources else 0)
    # distinct seeds of a cell are distinct run directories
    dirs = {run_dir_for("r", RunConfig.from_dict(m["config"])) for m in manifest}
    assert len(dirs) == len(manifest) == 18
    # the shipped zoo column matches that source run's identity
    from benchmarks.zoo import find_zoo_run

    assert find_zoo_run(source, log=lambda *_: None) is not None


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
