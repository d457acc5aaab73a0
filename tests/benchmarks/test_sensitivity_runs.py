"""AFS/APS inputs: states spread over whole episodes, floors from the report's source."""

import json

import numpy as np
import pytest
import torch

from analysis.floors import MissingFloorError, load_floors
from benchmarks.sensitivity_runs import aps_for_run, collect_states
from methods import build_agent
from runstore.config import RunConfig


def _step_of(observation: torch.Tensor) -> int:
    """debug/reward_track draws a bar of t pixels at step t (newest frame: last channel)."""
    return int((observation[-1] > 160).sum())


def test_states_are_spread_over_whole_episodes():
    net = build_agent("scratch", 3, seed=0)
    obs, spread = collect_states(net, "debug/reward_track", states=50, episodes=5)
    assert obs.shape == (50, 4, 84, 84) and obs.dtype == torch.uint8
    assert spread["episodes"] == 5 and spread["episode_lengths"] == [97] * 5
    assert spread["states_per_episode"] == [10] * 5
    steps = np.array([_step_of(o) for o in obs])
    # drawn from all through each episode, not the first 50 consecutive steps of one
    assert steps.max() > 60 and steps.min() < 30
    assert len(set(steps.tolist())) > 30  # several episodes, different steps


def test_short_episodes_play_until_there_are_enough_states():
    net = build_agent("scratch", 3, seed=0)
    obs, spread = collect_states(net, "catch_soup/pong", states=100, episodes=5)
    assert obs.shape[0] == 100
    assert spread["episodes"] >= 100 / max(spread["episode_lengths"])
    assert sum(spread["states_per_episode"]) == 100
    assert max(spread["states_per_episode"]) <= 20  # ceil(100 / 5) from any one episode


def test_floors_come_from_floors_json_or_a_labelled_game_minimum(tmp_path):
    (tmp_path / "floors.json").write_text(
        json.dumps({"pong_soup/pong": {"floor": -20.2, "episodes": 16, "std": 0.8}})
    )
    floors = load_floors(tmp_path, {"pong_soup/pong", "pong_soup/white"})
    assert floors["pong_soup/pong"].value == -20.2
    assert floors["pong_soup/pong"].se == pytest.approx(0.2)  # 0.8 / sqrt(16)
    assert floors["pong_soup/white"].value == -21.0
    assert "game minimum" in floors["pong_soup/white"].source
    with pytest.raises(MissingFloorError, match="atari/boxing.*xfer floors"):
        load_floors(tmp_path, {"atari/boxing"})
    (tmp_path / "floors.json").write_text("{broken")
    with pytest.raises(ValueError, match="floors.json is not valid JSON"):
        load_floors(tmp_path, {"pong_soup/pong"})


def test_aps_refuses_a_task_without_a_floor(tmp_path):
    # a root without floors.json and a domain without a game minimum: never a silent 0.0
    run_dir = tmp_path / "debug-reward_track" / "progressive" / "seed0"
    run_dir.mkdir(parents=True)
    cfg = RunConfig(
        task="debug/reward_track", agent="progressive", sources=("debug/reward_track",), wandb=False
    )
    (run_dir / "config.json").write_text(json.dumps({"run": cfg.to_dict()}))
    build_agent("progressive", 3, num_columns=2, seed=0).save(run_dir / "agent.pt")
    with pytest.raises(MissingFloorError, match="debug/reward_track"):
        aps_for_run(run_dir, episodes=1, iterations=1)


def test_floors_cli_measures_and_refuses_bad_input(tmp_path, capsys):
    from benchmarks.cli import main

    assert main(["floors", str(tmp_path / "new"), "--task", "nope/nothing"]) == 2
    assert "nope/nothing" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # an unknown task creates nothing
    (tmp_path / "a_file").write_text("x")
    assert main(["floors", str(tmp_path / "a_file"), "--task", "debug/reward_track"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text() == "x"
    # a new root is created (the first step of training a column into it)
    assert main(["floors", str(tmp_path / "new" / "root"), "--task", "debug/reward_track"]) == 0
    assert (tmp_path / "new" / "root" / "floors.json").is_file()
    assert main(["floors", str(tmp_path), "--task", "debug/reward_track"]) == 0
    data = json.loads((tmp_path / "floors.json").read_text())
    # the debug env's score does not depend on the policy: floor = its known score
    assert data["debug/reward_track"]["floor"] == pytest.approx(-6.0)
    assert load_floors(tmp_path, {"debug/reward_track"})["debug/reward_track"].se == 0.0
    # and what holding each action scores: the same, whatever the action
    constant = data["debug/reward_track"]["constant"]
    assert all(v == pytest.approx(-6.0) for v in constant["means"].values())
    assert constant["best"] == pytest.approx(-6.0) and constant["episodes"] == 3
    assert set(constant["means"]) == {"0", "1", "2"}  # an env without action names
    assert constant["best_action"] == "every action"


def test_floors_add_what_holding_each_action_scores(tmp_path):
    """floors.json's constant: each action held for 3 whole episodes, checked against
    a plain env loop (no policy, no torch); a cached floor without it gets it added and
    keeps its random floor; the report's floors table shows the best action."""
    from benchmarks.runner import CONSTANT_EPISODES, measure_floors
    from envs import make_env

    task = "catch_soup/pong"
    (tmp_path / "floors.json").write_text(json.dumps({task: {"floor": -0.5, "episodes": 4}}))
    measure_floors([task], tmp_path, log=lambda *_: None)
    entry = json.loads((tmp_path / "floors.json").read_text())[task]
    assert entry["floor"] == -0.5 and entry["episodes"] == 4  # kept, not re-measured
    assert make_env(task).action_space.n == 3
    held = CONSTANT_EPISODES["catch_soup"]
    for a, name in enumerate(["NOOP", "LEFT", "RIGHT"]):
        env = make_env(task, seed=2024)  # each action's episodes from the same seed
        total = 0.0
        for _ in range(held):
            env.reset()
            done = False
            while not done:
                _, reward, term, trunc, _ = env.step(a)
                total += float(reward)
                done = term or trunc
        assert entry["constant"]["means"][name] == pytest.approx(total / held)
    means = entry["constant"]["means"]
    assert entry["constant"]["best"] == max(means.values())
    assert means[entry["constant"]["best_action"]] == entry["constant"]["best"]
    floor = load_floors(tmp_path, {task})[task]
    assert (floor.constant, floor.constant_action) == (
        entry["constant"]["best"],
        entry["constant"]["best_action"],
    )
    from analysis.render import floor_rows

    rows = floor_rows({task: floor})
    assert rows[0][-1] == "best single action held"
    assert rows[1][-1] == f"{floor.constant:.3f} ({floor.constant_action})"


def _progressive_run(root, task="catch_soup/hflip", weights=True):
    from runstore.config import run_dir_for

    cfg = RunConfig(task=task, agent="progressive", sources=("catch_soup/pong",), wandb=False)
    run_dir = run_dir_for(root, cfg)
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"run": cfg.to_dict()}))
    (run_dir / "status.json").write_text(json.dumps({"state": "done"}))
    if weights:
        build_agent("progressive", 3, num_columns=2, seed=0).save(run_dir / "agent.pt")
    return cfg, run_dir


def test_aps_of_a_catch_run_scores_every_level_on_the_batched_episodes(tmp_path):
    from benchmarks.evaluate import play_episodes_batched

    (tmp_path / "floors.json").write_text(json.dumps({"catch_soup/hflip": {"floor": -0.76}}))
    _, run_dir = _progressive_run(tmp_path)
    result = aps_for_run(run_dir, episodes=4, iterations=2)
    saved = json.loads((run_dir / "aps.json").read_text())
    assert saved["episodes"] == 4 and saved["iterations"] == 2 and saved["floor"] == -0.76
    from agents import load_agent

    net = load_agent(run_dir / "agent.pt")
    clean = np.mean(play_episodes_batched(net, "catch_soup/hflip", 4, seed=99))
    assert result["clean_score"] == pytest.approx(clean)
    for layer, data in saved["layers"].items():
        assert sum(data["columns"]) == pytest.approx(1.0), layer
        assert len(data["sigma2"]) == 2
        assert all(1e-3 <= s <= 1e3 for s in data["sigma2"])


def test_the_suite_skips_analyses_of_a_run_without_weights_and_says_so(tmp_path):
    from benchmarks.runner import _after_run
    from runstore.rundir import eval_file

    cfg, run_dir = _progressive_run(tmp_path, weights=False)
    from benchmarks.evaluate import FORGETTING_SEED
    from runstore.rundir import RunDir

    # evaluated when it was published: its own task and the forgetting protocol
    eval_file(run_dir, cfg.task).write_text("{}")
    forgetting = {"episodes": 5, "seed": FORGETTING_SEED}
    RunDir(run_dir).forgetting_eval("catch_soup/pong").write_text(json.dumps(forgetting))
    lines = []
    _after_run(cfg, tmp_path, 5, lines.append, aps_episodes=2)
    assert any("no AFS/APS" in x and "weights are not on disk" in x for x in lines), lines
    assert not (run_dir / "afs.json").exists() and not (run_dir / "aps.json").exists()


def test_a_run_without_weights_gets_no_forgetting_evaluation_and_the_suite_goes_on(tmp_path):
    """A published seed's target run (no agent.pt) beside a source that has weights: the
    source is evaluated, the target is skipped with a line, nothing is raised (a 3-seed
    Pong Soup bench on the committed folder stopped here with FileNotFoundError)."""
    from benchmarks.evaluate import FORGETTING_SEED
    from benchmarks.runner import _after_run
    from runstore.config import run_dir_for, source_config
    from runstore.rundir import RunDir, eval_file

    cfg, run_dir = _progressive_run(tmp_path, weights=False)
    eval_file(run_dir, cfg.task).write_text("{}")
    src_dir = run_dir_for(tmp_path, source_config(cfg))
    src_dir.mkdir(parents=True)
    (src_dir / "config.json").write_text(json.dumps({"run": source_config(cfg).to_dict()}))
    (src_dir / "status.json").write_text(json.dumps({"state": "done"}))
    build_agent("scratch", 3, seed=0).save(src_dir / "agent.pt")
    lines = []
    _after_run(cfg, tmp_path, 4, lines.append)
    before = json.loads(RunDir(src_dir).forgetting_eval("catch_soup/pong").read_text())
    assert before["episodes"] == 4 and before["seed"] == FORGETTING_SEED
    assert not RunDir(run_dir).forgetting_eval("catch_soup/pong").exists()
    assert any("no forgetting evaluation" in x and str(run_dir) in x for x in lines), lines


def test_a_target_that_cannot_play_its_source_gets_a_forgetting_file_with_the_reason(tmp_path):
    """A fine-tuned network whose head took the target's action count (here 5 against
    Catch's 3) cannot play the source: the suite records why (the error and the reason
    apart, which the report reads) and goes on."""
    from benchmarks.runner import _after_run
    from runstore.config import run_dir_for, source_config
    from runstore.rundir import RunDir, eval_file

    cfg = RunConfig(
        task="catch_soup/hflip", agent="finetune-all", sources=("catch_soup/pong",), wandb=False
    )
    run_dir = run_dir_for(tmp_path, cfg)
    src_dir = run_dir_for(tmp_path, source_config(cfg))
    for c, d, actions in ((cfg, run_dir, 5), (source_config(cfg), src_dir, 3)):
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"run": c.to_dict()}))
        (d / "status.json").write_text(json.dumps({"state": "done"}))
        build_agent("scratch", actions, seed=0).save(d / "agent.pt")
    eval_file(run_dir, cfg.task).write_text("{}")
    _after_run(cfg, tmp_path, 3, [].append)
    after = json.loads(RunDir(run_dir).forgetting_eval("catch_soup/pong").read_text())
    assert after["reason"] == "column -1 has 5 actions, the task has 3"
    assert after["error"] == f"{run_dir} on catch_soup/pong: {after['reason']}"
    assert "scores" not in after
    before = json.loads(RunDir(src_dir).forgetting_eval("catch_soup/pong").read_text())
    assert len(before["scores"]) == 3
