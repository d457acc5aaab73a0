import subprocess
import sys

import pytest
import torch

from agents import ColumnConfig, ProgressiveNet, ShapeMismatchError, load_agent
from methods import build_agent

OBS = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)


def train_steps(net, steps=3, lr=0.1):
    opt = torch.optim.RMSprop(net.trainable_parameters(), lr=lr)
    for _ in range(steps):
        out = net(OBS)
        loss = out.logits.pow(2).mean() + (out.value - 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return opt


def test_column_shapes_and_uint8_scaling():
    net = ProgressiveNet(ColumnConfig(), num_actions=6)
    out = net(OBS)
    assert out.logits.shape == (5, 6) and out.value.shape == (5,)
    torch.testing.assert_close(net(OBS.float() / 255).logits, out.logits)
    c = net.columns[0]
    assert (c.conv1.out_channels, c.conv1.kernel_size, c.conv1.stride) == (12, (8, 8), (4, 4))
    assert (c.conv2.kernel_size, c.conv2.stride, c.conv3.kernel_size) == ((4, 4), (2, 2), (3, 3))
    assert c.fc.in_features == 12 * 7 * 7 and c.fc.out_features == 256


def test_frozen_columns_bit_identical_and_no_optimizer_state():
    net = ProgressiveNet(ColumnConfig(), 6)
    train_steps(net, 1)
    net.add_column(3)
    net.add_column(4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = train_steps(net, 4)
    frozen = [p for p in net.parameters() if not p.requires_grad]
    assert frozen and all(p not in opt.state for p in frozen)
    frozen_ids = {id(p) for p in frozen}
    for name, p in net.named_parameters():
        if id(p) in frozen_ids:
            assert torch.equal(p, before[name]), name
    # the newest column and its adapters did change
    assert not torch.equal(net.columns[2].conv1.weight, before["columns.2.conv1.weight"])
    assert not torch.equal(net.adapters[2]["fc"].alpha, before["adapters.2.fc.alpha"])


def test_every_trainable_parameter_gets_a_gradient():
    net = ProgressiveNet(ColumnConfig(), 6)
    net.add_column(6)
    net.add_column(6)
    out = net(OBS)
    (out.logits.sum() + out.value.sum()).backward()
    for name, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_adapter_equals_the_papers_formula():
    """U f(V (alpha * h_earlier)) computed by hand from the adapter's weights."""
    torch.manual_seed(0)
    net = ProgressiveNet(ColumnConfig(alpha_init=0.5), 6)
    net.add_column(6)
    net.add_column(6)
    with torch.no_grad():
        net.adapters[2]["conv2"].alpha.copy_(torch.tensor([0.3, -2.0]))
    acts = net.column_activations(OBS)
    ad = net.adapters[2]["conv2"]
    scaled = torch.cat([ad.alpha[0] * acts[0]["conv1"], ad.alpha[1] * acts[1]["conv1"]], 1)
    expected = ad.U(torch.relu(ad.V(scaled)))
    torch.testing.assert_close(ad([acts[0]["conv1"], acts[1]["conv1"]]), expected)
    col = net.columns[2]
    pre = col.conv2(acts[2]["conv1"]) + expected
    torch.testing.assert_close(acts[2]["conv2"], torch.relu(pre))


def test_laterals_carry_earlier_activations():
    net = ProgressiveNet(ColumnConfig(alpha_init=1.0), 6)
    net.add_column(6)
    base = net(OBS).logits.detach()
    with torch.no_grad():
        net.columns[0].conv1.weight.mul_(2.0)  # change only the frozen column
    assert not torch.allclose(net(OBS).logits, base)
    with torch.no_grad():
        for adapter in net.adapters[1].values():
            adapter.alpha.zero_()  # alpha = 0 cuts the laterals
    cut = net(OBS).logits.detach()
    with torch.no_grad():
        net.columns[0].conv1.weight.mul_(3.0)
    torch.testing.assert_close(net(OBS).logits, cut)


def test_first_layer_has_no_lateral_and_adapter_shapes():
    net = ProgressiveNet(ColumnConfig(), 6)
    net.add_column(3)
    net.add_column(3)
    ad = net.adapters[2]
    assert set(ad) == {"conv2", "conv3", "fc", "heads"}
    assert ad["conv2"].alpha.shape == (2,)
    assert ad["conv2"].V.in_channels == 24 and ad["conv2"].V.out_channels == 12
    assert ad["conv2"].U.kernel_size == (4, 4) and ad["conv2"].U.stride == (2, 2)
    assert ad["heads"].V.in_features == 512 and ad["heads"].U.out_features == 3 + 1


def test_state_dict_round_trip_and_column_file(tmp_path):
    net = ProgressiveNet(ColumnConfig(), 6)
    train_steps(net, 1)
    path = net.save(tmp_path / "col.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["kind"] == "progressive"
    back = load_agent(path)
    torch.testing.assert_close(back(OBS).logits, net(OBS).logits)
    # progressive from the saved column: the first column is the file's, frozen
    prog = build_agent("progressive", num_actions=3, sources=[path])
    assert prog.num_columns == 2 and prog.num_actions == 3
    torch.testing.assert_close(prog(OBS, column=0).logits, net(OBS).logits)
    assert not any(p.requires_grad for p in prog.columns[0].parameters())
    # a chain: a 3-column net from the saved 2-column net
    chain_path = prog.save(tmp_path / "prog.pt")
    chain = build_agent("progressive", num_actions=18, sources=[path, chain_path])
    assert chain.num_columns == 3 and chain.num_actions == 18
    # column 1 of the chain runs layer by layer, the newest column of prog the fast way:
    # the two sum in different orders, so float32 rounding (relative ~1e-7 per add, the
    # logits here are in the thousands) is allowed, a wrong weight or lateral is not
    with torch.no_grad():
        layered, fast = chain(OBS, column=1).logits, prog(OBS).logits
    torch.testing.assert_close(layered, fast, rtol=1e-4, atol=1e-4 * float(fast.abs().max()))


def test_finetune_baselines(tmp_path):
    src = ProgressiveNet(ColumnConfig(), 6)
    path = src.save(tmp_path / "src.pt")
    head = build_agent("finetune-head", 6, sources=[path])
    torch.testing.assert_close(head(OBS).logits, src(OBS).logits)
    trainable = {n for n, p in head.named_parameters() if p.requires_grad}
    assert trainable == {
        "columns.0.policy.weight",
        "columns.0.policy.bias",
        "columns.0.value.weight",
        "columns.0.value.bias",
    }
    full = build_agent("finetune-all", 18, sources=[path])  # new action count: new heads
    assert full.num_actions == 18 and all(p.requires_grad for p in full.parameters())
    torch.testing.assert_close(full.columns[0].conv3.weight, src.columns[0].conv3.weight)
    rnd = build_agent("random-column", 6)
    assert rnd.num_columns == 2 and not any(p.requires_grad for p in rnd.columns[0].parameters())
    with pytest.raises(ValueError, match="exactly one source"):
        build_agent("finetune-all", 6)
    with pytest.raises(ValueError, match="unknown agent"):
        build_agent("progresive", 6)


def test_shape_mismatch_errors_name_the_tensor(tmp_path):
    path = ProgressiveNet(ColumnConfig(in_channels=3), 6).save(tmp_path / "rgb.pt")
    with pytest.raises(ValueError, match="3x84x84 inputs"):
        build_agent("progressive", 6, in_channels=4, sources=[path])
    net = ProgressiveNet(ColumnConfig(in_channels=4), 6)
    net.add_column(6)
    with pytest.raises(ShapeMismatchError, match=r"columns.0.conv1.weight.*input channels"):
        net.load_columns(str(path))
    net18 = ProgressiveNet(ColumnConfig(), 18)
    net18.add_column(6)
    six = ProgressiveNet(ColumnConfig(), 6).save(tmp_path / "six.pt")
    with pytest.raises(ShapeMismatchError, match=r"columns.0.policy.weight.*action counts"):
        net18.load_columns(str(six))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable agent file"):
        load_agent(tmp_path / "junk.pt")


def test_load_columns_copies_and_freezes(tmp_path):
    src = ProgressiveNet(ColumnConfig(), 6)
    path = src.save(tmp_path / "s.pt")
    net = ProgressiveNet(ColumnConfig(), 6)
    net.add_column(6)
    net.load_columns(str(path))
    torch.testing.assert_close(net(OBS, column=0).logits, src(OBS).logits)


def test_importing_core_packages_loads_no_ray():
    code = "import sys, agents, envs, analysis; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _random_net(actions, config=None):
    torch.manual_seed(1)
    net = ProgressiveNet(config or ColumnConfig(alpha_init=0.5), actions[0])
    for n in actions[1:]:
        net.add_column(n)
    with torch.no_grad():  # non-default alphas and biases, so every term shows
        for p in net.parameters():
            if p.dim() <= 1:
                p.uniform_(-0.5, 0.5)
    return net


def _grads(net, out):
    net.zero_grad()
    (out.logits.pow(2).sum() + out.value.pow(2).sum()).backward()
    return {n: p.grad.clone() for n, p in net.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(
    ("actions", "config"),
    [
        ((6, 3), None),
        ((6, 6, 4), None),
        ((3, 6, 4, 5), None),
        ((5, 5, 5), ColumnConfig(in_channels=12, alpha_init=0.5)),
    ],
)
def test_fast_newest_column_equals_the_layer_by_layer_reference(actions, config):
    # forward() of the newest column stacks the frozen columns (one conv1 for all,
    # grouped convs, a block-triangular V); column_activations() is the plain definition
    net = _random_net(actions, config)
    obs = torch.randint(0, 256, (6, net.config.in_channels, 84, 84), dtype=torch.uint8)
    fast = net(obs)
    ref_h = net.column_activations(obs)[-1]
    ref = type(fast)(ref_h["policy"], ref_h["value"].squeeze(-1))
    torch.testing.assert_close(fast.logits, ref.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.value, ref.value, rtol=1e-5, atol=1e-5)
    g_fast, g_ref = _grads(net, fast), _grads(net, ref)
    assert set(g_fast) == set(g_ref) and len(g_ref) > 0
    for name in g_ref:
        torch.testing.assert_close(g_fast[name], g_ref[name], rtol=1e-4, atol=1e-5, msg=name)
    with torch.no_grad():  # the env runners' path (no autograd at all)
        torch.testing.assert_close(net(obs).logits, ref.logits, rtol=1e-5, atol=1e-5)


def test_fast_path_sees_in_place_changes_of_frozen_weights():
    net = _random_net((6, 6, 6))
    before = net(OBS).logits.detach()
    with torch.no_grad():
        net.adapters[1]["conv3"].V.weight.mul_(3.0)  # a frozen column's lateral
        net.columns[0].fc.bias.add_(0.5)
    after = net(OBS).logits.detach()
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, net.column_activations(OBS)[-1]["policy"])
    net.load_state_dict(_random_net((6, 6, 6)).state_dict())  # back to the original weights
    torch.testing.assert_close(net(OBS).logits.detach(), before)


def test_trainable_earlier_columns_still_get_gradients():
    # the fast path assumes frozen earlier columns; an unfrozen one must not lose its gradient
    net = _random_net((6, 6))
    net.columns[0].conv1.weight.requires_grad_(True)
    out = net(OBS)
    (out.logits.sum() + out.value.sum()).backward()
    assert net.columns[0].conv1.weight.grad is not None
    assert net.columns[0].conv1.weight.grad.abs().sum() > 0


def test_inputs_are_standardised_with_the_configured_constants():
    """uint8 frames reach conv1 as (x / 255 - mean) / std, the numbers a hand computation gives."""
    from agents.base import INPUT_MEAN, INPUT_STD, to_float_input

    obs = torch.tensor([0, 107, 255], dtype=torch.uint8).view(1, 3, 1, 1)
    got = to_float_input(obs).flatten().tolist()
    want = [(v / 255.0 - INPUT_MEAN) / INPUT_STD for v in (0, 107, 255)]
    assert got == pytest.approx(want, abs=1e-5)
    assert to_float_input(obs.float() / 255.0).flatten().tolist() == pytest.approx(want, abs=1e-5)
    assert to_float_input(obs, 0.0, 1.0).flatten().tolist() == pytest.approx([0, 107 / 255, 1])
    # a column with other constants uses them, and keeps them in its saved structure
    cfg = ColumnConfig(input_mean=0.0, input_std=1.0)
    net = ProgressiveNet(cfg, 3)
    same = ProgressiveNet.from_structure(net.structure())
    assert same.config.input_std == 1.0 and same.config.input_mean == 0.0
    with pytest.raises(ValueError, match="input_std"):
        ColumnConfig(input_std=0.0)
