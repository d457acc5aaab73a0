import pytest
import torch

from agents import ColumnConfig, ProgressiveNet
from analysis.laterals import lateral_signal, lateral_terms

OBS = torch.randint(
    0, 256, (6, 4, 84, 84), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
)


def two_columns(alpha: float) -> ProgressiveNet:
    torch.manual_seed(0)
    net = ProgressiveNet(ColumnConfig(alpha_init=alpha), 3)
    net.add_column()
    return net


def test_terms_add_up_to_the_columns_own_activations():
    """relu(own + lateral) is the layer's output as the net computes it (heads: no relu)."""
    net = two_columns(0.5)
    terms = lateral_terms(net, OBS)
    acts = net.column_activations(OBS)[1]
    for layer in ("conv2", "conv3", "fc"):
        own, lateral = terms[layer]
        torch.testing.assert_close(torch.relu(own + lateral), acts[layer].detach())
    own, lateral = terms["heads"]
    out = net(OBS)
    torch.testing.assert_close(
        own + lateral, torch.cat([out.logits, out.value[:, None]], 1).detach()
    )


def test_lateral_is_linear_in_alpha_at_initialisation_and_silent_without_u():
    """V's bias starts at zero, so relu(V (alpha h)) = alpha relu(V h): 10x alpha, 10x signal.
    The frozen column's activations do not depend on alpha, so this holds at every layer;
    the new column's own conv2 term does not depend on alpha at all."""
    small, big = lateral_signal(two_columns(0.1), OBS), lateral_signal(two_columns(1.0), OBS)
    assert [r.layer for r in small] == ["conv2", "conv3", "fc", "heads"]
    for s, b in zip(small, big, strict=True):
        assert b.lateral_rms > 0
        assert b.lateral_rms == pytest.approx(10 * s.lateral_rms, rel=1e-4)
    assert big[0].own_rms == pytest.approx(small[0].own_rms, rel=1e-6)
    assert small[0].ratio == pytest.approx(small[0].lateral_rms / small[0].own_rms)

    net = two_columns(1.0)
    with torch.no_grad():
        net.adapters[1]["fc"].U.weight.zero_()
    rows = {r.layer: r for r in lateral_signal(net, OBS)}
    assert rows["fc"].lateral_rms == 0 and rows["conv3"].lateral_rms > 0


def test_first_column_has_no_laterals():
    with pytest.raises(ValueError, match="no laterals"):
        lateral_signal(two_columns(0.1), OBS, column=0)
