"""Which part of a transferred network plays a task, and the forgetting protocol's files:
no Ray, no training (hand-built run directories on Catch Soup)."""

import json
import math

import pytest
import torch

from benchmarks.evaluate import (
    FORGETTING_SEED,
    evaluate_forgetting,
    evaluate_run,
    play_episodes,
    play_episodes_batched,
)
from envs import make_env
from methods import build_agent
from runstore.rundir import RunDir, eval_file

TASK = "catch_soup/pong"


def _prefer(net, action: int) -> None:
    """Make the newest part's policy pick ``action`` almost always."""
    head = net.heads[-1] if hasattr(net, "heads") else net.columns[-1].policy
    with torch.no_grad():
        head.bias[action] += 10.0


def _run_dir(tmp_path, agent: str, sources: list[str]):
    """A finished run of ``agent`` on TASK whose (last) source is TASK itself: the
    matrices' diagonal cell (pong after pong)."""
    n = make_env(TASK).action_space.n
    torch.manual_seed(0)
    src = build_agent("den" if agent == "den" else "scratch", n, seed=1)
    _prefer(src, 0)  # the source part keeps moving left, the newest part right
    src.save(tmp_path / "src.pt")
    net = build_agent(agent, n, sources=[tmp_path / "src.pt"], seed=2)
    _prefer(net, n - 1)
    run = tmp_path / "run"
    run.mkdir()
    net.save(run / "agent.pt")
    config = {"run": {"task": TASK, "agent": agent, "sources": sources, "seed": 0}}
    (run / "config.json").write_text(json.dumps(config))
    return run, net


@pytest.mark.parametrize("agent", ["progressive", "den"])
def test_a_diagonal_run_plays_its_own_task_with_its_newest_part_and_forgetting_with_the_source(
    tmp_path, agent
):
    run, net = _run_dir(tmp_path, agent, [TASK])
    net.eval()

    def part(newest: bool):
        if agent == "progressive":
            return lambda x: net(x, column=-1 if newest else 0)
        return lambda x: net(x, task=-1 if newest else 0)

    own = evaluate_run(run, episodes=30, seed=5)  # what the curve check plays
    assert own["part"] == "newest" and own["column"] == (-1 if agent == "progressive" else None)
    assert own["scores"] == play_episodes(part(True), TASK, 30, seed=5)
    before_fix = play_episodes(part(False), TASK, 30, seed=5)
    assert own["scores"] != before_fix  # the two parts play differently: the test can fail
    after = evaluate_forgetting(run, TASK, episodes=30)
    assert after["part"] == "source" and after["seed"] == FORGETTING_SEED
    assert after["scores"] == play_episodes(part(False), TASK, 30, seed=FORGETTING_SEED)
    # two files: the forgetting evaluation never overwrites the run's own one
    assert json.loads(eval_file(run, TASK).read_text())["part"] == "newest"
    assert json.loads(RunDir(run).forgetting_eval(TASK).read_text())["part"] == "source"


def test_evaluation_counts_the_actions_taken(tmp_path):
    """The evaluation file says how often each action was taken: the newest column made
    to prefer the last action takes it at nearly every step (a collapsed policy shows),
    and the counts add up to the episodes' steps."""
    run, net = _run_dir(tmp_path, "progressive", [TASK])
    net.eval()
    lengths = []

    def counting(x):
        lengths.append(1)
        return net(x, column=-1)

    result = evaluate_run(run, episodes=6, seed=5)
    play_episodes(counting, TASK, 6, seed=5)
    counts = result["action_counts"]
    n = make_env(TASK).action_space.n
    assert len(counts) == n and sum(counts) == len(lengths)
    assert result["top_action"] == "RIGHT" and counts.index(max(counts)) == n - 1
    assert result["top_action_share"] == pytest.approx(counts[-1] / sum(counts))
    assert result["top_action_share"] > 0.95
    again = play_episodes(lambda x: net(x, column=-1), TASK, 6, seed=5)
    assert again == result["scores"]  # counting changes nothing that is played


@pytest.mark.atari
def test_action_summary_names_ale_actions():
    """ALE games name their actions (the evaluation file says LEFT, not 4)."""
    import numpy as np

    from benchmarks.evaluate import action_summary, task_actions

    n, names = task_actions("atari/road_runner")
    assert n == 18 and names[4] == "LEFT"
    counts = np.zeros(n, dtype=np.int64)
    counts[4], counts[1] = 3, 1
    summary = action_summary(counts, names)
    assert summary["top_action"] == "LEFT" and summary["top_action_share"] == 0.75
    assert math.isnan(action_summary(np.zeros(3, dtype=np.int64))["top_action_share"])


def test_source_part_of_a_task_that_is_not_a_source_is_refused(tmp_path):
    run, _ = _run_dir(tmp_path, "progressive", [TASK])
    with pytest.raises(ValueError, match="not a source"):
        evaluate_run(run, episodes=1, task="catch_soup/hflip", source=True)


def test_xfer_evaluate_as_source_plays_the_source_part_and_refuses_other_tasks(tmp_path, capsys):
    from benchmarks.cli import main

    run, net = _run_dir(tmp_path, "den", [TASK])
    assert main(["evaluate", str(run), "--episodes", "5", "--seed", "3", "--as-source"]) == 0
    saved = json.loads(eval_file(run, TASK).read_text())
    assert saved["part"] == "source"
    assert saved["scores"] == play_episodes(lambda x: net(x, task=0), TASK, 5, seed=3)
    code = main(["evaluate", str(run), "--task", "catch_soup/hflip", "--as-source"])
    assert code != 0 and "not a source" in capsys.readouterr().err


def _finished(root, cfg, net) -> None:
    from runstore.config import run_dir_for

    run = run_dir_for(root, cfg)
    run.mkdir(parents=True)
    net.save(run / "agent.pt")
    (run / "config.json").write_text(json.dumps({"run": cfg.to_dict()}))
    (run / "status.json").write_text(json.dumps({"state": "done"}))


@pytest.mark.parametrize("target", ["catch_soup/hflip", TASK])
def test_a_suite_evaluates_source_and_target_runs_on_the_same_episodes(tmp_path, target):
    """The runner's forgetting evaluations: one protocol for the source run and the
    target run, so a progressive net (its source column frozen) scores the same in every
    episode, on another target and on the diagonal; a file of another protocol is redone."""
    from benchmarks.runner import _after_run
    from runstore.config import RunConfig, run_dir_for, source_config

    n = make_env(TASK).action_space.n
    cfg = RunConfig(task=target, agent="progressive", sources=(TASK,), wandb=False)
    src_cfg = source_config(cfg)
    src = build_agent("scratch", n, seed=1)
    _prefer(src, 0)
    _finished(tmp_path, src_cfg, src)
    src_file = tmp_path / "src.pt"
    src.save(src_file)
    net = build_agent("progressive", n, sources=[src_file], seed=2)
    _prefer(net, n - 1)  # the new column plays otherwise: a wrong part shows
    _finished(tmp_path, cfg, net)
    for analysis in ("afs", "aps"):  # not under test
        (run_dir_for(tmp_path, cfg) / f"{analysis}.json").write_text("{}")
    _after_run(cfg, tmp_path, 12, log=lambda *_: None)
    files = [RunDir(run_dir_for(tmp_path, c)).forgetting_eval(TASK) for c in (src_cfg, cfg)]
    before, after = (json.loads(f.read_text()) for f in files)
    assert before["part"] == "newest" and after["part"] == "source" and after["column"] == 0
    assert before["episodes"] == after["episodes"] == 12
    assert before["seed"] == after["seed"] == FORGETTING_SEED
    assert after["scores"] == before["scores"]
    own = json.loads(eval_file(run_dir_for(tmp_path, cfg), target).read_text())
    assert own["part"] == "newest" and own["column"] == -1
    _after_run(cfg, tmp_path, 5, log=lambda *_: None)  # a suite with another protocol
    assert all(json.loads(f.read_text())["episodes"] == 5 for f in files)


@pytest.mark.parametrize("task", ["catch_soup/hflip", "pong_soup/pong"])
def test_batched_play_scores_each_episode_as_one_at_a_time_play_does(task):
    """Greedy play: episode i of the batch is the episode of its own seed, step for step
    (Pong: an episode thousands of steps long, with points either way; the batch shrinks
    as episodes end at different steps)."""
    net = build_agent("scratch", make_env(task).action_space.n, seed=1)
    episodes, cap = (6, 100_000) if task.startswith("catch") else (2, 400)
    batched = play_episodes_batched(net, task, episodes, seed=20, greedy=True, max_steps=cap)
    alone = [
        play_episodes(net, task, 1, seed=20 + i, greedy=True, max_steps=cap)[0]
        for i in range(episodes)
    ]
    assert batched == alone
    if task.startswith("catch"):
        assert len(set(batched)) > 1  # not one score repeated: the seeds differ
    sampled = play_episodes_batched(net, task, episodes, seed=20, max_steps=cap)
    assert len(sampled) == episodes


def test_batched_play_refuses_no_episodes():
    with pytest.raises(ValueError, match="episodes must be positive"):
        play_episodes_batched(lambda x: None, TASK, 0)
