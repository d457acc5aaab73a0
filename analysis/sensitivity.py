"""Average Fisher Sensitivity (AFS) and Average Perturbation Sensitivity (APS).

AFS (Rusu et al. 2016, sec. 5): the diagonal Fisher of the policy with respect to the
*normalised* activations ĥ = h / std(h) of each layer and column,
``F(m) = E_{s~rho, a~pi} [(d log pi(a|s) / d ĥ_m)^2]`` (summed over pixel positions for
conv layers), then ``AFS(i, k, m) = F_i^k(m) / sum_k F_i^k(m)`` and
``AFS(i, k) = mean_m AFS(i, k, m)``, so a layer's columns sum to one.

Dead features: a feature that is constant over the states (a dead ReLU: std <=
``DEAD_STD``) has F = 0. A feature index m with F = 0 in every column (dead everywhere,
or no policy sensitive to it) has no share to give: it is left out of the mean (its
shares are None, counted in ``dead_features``), so the shares still sum to one.

The expectation over actions is taken exactly (a backward pass per action, batched over
states); the states are those visited by the trained target policy, spread over many
episodes (``benchmarks.sensitivity_runs.collect_states``). ``std`` is each feature's standard
deviation over those states (and positions, for conv maps).

APS: Gaussian noise with variance ``sigma2 * var(feature)`` injected into one layer of
one column (fresh noise every forward pass); ``sigma2`` that halves the score (from
the random-policy floor) is found by bisection in log space; ``Lambda = 1 / sigma2``,
``APS(i, k) = Lambda_i^k / sum_k Lambda_i^k``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "HIDDEN_LAYERS",
    "fisher_diagonal",
    "average_fisher_sensitivity",
    "find_halving_noise",
    "average_perturbation_sensitivity",
    "feature_std",
]

HIDDEN_LAYERS = ("conv1", "conv2", "conv3", "fc")
# A feature whose standard deviation over the states is at most this is dead (constant).
DEAD_STD = 1e-6


def _feature_dims(h: torch.Tensor) -> tuple[int, ...]:
    return (0, 2, 3) if h.dim() == 4 else (0,)


def feature_std(h: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-feature (channel or unit) standard deviation over batch (and positions)."""
    return h.detach().float().std(dim=_feature_dims(h)).clamp_min(eps)


def fisher_diagonal(
    forward: Callable[[Callable[[int, str, torch.Tensor], torch.Tensor]], torch.Tensor],
    stds: dict[tuple[int, str], torch.Tensor] | None = None,
) -> dict[tuple[int, str], torch.Tensor]:
    """Diagonal Fisher of log pi w.r.t. normalised activations, per (column, layer).

    Args:
        forward: ``forward(hook)`` runs the policy on one batch of states with ``hook``
            applied to every hidden activation and returns the logits (B, A).
        stds: per (column, layer) feature standard deviations for the normalisation;
            by default they are measured on this batch.

    Returns:
        ``{(column, layer): F}`` with F of shape (features,), summed over positions and
        averaged over the batch and the policy's actions.
    """
    captured: dict[tuple[int, str], torch.Tensor] = {}

    def hook(column: int, layer: str, h: torch.Tensor) -> torch.Tensor:
        if not h.requires_grad:  # a frozen column's first layer: start the graph here
            h = h.detach().requires_grad_(True)
        captured[(column, layer)] = h  # later layers stay on the graph: gradients chain
        return h

    logits = forward(hook)
    log_pi = torch.log_softmax(logits, dim=-1)
    pi = log_pi.exp().detach()
    keys = list(captured)
    tensors = [captured[k] for k in keys]
    stds_list = [
        stds[k] if stds is not None else feature_std(t) for k, t in zip(keys, tensors, strict=True)
    ]
    fisher = [torch.zeros_like(s) for s in stds_list]
    batch = logits.shape[0]
    for a in range(logits.shape[1]):
        # rows are independent, so the gradient of the sum gives every row's gradient
        grads = torch.autograd.grad(
            log_pi[:, a].sum(), tensors, retain_graph=True, allow_unused=True
        )
        for i, g in enumerate(grads):
            if g is None:
                continue
            shape = (1, -1, 1, 1) if g.dim() == 4 else (1, -1)
            g_hat = g * stds_list[i].view(shape)  # d/dĥ = d/dh * std
            per_row = g_hat.pow(2)
            if per_row.dim() == 4:
                per_row = per_row.sum(dim=(2, 3))  # sum over pixel positions
            fisher[i] += (pi[:, a : a + 1] * per_row).sum(0) / batch
    return dict(zip(keys, fisher, strict=True))


def average_fisher_sensitivity(
    net: Any, observations: torch.Tensor, batch_size: int = 256
) -> dict[str, Any]:
    """AFS of a ProgressiveNet over ``observations`` (states visited by the target policy).

    Returns:
        ``{"layers": {layer: {"columns": [AFS(i, k) for k], "features": [[AFS(i,k,m)]]}},
        "fisher": {layer: [[F(m)] per column]}}``. Per layer the column values sum to 1
        (``None`` for a layer whose every feature is dead in every column).
    """
    if observations.shape[0] == 0:
        raise ValueError("AFS needs at least one observation")
    with torch.no_grad():  # each feature's std over all the states, for the normalisation
        acts = net.column_activations(observations)
    stds = {
        (k, layer): feature_std(a[layer]) for k, a in enumerate(acts) for layer in HIDDEN_LAYERS
    }
    # a feature that is constant over the states (a dead ReLU) carries no information:
    # its Fisher is 0 (its normalised activation is undefined, std 0)
    live = {key: std > DEAD_STD for key, std in stds.items()}
    del acts
    totals: dict[tuple[int, str], torch.Tensor] = {}
    n = 0
    for start in range(0, observations.shape[0], batch_size):
        obs = observations[start : start + batch_size]

        def forward(hook: Callable, obs: torch.Tensor = obs) -> torch.Tensor:
            return net(obs, hook=hook).logits

        part = fisher_diagonal(forward, stds)
        b = obs.shape[0]
        for key, value in part.items():
            totals[key] = totals.get(key, 0) + value * b
        n += b
    columns = sorted({k for k, _ in totals})
    result: dict[str, Any] = {"layers": {}, "fisher": {}, "states": n}
    for layer in HIDDEN_LAYERS:
        per_col = torch.stack(
            [totals[(k, layer)] / n * live[(k, layer)] for k in columns]
        )  # (K, M)
        total = per_col.sum(0, keepdim=True)
        # a feature index that no column's policy is sensitive to (F = 0 in every column,
        # e.g. dead ReLUs everywhere) has no share to give: it is left out of the mean,
        # so each layer's column shares still sum to one; its shares are None
        alive = total[0] > 0
        share = torch.where(alive, per_col / total.clamp_min(1e-30), torch.nan)
        result["layers"][layer] = {
            "columns": share[:, alive].mean(1).tolist() if alive.any() else [None] * len(columns),
            "features": [[None if math.isnan(v) else v for v in row] for row in share.tolist()],
            "dead_features": int((~alive).sum()),
        }
        result["fisher"][layer] = per_col.tolist()
    return result


def find_halving_noise(
    score_at: Callable[[float], float],
    clean_score: float,
    floor: float,
    low: float = 1e-3,
    high: float = 1e3,
    iterations: int = 8,
) -> float:
    """Bisection (in log space) for the noise variance that halves the score.

    ``score_at(sigma2)`` plays with noise variance ``sigma2``; the target is
    ``floor + (clean_score - floor) / 2``. Returns ``high`` if even that much noise does
    not halve the score, ``low`` if the smallest already does.
    """
    target = floor + (clean_score - floor) / 2.0
    if score_at(high) > target:
        return high
    if score_at(low) <= target:
        return low
    lo, hi = math.log(low), math.log(high)
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        if score_at(math.exp(mid)) > target:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2.0)


def average_perturbation_sensitivity(
    net: Any,
    play: Callable[[Callable], float],
    observations: torch.Tensor,
    floor: float,
    iterations: int = 8,
    seed: int = 0,
) -> dict[str, Any]:
    """APS of a ProgressiveNet's newest column policy.

    Args:
        net: the trained ProgressiveNet.
        play: ``play(policy)`` returns the mean score of ``policy(obs) -> AgentOutput``
            (e.g. 10 episodes, as in the paper).
        observations: states to measure each feature's activation variance on.
        floor: the task's random-policy score.

    Returns:
        ``{"layers": {layer: {"columns": APS(i, k), "sigma2": [...]}}, "clean_score": s}``.
    """
    with torch.no_grad():
        acts = net.column_activations(observations)
    variances = {
        (k, layer): feature_std(a[layer]).pow(2)
        for k, a in enumerate(acts)
        for layer in HIDDEN_LAYERS
    }
    gen = torch.Generator().manual_seed(seed)
    clean = play(lambda x: net(x))
    out: dict[str, Any] = {"layers": {}, "clean_score": clean, "floor": floor}
    for layer in HIDDEN_LAYERS:
        sigma2s = []
        for k in range(net.num_columns):
            var = variances[(k, layer)]

            def score_at(
                sigma2: float, k: int = k, var: torch.Tensor = var, layer: str = layer
            ) -> float:
                def hook(column: int, name: str, h: torch.Tensor) -> torch.Tensor:
                    if column != k or name != layer:
                        return h
                    shape = (1, -1, 1, 1) if h.dim() == 4 else (1, -1)
                    noise = torch.randn(h.shape, generator=gen).to(h.device)
                    noise = noise * (sigma2 * var.to(h.device)).sqrt().view(shape)
                    return h + noise

                return play(lambda x: net(x, hook=hook))

            sigma2s.append(find_halving_noise(score_at, clean, floor, iterations=iterations))
        lam = [1.0 / s for s in sigma2s]
        out["layers"][layer] = {"columns": [v / sum(lam) for v in lam], "sigma2": sigma2s}
    return out
