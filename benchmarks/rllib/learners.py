"""Learners with the paper's optimizer: RMSProp, no momentum, not centred.

Only trainable parameters are handed to the optimizer, so frozen columns and fixed
PathNet modules hold no optimizer state.
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.impala.torch.impala_torch_learner import IMPALATorchLearner
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner

RMSPROP_ALPHA = 0.99  # decay of the squared-gradient average (A3C paper)
RMSPROP_EPS = 1e-5  # torch adds eps outside the sqrt; 0.1 (TF A3C, inside the sqrt) stalls learning


class _RMSPropMixin:
    def configure_optimizers_for_module(self, module_id, config=None) -> None:  # noqa: ANN001
        module = self._module[module_id]
        params = [p for p in self.get_parameters(module) if p.requires_grad]
        eps = float(config.learner_config_dict.get("rmsprop_eps", RMSPROP_EPS))
        optimizer = torch.optim.RMSprop(
            params, lr=1e-3, alpha=RMSPROP_ALPHA, eps=eps, momentum=0.0, centered=False
        )
        self.register_optimizer(
            module_id=module_id, optimizer=optimizer, params=params, lr_or_lr_schedule=config.lr
        )


class RMSPropIMPALALearner(_RMSPropMixin, IMPALATorchLearner):
    """IMPALA (A3C-style actor-critic with V-trace) with RMSProp."""


class RMSPropPPOLearner(_RMSPropMixin, PPOTorchLearner):
    """PPO with RMSProp (``--algo ppo``)."""
