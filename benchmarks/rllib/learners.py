"""Learners with the paper's optimizer (RMSProp, no momentum, not centred) and, for
IMPALA, our own V-trace loss; a DEN module's regularisers are added to either loss.

Only trainable parameters are handed to the optimizer, so frozen columns and fixed
PathNet modules hold no optimizer state.

IMPALA's loss is ours (:func:`benchmarks.vtrace.vtrace_flat` on the flat batch of
chunks, each followed by its bootstrap slot): RLlib 2.60's own loss cancels the
bootstrap value at the end of every rollout fragment, and it reshapes the batch into
rows that straddle fragments (see :mod:`benchmarks.vtrace`).
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.impala.torch.impala_torch_learner import IMPALATorchLearner
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.learner import ENTROPY_KEY

from benchmarks.vtrace import vtrace_flat

RMSPROP_ALPHA = 0.99  # decay of the squared-gradient average (A3C paper)
RMSPROP_EPS = 1e-5  # torch adds eps outside the sqrt; 0.1 (TF A3C, inside the sqrt) stalls learning


def den_penalty(module) -> torch.Tensor | None:  # noqa: ANN001
    """DEN's regularisers for its current phase (``agents.DENNet.penalty``), else None."""
    net = getattr(module, "net", None)
    return net.penalty() if hasattr(net, "penalty") else None


# a learner with this attribute True applies no update (Trainer.set_learning(False))
LEARNING_OFF_ATTR = "xfer_learning_off"


class _RMSPropMixin:
    def apply_gradients(self, gradients_dict) -> None:  # noqa: ANN001
        # the curve check's replay samples with the final weights: the loss and its
        # gradients are still computed (RLlib's update runs as ever), none is applied
        if getattr(self, LEARNING_OFF_ATTR, False):
            return
        super().apply_gradients(gradients_dict)

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
    """IMPALA (A3C-style actor-critic with V-trace) with RMSProp and our V-trace loss."""

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):  # noqa: ANN001
        module = self.module[module_id].unwrapped()
        dist = module.get_train_action_dist_cls().from_logits(fwd_out[Columns.ACTION_DIST_INPUTS])
        logp = dist.logp(batch[Columns.ACTIONS])
        values = module.compute_values(batch, embeddings=fwd_out.get(Columns.EMBEDDINGS))
        real = batch[Columns.LOSS_MASK].bool()
        vs, advantages = vtrace_flat(
            logp,
            batch[Columns.ACTION_LOGP],
            batch[Columns.REWARDS],
            batch[Columns.TERMINATEDS],
            real,
            values,
            gamma=config.gamma,
            rho_bar=config.vtrace_clip_rho_threshold,
            pg_rho_bar=config.vtrace_clip_pg_rho_threshold,
        )
        weight = real.to(values.dtype)
        size = weight.sum().clamp(min=1.0)
        pi_loss = -(logp * advantages * weight).sum() / size
        vf_loss = 0.5 * ((values - vs).pow(2) * weight).sum() / size
        entropy = (dist.entropy() * weight).sum() / size
        coeff = self.entropy_coeff_schedulers_per_module[module_id].get_current_value()
        total = pi_loss + config.vf_loss_coeff * vf_loss - coeff * entropy
        penalty = den_penalty(module)
        if penalty is not None:
            total = total + penalty
            self.metrics.log_value((module_id, "den_penalty"), penalty, window=1)
        self.metrics.log_dict(
            {
                "mean_pi_loss": pi_loss,
                "mean_vf_loss": vf_loss,
                ENTROPY_KEY: entropy,
            },
            key=module_id,
            window=1,
        )
        return total


class RMSPropPPOLearner(_RMSPropMixin, PPOTorchLearner):
    """PPO with RMSProp (``--algo ppo``); DEN's regularisers added to its loss."""

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):  # noqa: ANN001
        total = super().compute_loss_for_module(
            module_id=module_id, config=config, batch=batch, fwd_out=fwd_out
        )
        penalty = den_penalty(self.module[module_id].unwrapped())
        return total if penalty is None else total + penalty
