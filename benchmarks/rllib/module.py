"""One thin RLModule adapter around the pure networks of ``agents``.

``model_config`` (a plain dict, as RLlib passes it) names the agent to build:

- ``agent``: a registered method (``methods.method_names()``);
- ``sources``: saved agent files of the source runs (must be readable by every env
  runner and learner: on a cluster, put results on shared storage);
- ``num_columns``, ``alpha_init``, ``seed`` and a method's own entries (DEN's ``den``):
  the network is ``methods.base.build_from_model_config`` of this dict, as the training
  loop's saved network is;
- ``init_weights``: optional saved agent file whose weights replace the fresh ones
  (used to resume or evaluate a run).

Observations are uint8 (B, H, W, C) channels last; the network scales them.
PathNet: each sub-env of an env runner plays one path for a whole episode
(``set_row_path``, called by the runner's callback at the episode's start); exploration
forwards return each row's path as the ``pathnet_path`` column, and the learner routes
every row (values included) through the path that produced it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from agents import PathNet, load_agent, random_path
from methods.base import build_from_model_config
from methods.pathnet import PATH_COLUMN


class XferModule(TorchRLModule, ValueFunctionAPI):
    """RLModule wrapping ``methods.build_agent(...)`` for discrete actions over images."""

    def setup(self) -> None:
        cfg = dict(self.model_config or {})
        shape = self.observation_space.shape
        if len(shape) != 3:
            raise ValueError(f"XferModule needs (H, W, C) image observations, got {shape}")
        init = cfg.get("init_weights")
        if init:
            self.net = load_agent(init)
        else:
            self.net = build_from_model_config(
                cfg, int(self.action_space.n), int(shape[-1]), input_size=int(shape[0])
            )
        self.is_pathnet = isinstance(self.net, PathNet)
        # an env runner's copy only samples: keep it in eval mode, so that RLlib's
        # per-forward switch to eval (and back) costs nothing (see ``train``). torch's
        # own train() walks the whole tree once here, whatever mode a loaded net was in
        # (our ``train`` would skip the walk when this module's flag already matches)
        torch.nn.Module.train(self, not self.inference_only)
        self.row_paths: torch.Tensor | None = None
        if self.is_pathnet:
            rng = np.random.default_rng(cfg.get("seed"))
            self.path = torch.as_tensor(random_path(rng, self.net.config))

    def set_path(self, path: Any) -> None:
        """Set the path this copy uses where no sub-env has its own (PathNet only)."""
        self.path = self.net.check_paths(torch.as_tensor(path))[0]

    def set_row_path(self, env_index: int, path: Any) -> None:
        """Sub-env ``env_index`` plays ``path`` from its next step on (PathNet only).

        The env runner's callback calls this when the sub-env starts an episode, so one
        path plays every step of it (the evolution in ``methods.pathnet``).
        """
        path = self.net.check_paths(torch.as_tensor(path))[0]
        if self.row_paths is None or env_index >= self.row_paths.shape[0]:
            grown = self.path.unsqueeze(0).repeat(env_index + 1, 1, 1)
            if self.row_paths is not None:
                grown[: self.row_paths.shape[0]] = self.row_paths
            self.row_paths = grown
        self.row_paths[env_index] = path

    def _exploration_paths(self, n: int) -> torch.Tensor:
        """(n, L, N): row i (sub-env i) through its own path, else the shared one."""
        if self.row_paths is not None and self.row_paths.shape[0] == n:
            return self.row_paths
        return self.path.unsqueeze(0).expand(n, -1, -1)

    def _batch_paths(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """Each training row's path, as recorded when it was sampled (PathNet only)."""
        if not self.is_pathnet:
            return None
        if PATH_COLUMN not in batch:
            raise RuntimeError(
                f"PathNet needs the {PATH_COLUMN!r} column to compute values and losses: "
                "each row must go through the path that sampled it"
            )
        cfg = self.net.config
        return batch[PATH_COLUMN].long().view(-1, cfg.num_layers, cfg.active_per_layer)

    def _obs(self, batch: dict[str, Any]) -> torch.Tensor:
        return batch[Columns.OBS].permute(0, 3, 1, 2)

    def _run(self, batch: dict[str, Any], paths: torch.Tensor | None = None) -> dict[str, Any]:
        obs = self._obs(batch)
        if self.is_pathnet:
            if paths is None:
                paths = self.path
            out = self.net(obs, paths)
        else:
            out = self.net(obs)
        return {Columns.ACTION_DIST_INPUTS: out.logits, Columns.EMBEDDINGS: out.value}

    def train(self, mode: bool = True) -> XferModule:
        """Set train or eval mode; a no-op when the module is in that mode already.

        RLlib switches a module to eval mode around every sampling forward and to train
        mode before every update; ``torch.nn.Module.train`` walks every submodule each
        time (about 10-15% of an env runner's forward of 8 observations). The networks of
        ``agents`` have no layer that behaves differently in the two modes
        (``tests/agents/test_device.py`` checks their outputs agree), and only this
        method switches the mode of ``self.net``, so the walk is needed only when the
        mode changes.
        """
        if mode == self.training:
            return self
        return super().train(mode)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self._run(batch)

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # sampling needs no gradients; RLlib's env runner does not switch autograd off,
        # its default _forward_exploration does (overridden here)
        with torch.no_grad():
            if not self.is_pathnet:
                return self._run(batch)
            n = batch[Columns.OBS].shape[0]
            paths = self._exploration_paths(n)
            out = self._run(batch, paths)
            out[PATH_COLUMN] = paths.reshape(n, -1).clone()  # the learner routes rows by it
            return out

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self._run(batch, self._batch_paths(batch))

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        # PPO's advantage connector calls this without embeddings: PathNet's values must
        # still come from each row's own path, never from this copy's default path
        if embeddings is not None:
            return embeddings
        return self._run(batch, self._batch_paths(batch))[Columns.EMBEDDINGS]
