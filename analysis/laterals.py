"""How loud a progressive column's laterals are: own input against lateral input, per layer.

Layer i of column k adds two terms before its ReLU (Rusu et al. 2016, eq. 2 with
adapters): its own ``W_i^(k) h_{i-1}^(k)`` and the lateral
``U_i^(k) f(V_i^(k) (alpha_{i-1} * h_{i-1}^(<k)))``. :func:`lateral_signal` measures the
root mean square of each over a batch of observations. A lateral far quieter than the
column's own input barely moves the new column at the start of training (and the
gradient reaching ``U`` is proportional to what ``V`` passes on), so the column starts
out close to a column trained from scratch. ``alpha_init`` sets that ratio: at
initialisation ``V``'s bias is zero, so the lateral term is exactly linear in alpha.

Example:
    >>> import torch
    >>> from agents import ColumnConfig, ProgressiveNet
    >>> net = ProgressiveNet(ColumnConfig(), 3)
    >>> net.add_column()
    >>> rows = lateral_signal(net, torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
    >>> [r.layer for r in rows]
    ['conv2', 'conv3', 'fc', 'heads']
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.progressive import ProgressiveNet

__all__ = ["LateralSignal", "lateral_signal", "lateral_terms"]

# layer i of a column and the layer i-1 its own weights and its laterals read
_LAYERS = (("conv2", "conv1"), ("conv3", "conv2"), ("fc", "conv3"), ("heads", "fc"))


@dataclass(frozen=True)
class LateralSignal:
    """One layer of one column: RMS of its own pre-activation term and of its lateral.

    ``heads`` is the output layer: policy logits and value together, as the paper's
    adapter feeds both.
    """

    layer: str
    own_rms: float
    lateral_rms: float

    @property
    def ratio(self) -> float:
        """Lateral RMS over own RMS (inf when the own term is exactly zero)."""
        return self.lateral_rms / self.own_rms if self.own_rms > 0 else float("inf")


def _rms(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean().sqrt())


@torch.no_grad()
def lateral_terms(
    net: ProgressiveNet, obs: torch.Tensor, column: int = -1
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{layer: (own term, lateral term)}`` of ``column``'s layers conv2, conv3, fc, heads.

    The layer's output is ``relu(own + lateral)`` (``heads``: policy logits and value,
    concatenated, with no ReLU).

    Raises:
        ValueError: if ``column`` is the first column (it has no laterals).
    """
    k = column % net.num_columns
    if k == 0:
        raise ValueError("the first column has no laterals: pick a column >= 1")
    acts = net.column_activations(obs, upto=k)
    earlier, own_acts = acts[:k], acts[k]
    col, adapters = net.columns[k], net.adapters[k]
    terms = {}
    for layer, prev in _LAYERS:
        h = own_acts[prev]
        if layer == "heads":
            own = torch.cat([col.policy(h), col.value(h)], dim=1)
        elif layer == "fc":
            own = col.fc(h.flatten(1))
        else:
            own = getattr(col, layer)(h)
        terms[layer] = (own, adapters[layer]([a[prev] for a in earlier]))
    return terms


def lateral_signal(net: ProgressiveNet, obs: torch.Tensor, column: int = -1) -> list[LateralSignal]:
    """Own and lateral pre-activation RMS of ``column``'s layers conv2, conv3, fc, heads.

    Args:
        net: a progressive net with at least two columns.
        obs: uint8 observations (B, C, H, W), as the env gives them (channels first).
        column: which column (default: the newest); it must have earlier columns.

    Returns:
        One :class:`LateralSignal` per layer, from conv2 to the heads.

    Raises:
        ValueError: if ``column`` is the first column (it has no laterals).
    """
    return [
        LateralSignal(layer, _rms(own), _rms(lateral))
        for layer, (own, lateral) in lateral_terms(net, obs, column).items()
    ]
