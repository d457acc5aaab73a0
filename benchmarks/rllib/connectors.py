"""Lean env-to-module and module-to-env connectors for the env runners.

RLlib's default connector pipelines run six pieces on the way out of the module
(sample actions through a distribution object, tensors to numpy, unbatch, remove the
time rank, normalise and clip actions, listify) and five on the way in, each walking
the batch's structure for every env step. On a 2-core machine with 8 envs per runner
they took 1.8 ms of every 11 ms vector step (RLlib's own connector timers,
docs/performance.md). The suite's agents have one discrete action head, no recurrent
state and no observation filters, so two pieces do the same work in one pass each:

- :class:`ObservationsToModule`: the last observation of every ongoing episode, stacked
  into one uint8 tensor ``{"obs": (num_envs, H, W, C)}`` on the module's device (what
  RLlib's ``AddObservationsFromEpisodesToBatch`` + ``BatchIndividualItems`` +
  ``NumpyToTensor`` give for a stateless single-agent module);
- :class:`SampleActionsToEnv`: actions drawn from the module's logits (greedy when not
  exploring) with their log-probabilities, every column converted to numpy and handed
  to the env runner in the layout RLlib's default pipeline produces: ``actions`` and
  ``actions_for_env`` as int32 arrays over the envs, every other column as a list with
  one item per env (the runner stores them as the episodes' extra model outputs);
  floats become float32 and signed integers int32, as RLlib's ``convert_to_numpy``.

``tests/benchmarks/test_connectors.py`` checks both against RLlib's default pipelines on
the same episodes and module outputs (same keys, types, shapes and values; sampled
actions distributed as the softmax of the logits).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns

__all__ = ["ObservationsToModule", "SampleActionsToEnv", "env_to_module", "module_to_env"]


def _module_device(rl_module: Any) -> torch.device:
    for p in rl_module.parameters():
        return p.device
    return torch.device("cpu")


class ObservationsToModule(ConnectorV2):
    """``{"obs": tensor (num_envs, ...)}``: each ongoing episode's last observation."""

    def __call__(  # noqa: D102
        self,
        *,
        rl_module: Any,
        batch: dict[str, Any] | None,
        episodes: list[Any],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        batch = {} if batch is None else batch
        # the env runner passes the observations it just added to the episodes as a
        # keyword (one per env, in episode order); reading them back from the episodes'
        # buffers gives the same arrays, slower
        given = kwargs.get(Columns.OBS)
        if given is not None and len(given) == len(episodes):
            obs = np.stack(given)
        else:
            obs = np.stack([episode.get_observations(-1) for episode in episodes])
        batch[Columns.OBS] = torch.from_numpy(obs).to(_module_device(rl_module))
        return batch


class SampleActionsToEnv(ConnectorV2):
    """Actions (sampled, or greedy when ``explore`` is false) and numpy columns per env.

    The module's output must hold ``action_dist_inputs``: logits of one categorical
    distribution per row. A module that already chose ``actions`` keeps them (and must
    then give ``action_logp`` too).
    """

    def __call__(  # noqa: D102
        self,
        *,
        rl_module: Any,
        batch: dict[str, Any],
        episodes: list[Any],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        if Columns.ACTIONS not in batch:
            logits = batch.get(Columns.ACTION_DIST_INPUTS)
            if logits is None:
                raise KeyError("the module's output has neither 'actions' nor 'action_dist_inputs'")
            with torch.no_grad():
                logp_all = torch.log_softmax(logits, dim=-1)
                if explore:
                    actions = torch.multinomial(logp_all.exp(), 1).squeeze(-1)
                    logp = logp_all.gather(-1, actions[:, None]).squeeze(-1)
                else:  # the greedy policy is deterministic: log 1 = 0 (as RLlib's)
                    actions = logp_all.argmax(dim=-1)
                    logp = torch.zeros_like(actions, dtype=logits.dtype)
                batch[Columns.ACTIONS] = actions
                batch[Columns.ACTION_LOGP] = logp
        elif Columns.ACTION_LOGP not in batch:
            raise KeyError("the module chose 'actions' but gave no 'action_logp'")
        out: dict[str, Any] = {}
        for column, value in batch.items():
            value = _to_numpy(value)
            if column == Columns.ACTIONS:
                out[Columns.ACTIONS] = value
                out[Columns.ACTIONS_FOR_ENV] = value.copy()
            else:
                out[column] = list(value)
        return out


def _to_numpy(value: Any) -> np.ndarray:
    """As RLlib's ``convert_to_numpy``: floats become float32, signed ints int32."""
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    value = np.asarray(value)
    if np.issubdtype(value.dtype, np.floating):
        return value.astype(np.float32, copy=False)
    if np.issubdtype(value.dtype, np.signedinteger):
        return value.astype(np.int32, copy=False)
    return value


def env_to_module(env: Any = None, spaces: Any = None, device: Any = None) -> list[ConnectorV2]:
    """For ``config.env_runners(env_to_module_connector=...)``."""
    return [ObservationsToModule()]


def module_to_env(env: Any = None, spaces: Any = None) -> list[ConnectorV2]:
    """For ``config.env_runners(module_to_env_connector=...)``."""
    return [SampleActionsToEnv()]
