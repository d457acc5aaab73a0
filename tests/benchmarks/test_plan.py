"""`xfer plan`: totals by hand, the estimate's arithmetic, the calibration cache, the runs
an existing results folder saves."""

import dataclasses
import json

import pytest

from benchmarks.budgets import BUDGETS
from benchmarks.plan import RUN_OVERHEAD_S, SPEED_FACTORS, cache_path, estimate, plan_text
from benchmarks.runner import plan_runs
from benchmarks.suites import SUITES
from runstore.config import RunConfig, run_dir_for


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


@pytest.mark.ray
def test_plan_with_out_counts_only_what_a_sweep_into_it_would_train(tmp_path, monkeypatch):
    """Finished runs in ``--out`` that the sweep reuses are not counted; a finished run
    of another config is named as the refusal the sweep would stop on."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    waves, manifest = plan_runs(SUITES["pong-soup"], BUDGETS["laptop"], {})
    before = plan_text("pong-soup", "laptop", calibrate=False)
    targets = [RunConfig.from_dict(m["config"]) for m in manifest]
    out = tmp_path / "results"
    for cfg in targets[:2]:
        run = run_dir_for(out, cfg)
        run.mkdir(parents=True)
        saved = cfg if cfg is targets[0] else dataclasses.replace(cfg, lr=cfg.lr * 2)
        (run / "config.json").write_text(json.dumps({"run": saved.to_dict()}))
        (run / "status.json").write_text(json.dumps({"state": "done", "env_steps": cfg.steps}))
        (run / "curve.csv").write_text(
            "env_steps,frames,episodes,episode_return_mean,wall_time\n"
            f"0,0,1,-21.0,1.0\n{cfg.steps},{cfg.steps * 4},9,-20.0,2.0\n"
        )
    text = plan_text("pong-soup", "laptop", calibrate=False, out=out)
    n_before = int(before.split(": ", 1)[1].split(" runs to train")[0])
    assert f": {n_before - 1} runs to train" in text
    assert f"1 finished run(s) in {out} reused, not counted" in text
    assert "refused (xfer bench would stop here): " in text and "differs in ['lr']" in text
    assert "sweeps so far" not in text  # no sweeps.json: nothing to say
    # two earlier sweeps into the folder, one killed: their pieces add up (1 h + 30 min)
    (out / "sweeps.json").write_text(
        json.dumps(
            [
                {"started": 0, "last_seen": 3600, "ended": None, "trained": 5},
                {"started": 9000, "last_seen": 10800, "ended": 10800, "trained": 2},
            ]
        )
    )
    text = plan_text("pong-soup", "laptop", calibrate=False, out=out)
    line = f"sweeps so far into {out}: 2 piece(s), 1 still open, 1h30m of wall time, 7 run(s)"
    assert line in text


def test_plan_with_out_estimates_from_the_speeds_its_finished_runs_measured(tmp_path, monkeypatch):
    """Each finished run's steps over its training wall time, scaled to one column by its
    network's factor, and the median over runs: 2,000 steps/s here (a 1-column run at
    1,000 and one at 3,000, a 2-column run at 1,480, that is 2,000 for one column, 0.74
    of it); a zoo column restored into the folder
    and a run of another domain are left out; no calibration runs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "results"

    def finished(cfg, steps_per_s, zoo=False):
        run = run_dir_for(out, cfg)
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"run": cfg.to_dict()}))
        status = {"state": "done", "env_steps": 600_000, "wall_time": 600_000 / steps_per_s}
        (run / "status.json").write_text(json.dumps(status))
        if zoo:
            (run / "zoo.json").write_text("{}")

    base = dict(steps=600_000, tag="measured")
    finished(RunConfig(task="pong_soup/white", agent="scratch", seed=7, **base), 1000.0)
    finished(RunConfig(task="pong_soup/black", agent="scratch", seed=7, **base), 3000.0)
    prog = RunConfig(
        task="pong_soup/zoom", agent="progressive", sources=("pong_soup/pong",), seed=7, **base
    )
    finished(prog, 1480.0)
    finished(RunConfig(task="catch_soup/pong", agent="scratch", seed=7, **base), 9000.0)
    finished(RunConfig(task="pong_soup/pong", agent="scratch", seed=8, **base), 9000.0, zoo=True)
    from benchmarks.plan import measured_speed
    from runstore.rundir import RunDir

    assert RunDir(
        run_dir_for(out, RunConfig(task="pong_soup/pong", seed=8, **base))
    ).zoo_marker.is_file()
    speed, source = measured_speed(out, "pong_soup")
    assert speed == pytest.approx(2000.0) and "median of 3 finished run(s)" in source
    text = plan_text("pong-soup", "laptop", calibrate=False, out=out)
    assert "1-column training speed: 2,000 agent steps/s (median of 3 finished run(s)" in text
    assert not cache_path().exists()  # nothing calibrated


def test_a_calibration_on_a_busy_machine_is_flagged(tmp_path, monkeypatch):
    """The calibration records this machine's load when it starts; measured beside other
    work (load above a quarter of the CPUs) its speed is slow, and the plan's line says
    so, now and from the cache. On an idle machine, no such words."""
    import benchmarks.perf
    import benchmarks.plan as plan

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(plan, "_cluster_key", lambda a: ("local|cpus=2|gpus=0", {"CPU": 2.0}))
    monkeypatch.setattr(
        benchmarks.perf, "training_throughput", lambda *a, **k: {"steps_per_s": 500.0}
    )
    for load, busy in [(1.6, True), (0.4, False)]:
        monkeypatch.setattr(plan.os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        rate, now = plan.calibrated_speed("pong_soup", "pong_soup/noisy", {}, None, True)
        rate_cached, cached = plan.calibrated_speed("pong_soup", "pong_soup/noisy", {}, None, False)
        assert rate == rate_cached == 500.0
        for text in (now, cached):
            assert ("busy (1-min load 1.6 on 2 CPUs)" in text) is busy, text
        assert (
            json.loads(cache_path().read_text())["local|cpus=2|gpus=0"]["pong_soup"]["load_before"]
            == load
        )
        cache_path().unlink()
