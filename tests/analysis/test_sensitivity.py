import math

import pytest
import torch

from agents import ColumnConfig, ProgressiveNet
from analysis.sensitivity import (
    average_fisher_sensitivity,
    find_halving_noise,
    fisher_diagonal,
)


def test_fisher_closed_form_linear_softmax():
    """logits = W h: d log pi_a / dh = W^T (e_a - pi); F(m) = E_a~pi [(that * std_m)^2]."""
    torch.manual_seed(0)
    h0 = torch.randn(7, 5)
    W = torch.randn(3, 5)

    def forward(hook):
        h = hook(0, "fc", h0)
        return h @ W.T

    F = fisher_diagonal(forward)[(0, "fc")]
    std = h0.std(0)
    pi = torch.softmax(h0 @ W.T, -1)
    expected = torch.zeros(5)
    for b in range(7):
        for a in range(3):
            e = torch.zeros(3)
            e[a] = 1
            g = W.T @ (e - pi[b])
            expected += pi[b, a] * (g * std) ** 2 / 7
    torch.testing.assert_close(F, expected, rtol=1e-5, atol=1e-6)


def test_afs_shares_sum_to_one_and_match_per_state_loop():
    torch.manual_seed(0)
    net = ProgressiveNet(ColumnConfig(alpha_init=1.0), 4)
    net.add_column(4)
    obs = torch.randint(0, 256, (10, 4, 84, 84), dtype=torch.uint8)
    afs = average_fisher_sensitivity(net, obs, batch_size=4)  # uneven batches
    for layer, data in afs["layers"].items():
        assert sum(data["columns"]) == pytest.approx(1.0), layer
        assert len(data["columns"]) == 2
    # batched computation equals a brute-force per-state, per-action loop
    whole = afs
    acts = net.column_activations(obs)
    std = acts[1]["fc"].detach().std(0).clamp_min(1e-8)
    brute = torch.zeros(256)
    for b in range(10):
        for a in range(4):
            h = acts[0]["fc"].detach()
            captured = {}

            def hook(k, layer, t, captured=captured):
                if (k, layer) == (1, "fc"):
                    t = t.detach().requires_grad_(True)
                    captured["h"] = t
                return t

            out = net(obs[b : b + 1], hook=hook)
            logp = torch.log_softmax(out.logits, -1)[0]
            (g,) = torch.autograd.grad(logp[a], captured["h"])
            brute += logp[a].exp().detach() * (g[0] * std) ** 2 / 10
            del h
    torch.testing.assert_close(torch.tensor(whole["fisher"]["fc"][1]), brute, rtol=1e-4, atol=1e-9)


def test_find_halving_noise_on_known_curve():
    # score falls as 10 / (1 + s2): halves (floor 0, clean 10) at s2 = 1
    found = find_halving_noise(lambda s2: 10 / (1 + s2), clean_score=10, floor=0, iterations=30)
    assert found == pytest.approx(1.0, rel=1e-3)
    assert find_halving_noise(lambda s2: 10.0, 10, 0) == 1e3  # never halves
    assert math.isfinite(find_halving_noise(lambda s2: 0.0, 10, 0))


def test_afs_shares_sum_to_one_when_a_feature_is_dead_in_every_column():
    torch.manual_seed(0)
    net = ProgressiveNet(ColumnConfig(alpha_init=1.0), 4)
    net.add_column(4)
    with torch.no_grad():  # conv1 feature 3 can never fire, in either column
        for column in net.columns:
            column.conv1.weight[3].zero_()
            column.conv1.bias[3] = -1.0
    obs = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    afs = average_fisher_sensitivity(net, obs)
    conv1 = afs["layers"]["conv1"]
    assert conv1["dead_features"] == 1
    assert sum(conv1["columns"]) == pytest.approx(1.0)
    assert conv1["features"][0][3] is None and conv1["features"][1][3] is None
    for layer, data in afs["layers"].items():
        assert sum(data["columns"]) == pytest.approx(1.0), layer
