"""The shipped Pong Soup source columns still win (slow: 20 Pong episodes each)."""

import json

import numpy as np
import pytest
import torch

from agents import load_agent
from benchmarks.evaluate import play_episodes
from benchmarks.training import RunConfig, read_curve, run_dir_for
from benchmarks.zoo import find_zoo_run, zoo_root

ZOO_TASKS = ("pong_soup/pong", "pong_soup/noisy", "pong_soup/hflip")


@pytest.mark.parametrize("task", ZOO_TASKS)
def test_zoo_column_is_the_default_source_and_is_complete(task):
    """Cheap checks (default run): the files, and that `xfer bench` would use it."""
    run_dir = run_dir_for(zoo_root(), RunConfig(task=task))
    assert find_zoo_run(RunConfig(task=task), log=print) == run_dir
    payload = torch.load(run_dir / "agent.pt", weights_only=True)
    assert payload["format"].startswith("xfer-agent")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["git_commit"] and config["packages"]["torch"]
    assert read_curve(run_dir)[-1]["episode_return_mean"] >= 18.0
    check = json.loads((run_dir / "curve_check.json").read_text())
    assert check["ok"] is True
    shipped_eval = json.loads((run_dir / f"eval_{task.replace('/', '-')}.json").read_text())
    assert shipped_eval["episodes"] >= 20 and shipped_eval["mean"] >= 18.0


@pytest.mark.slow
@pytest.mark.atari
@pytest.mark.parametrize("task", ZOO_TASKS)
def test_zoo_column_still_scores_at_least_18(task):
    run_dir = run_dir_for(zoo_root(), RunConfig(task=task))
    agent = load_agent(run_dir / "agent.pt")
    agent.eval()
    scores = play_episodes(agent, task, episodes=20, seed=4242)
    print(f"\n{task}: {np.mean(scores):.2f} +- {np.std(scores):.2f} over 20 episodes")
    assert np.mean(scores) >= 18.0
