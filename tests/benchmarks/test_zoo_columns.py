"""The shipped source columns (zoo/): complete, used by default, and still winning.

Every column under ``zoo/`` is checked; Pong Soup's ``pong`` column must be there (the
laptop ``make bench-pong`` transfers from it). The score bar (>= +18 over >= 20 episodes
on Pong; for other games the bar each column records when shipped, ``zoo_bar.json``:
``benchmarks.zoo.write_replay_bar``) is checked on greedy play (argmax actions), the
usual protocol for A3C-family agents; the sampled policy's score is kept in ``curve_check.json``.
"""

import json

import numpy as np
import pytest
import torch

from agents import load_agent
from benchmarks.evaluate import play_episodes
from benchmarks.zoo import find_zoo_run, replay_bar, zoo_root
from runstore.config import RunConfig
from runstore.rundir import RunDir, eval_file


def _shipped() -> list[tuple[str, int]]:
    """(task, seed) of every shipped column."""
    runs = [json.loads(p.read_text())["run"] for p in zoo_root().glob("*/*/*/config.json")]
    return sorted((run["task"], int(run["seed"])) for run in runs)


SHIPPED = _shipped()


def test_the_pong_columns_are_shipped_for_seeds_0_1_and_2():
    assert {("pong_soup/pong", s) for s in (0, 1, 2)} <= set(SHIPPED)


@pytest.mark.parametrize("task, seed", SHIPPED)
def test_zoo_column_is_the_default_source_and_is_complete(task, seed):
    """Cheap checks (default run): the files, and that `xfer bench` would use it."""
    run_dir = find_zoo_run(RunConfig(task=task, seed=seed), log=print)
    assert run_dir is not None, f"the zoo column of {task} no longer matches the suite"
    payload = torch.load(run_dir / "agent.pt", weights_only=True)
    assert payload["format"].startswith("xfer-agent")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["git_commit"] and config["packages"]["torch"]
    assert json.loads((run_dir / "status.json").read_text())["state"] == "done"
    assert len(RunDir(run_dir).read_curve()) >= 10
    check = json.loads((run_dir / "curve_check.json").read_text())
    assert check["ok"] is True and check["eval_episodes"] >= 20
    greedy = json.loads(eval_file(run_dir, task, greedy=True).read_text())
    assert greedy["episodes"] >= 20 and greedy["greedy"] is True
    assert greedy["mean"] >= replay_bar(run_dir, task)  # +18 on Pong, else zoo_bar.json


def _domain_marks(task: str) -> list:
    """Atari and Pong Soup columns need the ALE; Labyrinth columns MiniWorld."""
    return [pytest.mark.miniworld] if task.startswith("labyrinth/") else [pytest.mark.atari]


@pytest.mark.slow
@pytest.mark.parametrize(
    "task, seed", [pytest.param(t, s, marks=_domain_marks(t)) for t, s in SHIPPED]
)
def test_zoo_column_still_reaches_its_bar(task, seed):
    run_dir = find_zoo_run(RunConfig(task=task, seed=seed), log=print)
    agent = load_agent(run_dir / "agent.pt")
    agent.eval()
    scores = play_episodes(agent, task, episodes=20, seed=4242, greedy=True)
    bar = replay_bar(run_dir, task)
    print(f"\n{task}: greedy {np.mean(scores):.2f} +- {np.std(scores):.2f} over 20 episodes")
    assert np.mean(scores) >= bar
