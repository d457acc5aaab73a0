"""The RLModule adapter samples without autograd and without per-forward mode walks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from benchmarks.rllib.module import XferModule
from methods.pathnet import PATH_COLUMN

OBS = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
ACT = gym.spaces.Discrete(6)


def _module(agent: str, inference_only: bool) -> XferModule:
    spec = RLModuleSpec(
        module_class=XferModule,
        observation_space=OBS,
        action_space=ACT,
        inference_only=inference_only,
        model_config={"agent": agent, "seed": 0},
    )
    return spec.build()


@pytest.fixture
def walks(monkeypatch):
    """Counts calls of torch's recursive ``Module.train`` (each walks every submodule)."""
    calls = []
    original = torch.nn.Module.train

    def counting(self, mode=True):
        calls.append((type(self).__name__, mode))
        return original(self, mode)

    monkeypatch.setattr(torch.nn.Module, "train", counting)
    return calls


def _batch(rows: int = 5) -> dict:
    gen = torch.Generator().manual_seed(0)
    return {Columns.OBS: torch.randint(0, 256, (rows, 84, 84, 4), dtype=torch.uint8, generator=gen)}


@pytest.mark.parametrize("agent", ["scratch", "pathnet"])
def test_a_runners_module_samples_in_eval_mode_without_autograd_or_mode_walks(walks, agent):
    module = _module(agent, inference_only=True)
    assert module.training is False
    assert not any(m.training for m in module.modules())  # the whole tree, not just the top
    walks.clear()
    out = module.forward_exploration(_batch())
    assert walks == []  # RLlib's switch to eval mode found it there: no walk
    assert module.training is False
    for value in out.values():
        assert not value.requires_grad and value.grad_fn is None
    if agent == "pathnet":
        cfg = module.net.config
        assert out[PATH_COLUMN].shape == (5, cfg.num_layers * cfg.active_per_layer)


def test_learners_module_trains_in_train_mode_and_mode_changes_still_reach_every_submodule(
    walks,
):
    module = _module("scratch", inference_only=False)
    assert module.training is True and all(m.training for m in module.modules())
    batch = _batch()
    walks.clear()
    train_out = module.forward_train(batch)
    assert walks == []  # already in train mode
    assert train_out[Columns.ACTION_DIST_INPUTS].requires_grad  # the learner's gradients
    sample_out = module.forward_exploration(batch)  # eval and back: two real walks
    assert [(name, mode) for name, mode in walks if name == "XferModule"] == [
        ("XferModule", False),
        ("XferModule", True),
    ]
    assert module.training is True and all(m.training for m in module.modules())
    for key in (Columns.ACTION_DIST_INPUTS, Columns.EMBEDDINGS):
        torch.testing.assert_close(sample_out[key], train_out[key].detach(), rtol=0, atol=0)
    module.eval()
    assert not any(m.training for m in module.modules())
    module.train()
    assert all(m.training for m in module.modules())
