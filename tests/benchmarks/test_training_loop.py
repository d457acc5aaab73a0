"""The training loop's rules against a fake trainer (no Ray, no env steps): seconds.

Curve points against a hand computation, resume without gap or duplicate after Ctrl-C,
the identity of a finished or interrupted run, extension, the run lock, and a method's
hooks (a toy method registered here trains and shows in a report). The Ray tests in
``test_training.py`` keep one end-to-end check of each through RLlib.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
from fake_trainer import (
    EPISODES_PER_ITER,
    FAKE_RUN,
    STEPS_PER_ITER,
    FakeTrainer,
    fake_factory,
    fresh_trainer_list,  # noqa: F401 - autouse fixture
    quiet,
    score,
)

from agents import load_agent
from benchmarks.runsetup import RunHeldError, TrainingError
from benchmarks.training import train
from methods import TrainingHooks, registered
from methods.baselines import Scratch
from runstore.config import RunConfig, run_dir_for
from runstore.rundir import RunDir

# 2000 steps in 5 iterations of 400; a point every 1000 steps at least
CFG = FAKE_RUN


def expected_curve(steps: int, window: int) -> list[tuple[float, float, float]]:
    """(env_steps, episodes, mean score) of every point, by hand: iterations of 400
    steps and 2 episodes; a point when a window is full, and one at the end."""
    points, start, first_episode = [], 0, 0
    for it in range(1, steps // STEPS_PER_ITER + 1):
        at, episodes = it * STEPS_PER_ITER, it * EPISODES_PER_ITER
        if at - start >= window or at >= steps:
            scores = [score(e) for e in range(first_episode, episodes)]
            points.append((float(at), float(episodes), sum(scores) / len(scores)))
            start, first_episode = at, episodes
    return points


def curve_of(run_dir):
    rows = RunDir(run_dir).read_curve()
    return [(r["env_steps"], r["episodes"], r["episode_return_mean"]) for r in rows]


def test_hand_computed_points_of_the_fake():
    # -3 -2 -1 0 1 2 in the first 1200 steps, then 3 -3 -2 -1
    assert expected_curve(2_000, 1_000) == [(1200.0, 6.0, -0.5), (2000.0, 10.0, -0.75)]


def test_a_run_writes_the_hand_computed_curve_weights_and_status(tmp_path):
    run_dir = train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory())
    assert curve_of(run_dir) == expected_curve(2_000, 1_000)
    status = RunDir(run_dir).read_status()
    assert status["state"] == "done" and status["env_steps"] == 2_000
    assert status["score_mean"] == pytest.approx(sum(score(e) for e in range(10)) / 10)
    assert status["policy_lag_updates"] == 1.0
    assert not (run_dir / "checkpoint").exists() and not (run_dir / ".lock").exists()
    trained = FakeTrainer.built[0]
    assert trained.stopped
    saved = load_agent(run_dir / "agent.pt").state_dict()
    assert all((saved[k] == v).all() for k, v in trained.net.state_dict().items())


def test_a_window_without_a_finished_episode_is_marked_not_repeated(tmp_path, monkeypatch):
    from analysis.metrics import area_under_curve

    monkeypatch.setattr(FakeTrainer, "quiet", frozenset({2, 3}))
    cfg = replace(CFG, curve_window=STEPS_PER_ITER)  # a point per iteration
    run_dir = train(cfg, tmp_path, log=quiet, trainer_factory=fake_factory())
    rows = RunDir(run_dir).read_curve()
    means = [r["episode_return_mean"] for r in rows]
    assert [r["env_steps"] for r in rows] == [400.0, 800.0, 1200.0, 1600.0, 2000.0]
    assert [r["episodes"] for r in rows] == [2.0, 2.0, 2.0, 4.0, 6.0]
    assert means[0] == -2.5 and means[3] == -0.5 and means[4] == 1.5  # episodes 0-1, 2-3, 4-5
    assert all(m != m for m in means[1:3])  # NaN: nothing measured, not the last point again
    # the AUC integrates the measured points only
    assert area_under_curve([r["env_steps"] for r in rows], means) == pytest.approx(
        area_under_curve([400, 1600, 2000], [-2.5, -0.5, 1.5])
    )


# Ctrl-C is a KeyboardInterrupt; a SIGTERM reaches the loop as SystemExit(15), raised by
# the handler ray.init installs in the driver
@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_ctrl_c_or_kill_leaves_a_run_that_resumes_without_gap_or_duplicate(tmp_path, stop):
    with pytest.raises(stop):
        train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory(fail_at=4, error=stop))
    run_dir = run_dir_for(tmp_path, CFG)
    status = RunDir(run_dir).read_status()
    assert status["state"] == "failed" and stop.__name__ in status["reason"]
    assert "rerun to resume" in status["reason"]
    assert not (run_dir / ".lock").exists()
    lines: list[str] = []
    train(CFG, tmp_path, log=lines.append, trainer_factory=fake_factory())
    assert any("resumed at 1200 env steps" in line for line in lines)
    assert curve_of(run_dir) == expected_curve(2_000, 1_000)
    assert FakeTrainer.built[1].iterations == 2  # 1600 and 2000 only: nothing trained twice


def test_a_finished_run_is_reused_only_by_the_same_config(tmp_path):
    train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory())
    lines: list[str] = []
    train(
        replace(CFG, env_runners=1, wandb=True),
        tmp_path,
        log=lines.append,
        trainer_factory=fake_factory(),
    )
    assert lines[-1].endswith("already done") and len(FakeTrainer.built) == 1
    with pytest.raises(TrainingError, match=r"finished run with another config .*'lr'"):
        train(replace(CFG, lr=1e-3), tmp_path, log=quiet, trainer_factory=fake_factory())
    with pytest.raises(TrainingError, match="finished run with another config .*'steps'"):
        train(replace(CFG, steps=4_000), tmp_path, log=quiet, trainer_factory=fake_factory())
    assert len(FakeTrainer.built) == 1


def test_an_interrupted_run_resumes_with_other_execution_settings_or_more_steps(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory(fail_at=3))
    with pytest.raises(TrainingError, match=r"holds a run with another config .*'lr'"):
        train(replace(CFG, lr=1e-3), tmp_path, log=quiet, trainer_factory=fake_factory())
    lines: list[str] = []
    longer = replace(CFG, steps=2_800, env_runners=1)
    run_dir = train(longer, tmp_path, log=lines.append, trainer_factory=fake_factory())
    assert any("other execution settings (env_runners)" in line for line in lines)
    assert any("extending the run from 2000 to 2800 steps" in line for line in lines)
    saved = json.loads((run_dir / "config.json").read_text())
    assert [e["steps"] for e in saved["extended"]] == [2_000]
    assert curve_of(run_dir) == expected_curve(2_800, 1_000)


def test_an_interrupted_run_may_end_early_after_one_more_iteration(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory(fail_at=4))
    run_dir = run_dir_for(tmp_path, CFG)
    lines: list[str] = []
    train(replace(CFG, steps=1_500), tmp_path, log=lines.append, trainer_factory=fake_factory())
    assert any("ending the run early, at 1500 steps instead of 2000" in ln for ln in lines)
    assert any("its checkpoint holds 1200" in ln for ln in lines)
    assert RunDir(run_dir).read_status()["state"] == "done"
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["run"]["steps"] == 1_500 and [e["steps"] for e in saved["extended"]] == [2_000]
    # one more iteration (1200 to 1600), which ends the curve with a point of its own
    assert FakeTrainer.built[-1].iterations == 1
    first = expected_curve(2_000, 1_000)[0]
    assert first[:2] == (1200.0, 6.0)
    assert curve_of(run_dir) == [first, (1600.0, 8.0, (score(6) + score(7)) / 2)]
    assert load_agent(run_dir / "agent.pt") is not None


@pytest.mark.parametrize("fail_at, last", [(4, []), (5, [(1600.0, 8.0, 0.0)])])
def test_an_interrupted_run_may_end_at_its_checkpoint_training_nothing_more(
    tmp_path, fail_at, last
):
    """A budget at or below the checkpoint's steps ends the run there: the curve is the
    points up to the checkpoint's window, plus that window's episodes as a last point
    when it has any (checkpoint at 1600: episodes 6 and 7 since the point at 1200, whose
    scores are 3 and -3; at 1200 the window is empty)."""
    with pytest.raises(KeyboardInterrupt):
        train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory(fail_at=fail_at))
    run_dir = run_dir_for(tmp_path, CFG)
    held = 400 * (fail_at - 1)
    lines: list[str] = []
    train(replace(CFG, steps=1_000), tmp_path, log=lines.append, trainer_factory=fake_factory())
    assert any(
        f"ending the run at its checkpoint, {held} steps (asked for 1000, budget 2000)" in ln
        for ln in lines
    ), lines
    assert FakeTrainer.built[-1].iterations == 0  # nothing trained after the checkpoint
    assert RunDir(run_dir).read_status()["state"] == "done"
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["run"]["steps"] == held and [e["steps"] for e in saved["extended"]] == [2_000]
    assert curve_of(run_dir) == [expected_curve(2_000, 1_000)[0], *last]
    assert load_agent(run_dir / "agent.pt") is not None


def test_a_run_held_by_another_live_process_is_refused_as_held(tmp_path):
    run_dir = run_dir_for(tmp_path, CFG)
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / ".lock").write_text(
            json.dumps({"pid": holder.pid, "host": socket.gethostname()})
        )
        with pytest.raises(RunHeldError, match=f"being trained by pid {holder.pid}"):
            train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory())
    finally:
        holder.kill()
        holder.wait()
    assert FakeTrainer.built == []
    # its process gone, the lock is stale and taken over
    train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory())
    assert RunDir(run_dir).read_status()["state"] == "done"


class CountingHooks(TrainingHooks):
    def __init__(self, state):
        self.iterations = (state or {}).get("iterations", 0)
        self.started = 0

    def on_start(self, trainer):
        self.started += 1
        trainer.on_runners(lambda i, n, store: store.setdefault("toy", i))

    def on_iteration(self, trainer, env_steps, score):
        self.iterations += 1
        return [f"toy iteration {self.iterations} at {int(env_steps)}"]

    def state(self):
        return {"iterations": self.iterations}

    def finish(self, net):
        return {"toy.json": {"iterations": self.iterations, "started": self.started}}


class Toy(Scratch):
    """A fifth method, registered by a test: one column, its own hooks and label."""

    name = "toy"
    table_label = "toy-method"

    def training_hooks(self, cfg, trainer, in_channels, state):
        return CountingHooks(state)


def test_a_registered_toy_method_trains_resumes_and_shows_in_a_report(tmp_path):
    from analysis.report import build_report

    with registered(Toy()):
        cfg = replace(CFG, agent="toy")
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path, log=quiet, trainer_factory=fake_factory(fail_at=4))
        lines: list[str] = []
        run_dir = train(cfg, tmp_path, log=lines.append, trainer_factory=fake_factory())
        # the hook's state came back from the checkpoint: 3 iterations before, 2 after
        assert json.loads((run_dir / "toy.json").read_text()) == {"iterations": 5, "started": 1}
        assert any("toy iteration 5 at 2000" in line for line in lines)
        assert FakeTrainer.built[-1].store == {"toy": 0}
        train(replace(CFG, agent="scratch"), tmp_path, log=quiet, trainer_factory=fake_factory())
        out = build_report(tmp_path)
    rows = (out / "transfer_matrix.csv").read_text().splitlines()
    assert any(row.startswith("toy-method,") for row in rows)
    assert "toy-method" in (out / "report.md").read_text()
    with pytest.raises(ValueError, match="unknown agent 'toy'"):
        RunConfig(task="catch_soup/pong", agent="toy")  # gone with its registration


def _floors(root, floor: float = -5.0, std: float = 0.25) -> str:
    (root / "floors.json").write_text(
        json.dumps({"catch_soup/pong": {"floor": floor, "std": std, "episodes": 10}})
    )
    return str(root)


def test_plateau_floors_end_a_run_at_its_first_plateaued_point_after_the_minimum(tmp_path):
    """The fake's points (by hand, expected_curve) are walked one by one with the zoo's
    rule: the run must end at the first point from plateau_min_steps on whose curve so
    far has learned and plateaued, neither sooner nor later, with status.json saying so."""
    from analysis.floors import load_floors
    from analysis.learnability import learnability_row

    root = tmp_path / "out"
    root.mkdir()
    cfg = replace(CFG, steps=40_000, plateau_floors=_floors(root), plateau_min_steps=6_000)
    floor = load_floors(root, {cfg.task})[cfg.task]
    points = expected_curve(40_000, 1_000)
    rows = [{"env_steps": p[0], "episode_return_mean": p[2]} for p in points]
    first = next(
        k
        for k in range(len(rows))
        if rows[k]["env_steps"] >= 6_000
        and learnability_row(cfg.task, 0, "r", rows[: k + 1], floor).plateaued
    )
    assert rows[first]["env_steps"] < 40_000  # the test ends a run early
    before = [learnability_row(cfg.task, 0, "r", rows[: k + 1], floor) for k in range(first)]
    assert any(r.plateaued for r in before)  # and the minimum kept it from ending sooner
    lines: list[str] = []
    run_dir = train(cfg, root, log=lines.append, trainer_factory=fake_factory())
    assert curve_of(run_dir) == points[: first + 1]
    assert FakeTrainer.built[-1].iterations == int(rows[first]["env_steps"]) // STEPS_PER_ITER
    status = RunDir(run_dir).read_status()
    at = int(rows[first]["env_steps"])
    assert status["state"] == "done" and status["env_steps"] == at
    assert status["ended"].startswith(f"plateaued at {at} steps: final ")
    assert any("ending the run (budget 40000)" in ln for ln in lines)
    saved = json.loads((run_dir / "config.json").read_text())["run"]
    assert saved["steps"] == 40_000 and saved["plateau_floors"] == str(root)


def test_plateau_floors_end_nothing_that_has_not_learned_and_a_bad_file_stops_first(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    # a floor the fake's scores (-3..3) never clear: it trains to its budget
    cfg = replace(CFG, steps=8_000, plateau_floors=_floors(root, floor=3.0))
    run_dir = train(cfg, root, log=quiet, trainer_factory=fake_factory())
    assert curve_of(run_dir) == expected_curve(8_000, 1_000)
    assert "ended" not in RunDir(run_dir).read_status()
    (root / "floors.json").write_text("{not json")
    with pytest.raises(TrainingError, match="floors.json"):
        train(replace(cfg, seed=1), root, log=quiet, trainer_factory=fake_factory())
    with pytest.raises(TrainingError, match="plateau_floors .*: no such directory"):
        train(
            replace(cfg, seed=2, plateau_floors=str(tmp_path / "typo")),
            root,
            log=quiet,
            trainer_factory=fake_factory(),
        )
    empty = tmp_path / "no-floors"  # a folder without floors.json: no game minimum
    empty.mkdir()
    with pytest.raises(TrainingError, match="no random-policy floor for catch_soup/pong"):
        train(
            replace(cfg, seed=3, plateau_floors=str(empty)),
            root,
            log=quiet,
            trainer_factory=fake_factory(),
        )
    assert len(FakeTrainer.built) == 1  # nothing was built for the later runs


def _fake_evaluation(monkeypatch, scores):
    """The independent rollouts, replaced by ``scores`` (the fake trainer has no env)."""
    import numpy as np

    import benchmarks.evaluate as evaluate

    def fake(run_dir, episodes=10, **_):
        return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "episodes": episodes}

    monkeypatch.setattr(evaluate, "evaluate_run", fake)


def test_the_curve_check_replays_the_final_weights_with_learning_off(tmp_path, monkeypatch):
    """After training, the final weights play through the pipeline with learning off;
    the in-flight episodes are dropped, check_episodes are counted, nothing reaches the
    curve or the status, and the replay is compared with the independent rollouts."""
    cfg = replace(CFG, check_episodes=20, env_runners=1, envs_per_runner=2)
    # the replay's episodes by hand: training ends at episode 10; 10-11 are in flight
    # (dropped), 12-31 are counted
    replayed = [score(e) for e in range(12, 32)]
    _fake_evaluation(monkeypatch, replayed)
    run_dir = train(cfg, tmp_path, log=quiet, trainer_factory=fake_factory())
    assert FakeTrainer.built[0].learning_log == [False, True]
    check = json.loads((run_dir / "curve_check.json").read_text())
    assert check["method"] == "replay" and check["ok"] is True
    assert check["replay_episodes"] == 20 and check["replay_dropped_episodes"] == 2
    assert check["replay_mean"] == pytest.approx(sum(replayed) / 20)
    assert curve_of(run_dir) == expected_curve(2_000, 1_000)  # the replay is not a point
    assert RunDir(run_dir).read_status()["env_steps"] == 2_000


def test_the_replay_check_fails_on_an_injected_3_point_offset(tmp_path, monkeypatch):
    """A pipeline that scores every episode 3 points off fails the check (the scores
    cycle through -3..3, sd about 2: tolerance about 3 x sqrt(2 x 4 / 20) = 1.9), and
    the run is failed."""
    cfg = replace(CFG, check_episodes=20, env_runners=1, envs_per_runner=2)
    replayed = [score(e) for e in range(12, 32)]
    _fake_evaluation(monkeypatch, replayed)
    monkeypatch.setattr(FakeTrainer, "replay_offset", 3.0)
    with pytest.raises(TrainingError, match="curve check failed: the training pipeline's replay"):
        train(cfg, tmp_path, log=quiet, trainer_factory=fake_factory())
    check = json.loads((run_dir_for(tmp_path, cfg) / "curve_check.json").read_text())
    var = sum((x - sum(replayed) / 20) ** 2 for x in replayed) / 20  # both sides alike
    assert check["ok"] is False
    assert check["tolerance"] == pytest.approx(3 * (2 * var / 20) ** 0.5)
    assert check["replay_mean"] - check["eval_mean"] == pytest.approx(3.0)
