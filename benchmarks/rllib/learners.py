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

import os

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


# set to 1 (experiments only: a run's identity does not record it, so never mix such runs
# into a suite's folder) to start RMSProp's squared-gradient average at the first
# gradient's square instead of 0 (scripts/finetune_first_updates.py)
WARM_RMSPROP_ENV = "XFER_RMSPROP_WARM"


class WarmRMSprop(torch.optim.RMSprop):
    """RMSProp whose squared-gradient average starts at the first gradient's square.

    torch's RMSProp starts the average at 0, so its first update of a parameter is
    ``lr * g / (sqrt((1 - alpha) * g**2) + eps)``, about ``lr / sqrt(1 - alpha)`` = 10 x lr
    at alpha 0.99 whatever the gradient's size, and the next ones shrink towards lr over
    about ``1 / (1 - alpha)`` updates. Started at ``g**2`` the first update is about lr.

    Example:
        >>> p = torch.nn.Parameter(torch.zeros(1))
        >>> opt = WarmRMSprop([p], lr=1e-3, alpha=0.99, eps=1e-8)
        >>> p.grad = torch.tensor([0.5]); opt.step()
        >>> round(-p.item(), 6)
        0.001
    """

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and len(self.state[p]) == 0:
                    self.state[p]["step"] = torch.zeros((), dtype=torch.float32)
                    self.state[p]["square_avg"] = p.grad.detach().square().clone()
        return super().step(closure)


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
        kind = WarmRMSprop if os.environ.get(WARM_RMSPROP_ENV) == "1" else torch.optim.RMSprop
        optimizer = kind(
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
