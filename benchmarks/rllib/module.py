"""One thin RLModule adapter around the pure networks of ``agents``.

``model_config`` (a plain dict, as RLlib passes it) names the agent to build:

- ``agent``: one of ``agents.AGENT_NAMES``;
- ``sources``: saved agent files of the source runs (must be readable by every env
  runner and learner: on a cluster, put results on shared storage);
- ``num_columns``, ``alpha_init``, ``seed``: passed to ``agents.build_agent``;
- ``init_weights``: optional saved agent file whose weights replace the fresh ones
  (used to resume or evaluate a run).

Observations are uint8 (B, H, W, C) channels last; the network scales them.
PathNet: each module copy holds the path it samples with (``self.path``, set per env
runner); exploration forwards return it as the ``pathnet_path`` column so the learner
routes every row through the path that produced it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from agents import PathNet, build_agent, load_agent, random_path

PATH_COLUMN = "pathnet_path"


class XferModule(TorchRLModule, ValueFunctionAPI):
    """RLModule wrapping ``agents.build_agent(...)`` for discrete actions over images."""

    def setup(self) -> None:
        cfg = dict(self.model_config or {})
        shape = self.observation_space.shape
        if len(shape) != 3:
            raise ValueError(f"XferModule needs (H, W, C) image observations, got {shape}")
        init = cfg.get("init_weights")
        if init:
            self.net = load_agent(init)
        else:
            self.net = build_agent(
                cfg.get("agent", "scratch"),
                num_actions=int(self.action_space.n),
                in_channels=int(shape[-1]),
                sources=list(cfg.get("sources", [])),
                num_columns=int(cfg.get("num_columns", 2)),
                alpha_init=float(cfg.get("alpha_init", 0.1)),
                seed=cfg.get("seed"),
                input_size=int(shape[0]),
            )
        self.is_pathnet = isinstance(self.net, PathNet)
        if self.is_pathnet:
            rng = np.random.default_rng(cfg.get("seed"))
            self.path = torch.as_tensor(random_path(rng, self.net.config))

    def set_path(self, path: Any) -> None:
        """Set the path this copy samples with (PathNet only)."""
        self.path = self.net.check_paths(torch.as_tensor(path))[0]

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

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self._run(batch)

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        out = self._run(batch)
        if self.is_pathnet:
            n = batch[Columns.OBS].shape[0]
            out[PATH_COLUMN] = self.path.flatten().unsqueeze(0).expand(n, -1).clone()
        return out

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        paths = None
        if self.is_pathnet and PATH_COLUMN in batch:
            cfg = self.net.config
            paths = batch[PATH_COLUMN].long().view(-1, cfg.num_layers, cfg.active_per_layer)
        return self._run(batch, paths)

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        if embeddings is not None:
            return embeddings
        return self._run(batch)[Columns.EMBEDDINGS]
