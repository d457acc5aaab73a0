"""`xfer plan`: totals by hand, the estimate's arithmetic, the calibration cache."""

import json

import pytest

from benchmarks.budgets import BUDGETS
from benchmarks.plan import RUN_OVERHEAD_S, SPEED_FACTORS, cache_path, estimate, plan_text
from benchmarks.runner import plan_runs
from benchmarks.suites import SUITES
from runstore.config import RunConfig


def test_estimate_by_hand():
    scratch = RunConfig(task="pong_soup/pong", steps=600_000)
    prog = RunConfig(
        task="pong_soup/hflip", agent="progressive", sources=("pong_soup/pong",), steps=600_000
    )
    waves = [[scratch], [scratch, prog]]
    est = estimate(waves, steps_per_s=1_000.0, concurrency=2, frames_per_step=4)
    t_scratch = 600 + RUN_OVERHEAD_S
    t_prog = 600 / SPEED_FACTORS[2] + RUN_OVERHEAD_S
    # wave 1 alone; wave 2: two runs at once, so the slower one decides
    assert est["wall_s"] == pytest.approx(t_scratch + max((t_scratch + t_prog) / 2, t_prog))
    assert est["agent_steps"] == 1_800_000 and est["frames"] == 7_200_000
    assert est["runs"] == 3 and est["waves"] == 2
    with pytest.raises(ValueError):
        estimate(waves, 0.0, 1, 4)


@pytest.mark.ray
def test_plan_uses_the_cached_calibration_of_this_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # every run counted (the zoo stands in for some sources: seed 1's Pong column)
    text = plan_text("pong-soup", "paper", calibrate=False, use_zoo=False)
    waves, _ = plan_runs(SUITES["pong-soup"], BUDGETS["paper"], {})
    runs = [c for w in waves for c in w]
    total = sum(c.steps for c in runs)
    assert f"{len(runs)} runs to train in {len(waves)} wave(s)" in text
    assert f"agent steps {total:,}, frames {total * 4:,}" in text
    assert "estimated wall time: unknown" in text  # nothing measured, nothing invented
    # a calibration cached for this cluster is used for the estimate
    from benchmarks.plan import _cluster_key

    key, _ = _cluster_key(None)
    cache_path().parent.mkdir(parents=True)
    cache_path().write_text(
        json.dumps({key: {"pong_soup": {"steps_per_s": 1500.0, "measured": "earlier"}}})
    )
    # every run counted (the zoo stands in for some sources: seed 1's Pong column)
    text = plan_text("pong-soup", "paper", calibrate=False, use_zoo=False)
    expected = estimate(waves, 1500.0, 1, 4)["wall_s"]
    hours, rem = divmod(int(expected), 3600)
    assert f"estimated wall time: {hours}h{rem // 60:02d}m" in text
    assert "1,500 agent steps/s (cached calibration of earlier" in text
