import subprocess
import sys

import pytest
import torch

from agents import ColumnConfig, ProgressiveNet, ShapeMismatchError, build_agent, load_agent

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
    torch.testing.assert_close(chain(OBS, column=1).logits, prog(OBS).logits)


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
