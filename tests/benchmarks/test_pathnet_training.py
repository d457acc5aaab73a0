"""PathNet through RLlib: whole-episode fitness, every member scored, PPO values per path.

``debug/reward_track`` episodes are 97 steps, 5-6 rollout fragments of 20 steps, so a
scheme that switches paths between iterations would have several paths play each
episode. The record of which path played a step is the ``pathnet_path`` column the
module wrote next to the action (what the learner routes the row by).
"""

import json

import pytest
import torch

from benchmarks.rllib.module import PATH_COLUMN, XferModule
from benchmarks.training import train
from runstore.config import RunConfig

pytestmark = pytest.mark.ray

BASE = dict(
    task="debug/reward_track",
    agent="pathnet",
    steps=4_000,
    rollout_length=20,
    envs_per_runner=2,
    curve_window=1_000,
    wandb=False,
    check_episodes=0,
    pathnet_population=4,
    pathnet_episodes=1,
)


def _pathnet_json(run_dir):
    return json.loads((run_dir / "pathnet.json").read_text())


def test_every_member_is_scored_on_whole_episodes_with_two_runners(tmp_path):
    run_dir = train(RunConfig(**BASE, env_runners=2), tmp_path, log=lambda *_: None)
    state = _pathnet_json(run_dir)
    # 4,000 steps / 97 = about 40 episodes over 4 members (2 per runner)
    assert all(n >= 2 for n in state["whole_episodes"]), state["whole_episodes"]
    assert state["discarded"]["partial"] == 0
    assert sum(state["whole_episodes"]) + state["discarded"]["stale"] >= 30
    assert state["tournaments"] >= 5
    # scores are the env's own whole-episode score (the same for every path here)
    assert {s for member in state["scores"] for s in member} == {-6.0}
    assert state["best_path"] in state["population"]


def test_ppo_pathnet_values_come_from_each_rows_path(tmp_path, monkeypatch):
    # PPO's advantage connector calls compute_values without embeddings: it must route
    # every row through the path that sampled it (recorded in the batch), never through
    # the learner copy's own default path
    checks = []
    original = XferModule.compute_values

    def spy(self, batch, embeddings=None):
        out = original(self, batch, embeddings)
        if embeddings is None:
            cfg = self.net.config
            paths = batch[PATH_COLUMN].long().view(-1, cfg.num_layers, cfg.active_per_layer)
            with torch.no_grad():
                per_row = self.net(self._obs(batch), paths).value
                default = self.net(self._obs(batch), self.path).value
            checks.append(
                (torch.allclose(out, per_row), bool((per_row - default).abs().max() > 1e-6))
            )
        return out

    monkeypatch.setattr(XferModule, "compute_values", spy)
    cfg = RunConfig(**{**BASE, "steps": 1_500}, env_runners=0, algo="ppo")
    run_dir = train(cfg, tmp_path, log=lambda *_: None)
    assert checks and all(ok for ok, _ in checks)
    assert any(differs for _, differs in checks)  # the default path would give other values
    assert sum(_pathnet_json(run_dir)["whole_episodes"]) > 0


def test_episodes_played_by_several_paths_are_never_credited(tmp_path, monkeypatch):
    # fault injection: the old scheme, where a sub-env's path changed between iterations
    # whatever its episode; every exploration forward now takes the next member's path
    calls = {"n": 0}
    original = XferModule._exploration_paths

    def switching(self, n):
        calls["n"] += 1
        paths = original(self, n).clone()
        if self.row_paths is not None and calls["n"] % 20 == 0:
            self.row_paths = self.row_paths.roll(1, dims=0)  # members move between sub-envs
            paths = self.row_paths
        return paths

    monkeypatch.setattr(XferModule, "_exploration_paths", switching)
    cfg = RunConfig(**{**BASE, "steps": 1_500}, env_runners=0, algo="ppo")
    run_dir = train(cfg, tmp_path, log=lambda *_: None)
    state = _pathnet_json(run_dir)
    assert calls["n"] > 20
    assert state["discarded"]["partial"] > 0
    assert sum(state["whole_episodes"]) == 0 and state["tournaments"] == 0
