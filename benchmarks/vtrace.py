"""V-trace targets over a flat batch of rollout chunks (torch and numpy only, no Ray).

The learner receives one flat batch: every rollout chunk (at most ``rollout_length``
steps of one episode) followed by one *bootstrap slot*, a copy of the chunk's last step
whose observation is the state after it; a boolean mask marks the real steps. V-trace
(Espeholt et al. 2018, eq. 1) is computed backwards along that flat sequence:

    delta_t = rho_t (r_t + d_t V_{t+1} - V_t)
    vs_t - V_t = delta_t + d_t c_t (vs_{t+1} - V_{t+1})
    A_t = rho^pg_t (r_t + d_t vs_{t+1} - V_t)

with ``d_t = gamma`` (0 after a terminal step or on a bootstrap slot), ``rho_t =
min(rho_bar, pi/mu)``, ``c_t = min(1, pi/mu)``. On a bootstrap slot ``rho = c = 0``,
so ``vs = V`` there: the last real step of a cut chunk bootstraps from the value of the
state after it, as an n-step return does. With ``pi = mu`` (no policy lag) ``vs_t`` is
exactly A3C's n-step return.

RLlib 2.60's own IMPALA loss gives the bootstrap slot ``rho = pi(a_last | s_next) /
mu(a_last | s_last)`` instead, which makes ``vs - V = -rho V`` there and cancels the
bootstrap of every cut chunk (``vs_last = r + gamma (1 - rho) V_next``): every
20-step fragment is learnt as if the episode ended with it. That is why our learner
computes its own targets (see ``benchmarks.rllib.learners``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["vtrace_flat"]


def vtrace_flat(
    target_logp: torch.Tensor,
    behaviour_logp: torch.Tensor,
    rewards: torch.Tensor,
    terminateds: torch.Tensor,
    real: torch.Tensor,
    values: torch.Tensor,
    gamma: float,
    rho_bar: float = 1.0,
    pg_rho_bar: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """V-trace value targets ``vs`` and policy-gradient advantages over a flat batch.

    Args:
        target_logp: (N,) log pi(a_t | s_t) of the policy being trained.
        behaviour_logp: (N,) log mu(a_t | s_t) of the policy that acted.
        rewards: (N,) rewards (the learning rewards, e.g. clipped).
        terminateds: (N,) True where the step ended the episode (no bootstrap after it).
        real: (N,) True for real steps, False for bootstrap slots. Every chunk must end
            with a bootstrap slot, so ``real[-1]`` is False.
        values: (N,) V(s_t) of the value function being trained.
        gamma: discount.
        rho_bar: clip of the importance weights in the value targets.
        pg_rho_bar: clip of the importance weights in the advantages.

    Returns:
        ``(vs, advantages)``, both (N,), detached, on ``values``' device and dtype;
        both equal ``values`` / 0 on bootstrap slots.

    Raises:
        ValueError: on mismatched lengths or a batch that does not end with a
            bootstrap slot (the layout this function relies on).

    Example:
        >>> import torch
        >>> z = torch.zeros(3)
        >>> vs, adv = vtrace_flat(z, z, torch.tensor([1.0, 1.0, 0.0]),
        ...     torch.tensor([False, False, False]), torch.tensor([True, True, False]),
        ...     torch.tensor([0.0, 0.0, 10.0]), gamma=0.5)
        >>> vs.tolist()  # 1 + 0.5 * (1 + 0.5 * 10), then 1 + 0.5 * 10, then V
        [4.0, 6.0, 10.0]
    """
    n = values.shape[0]
    for name, t in (
        ("target_logp", target_logp),
        ("behaviour_logp", behaviour_logp),
        ("rewards", rewards),
        ("terminateds", terminateds),
        ("real", real),
    ):
        if t.shape[0] != n:
            raise ValueError(f"{name} has {t.shape[0]} rows, values has {n}")
    real_np = real.detach().cpu().numpy().astype(bool)
    if n and real_np[-1]:
        raise ValueError(
            "the batch does not end with a bootstrap slot: expected every rollout chunk "
            "to be followed by one (RLlib's AddOneTsToEpisodesAndTruncate)"
        )
    log_rho = (target_logp.detach() - behaviour_logp.detach()).double().cpu().numpy()
    ratio = np.exp(np.minimum(log_rho, 50.0))
    rho = np.where(real_np, np.minimum(ratio, rho_bar), 0.0)
    c = np.where(real_np, np.minimum(ratio, 1.0), 0.0)
    pg_rho = np.where(real_np, np.minimum(ratio, pg_rho_bar), 0.0)
    r = rewards.detach().double().cpu().numpy()
    v = values.detach().double().cpu().numpy()
    term = terminateds.detach().cpu().numpy().astype(bool)
    d = np.where(real_np & ~term, gamma, 0.0)
    v_next = np.append(v[1:], 0.0)
    delta = rho * (r + d * v_next - v)
    acc = np.zeros(n)
    running = 0.0
    for t in range(n - 1, -1, -1):
        running = delta[t] + d[t] * c[t] * running
        acc[t] = running
    vs = v + acc
    vs_next = np.append(vs[1:], 0.0)
    adv = pg_rho * (r + d * vs_next - v)
    out = dict(device=values.device, dtype=values.dtype)
    return torch.as_tensor(vs, **out), torch.as_tensor(adv, **out)
