"""The learners' RMSProp (benchmarks.rllib.learners): torch's, whose squared-gradient
average starts at 0, makes its first updates about 10 x lr whatever the gradient's size;
the experiments' warm start (XFER_RMSPROP_WARM=1) makes the first update about lr."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks.rllib.learners import RMSPROP_ALPHA, WarmRMSprop

LR, EPS = 2e-3, 1e-8


def _moves(kind, grads):  # noqa: ANN001
    """How far one parameter moves at each step under the given gradients."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = kind([p], lr=LR, alpha=RMSPROP_ALPHA, eps=EPS, momentum=0.0, centered=False)
    out, before = [], 0.0
    for g in grads:
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        out.append(abs(p.item() - before))
        before = p.item()
    return out


@pytest.mark.parametrize("g", [1e-3, 0.5, 40.0])
def test_the_first_steps_by_hand(g):
    stock = _moves(torch.optim.RMSprop, [g] * 3)
    warm = _moves(WarmRMSprop, [g] * 3)
    # stock: v_t = (1 - a^t) g^2, step lr g / sqrt(v_t): 10x, 7.09x, 5.79x lr at t = 1..3
    for t, step in enumerate(stock, start=1):
        assert step == pytest.approx(LR / math.sqrt(1 - RMSPROP_ALPHA**t), rel=1e-4)
    # warm: v starts at g^2 and stays there under a constant gradient: every step lr
    assert warm == pytest.approx([LR] * 3, rel=1e-4)
    assert stock[0] / warm[0] == pytest.approx(10.0, rel=1e-3)
