"""Every network runs forward and backward on any torch device.

CI has no GPU, so the check uses torch's ``meta`` device: a meta tensor has a shape and a
dtype but no data, and any operation that mixes it with a tensor created on the CPU
inside the forward pass (a ``torch.zeros(...)`` without ``device=``) fails with "Cannot
copy out of meta tensor" or a device-mismatch error, exactly where a CUDA learner would
fail. Real-GPU runs of the same checks are marked ``gpu``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import (
    ColumnConfig,
    DENNet,
    PathNet,
    PathNetConfig,
    ProgressiveNet,
    random_path,
)
from methods import build_agent, method_names


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Saved source files: a 1-, 2- and 3-column progressive chain and a PathNet."""
    root = tmp_path_factory.mktemp("sources")
    torch.manual_seed(0)
    files = {}
    net = ProgressiveNet(ColumnConfig(), 6)
    files[1] = net.save(root / "col1.pt")
    for k in (2, 3):
        net.add_column(6)
        files[k] = net.save(root / f"col{k}.pt")
    pathnet = PathNet(PathNetConfig(), 6)
    pathnet.fix_path(random_path(np.random.default_rng(0), pathnet.config))
    files["pathnet"] = pathnet.save(root / "pathnet.pt")
    den = DENNet(ColumnConfig(), 6)
    files["den"] = den.save(root / "den.pt")
    return files


CASES = [*method_names(), "pathnet-fresh", "progressive-3col", "progressive-4col", "den-task2"]


def _build(label, sources):
    """The network of one case: every agent name, plus 3- and 4-column chains."""
    if label in ("finetune-head", "finetune-all", "progressive"):
        srcs = [sources[1]]
    elif label == "pathnet":
        srcs = [sources["pathnet"]]
    elif label == "den-task2":  # a second task on a saved DEN, in its expansion phase
        net = build_agent("den", num_actions=3, sources=[sources["den"]], seed=0)
        net.advance(3)
        return net
    elif label.startswith("progressive-"):  # 3 or 4 columns from a chain of frozen ones
        srcs, label = [sources[int(label[-4]) - 1]], "progressive"
    else:
        srcs, label = [], label.removesuffix("-fresh")
    return build_agent(label, num_actions=3, sources=srcs, seed=0)


def _paths(net, batch):
    rng = np.random.default_rng(1)
    return torch.as_tensor(np.stack([random_path(rng, net.config) for _ in range(batch)]))


def _forward_backward(net, device, batch=3):
    """One forward and backward pass on ``device``; returns the outputs and trainables."""
    net = net.to(device)
    obs = torch.zeros(batch, 4, 84, 84, dtype=torch.uint8, device=device)
    outs = []
    if isinstance(net, PathNet):
        outs.append(net(obs, _paths(net, batch)))  # one path per row
        outs.append(net(obs, _paths(net, 1)[0]))  # one path for the batch
    elif isinstance(net, DENNet):
        outs.append(net(obs))
        if net.num_tasks > 1:
            outs.append(net(obs, task=0))  # an earlier task: its own units and head
    else:
        outs.append(net(obs))  # the fused path of the newest column
        if net.num_columns > 1:
            outs.append(net(obs, column=0))  # an earlier column, through column_activations
            acts = net.column_activations(obs, hook=lambda k, name, h: h * 1.0)
            outs.append(type(outs[0])(acts[-1]["policy"], acts[-1]["value"].squeeze(-1)))
    loss = sum(o.logits.float().sum() + o.value.float().sum() for o in outs)
    if isinstance(net, DENNet):
        loss = loss + net.penalty()  # the learner adds DEN's regularisers
    trainable = net.trainable_parameters()
    if trainable:
        loss.backward()
    return outs, trainable


@pytest.mark.parametrize("label", CASES)
def test_every_network_runs_on_the_meta_device(sources, label):
    net = _build(label, sources)
    if label.startswith("progressive-"):
        assert net.num_columns == int(label[-4])
    outs, trainable = _forward_backward(net, "meta")
    assert trainable, f"{label}: nothing to train"
    for out in outs:
        assert out.logits.device.type == "meta" and out.value.device.type == "meta"
        multi = isinstance(net, (ProgressiveNet, DENNet))  # earlier heads have 6 actions
        assert out.logits.shape == (out.value.shape[0], 3) or multi
    if isinstance(net, PathNet):  # only the modules on the paths played get gradients
        used = [*_paths(net, 3), _paths(net, 1)[0]]
        trainable = {id(p): p for path in used for p in net.module_parameters(path)}.values()
    for p in trainable:
        assert p.grad is not None and p.grad.device.type == "meta", label
    for p in net.frozen_parameters():
        assert p.grad is None, label


@pytest.mark.parametrize("label", CASES)
def test_every_network_computes_the_same_in_train_and_eval_mode(sources, label):
    """No layer depends on the mode (no dropout, no batch norm): the RLModule adapter
    skips RLlib's per-forward mode switches on that ground (benchmarks/rllib/module.py)."""
    net = _build(label, sources)
    obs = torch.randint(
        0, 256, (4, 4, 84, 84), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    paths = _paths(net, 4) if isinstance(net, PathNet) else None

    def forward():
        with torch.no_grad():
            return net(obs, paths) if paths is not None else net(obs)

    train = forward()
    net.eval()
    assert not any(m.training for m in net.modules())
    evaluated = forward()
    torch.testing.assert_close(evaluated.logits, train.logits, rtol=0, atol=0)
    torch.testing.assert_close(evaluated.value, train.value, rtol=0, atol=0)


def test_fused_frozen_weights_follow_the_device(sources):
    # the 3-column fused path built its block-triangular V with torch.zeros on the CPU
    net = build_agent("progressive", 3, sources=[sources[2]])
    fused = net.to("meta")._fused_frozen_weights()
    for name in ("conv2", "conv3", "fc"):
        assert all(t is None or t.device.type == "meta" for t in fused[name]), name


def test_pathnet_routing_accepts_paths_on_another_device():
    # the learner hands paths over on its own device; routing reads them on the host
    net = PathNet(PathNetConfig(), 4)
    obs = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    paths = _paths(net, 5)
    expected = net(obs, paths)
    torch.testing.assert_close(net(obs, paths.to(torch.int32)).logits, expected.logits)
    for row in range(5):  # each row is routed through its own path
        single = net(obs[row : row + 1], paths[row])
        torch.testing.assert_close(single.logits[0], expected.logits[row])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("label", CASES)
def test_every_network_matches_the_cpu_on_cuda(sources, label):
    net = _build(label, sources)
    obs = torch.randint(0, 256, (4, 4, 84, 84), dtype=torch.uint8)
    paths = _paths(net, 4) if isinstance(net, PathNet) else None
    cpu = net(obs, paths) if paths is not None else net(obs)
    net = net.to("cuda")
    gpu = net(obs.cuda(), paths.cuda()) if paths is not None else net(obs.cuda())
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, atol=1e-4, rtol=1e-4)
    (gpu.logits.sum() + gpu.value.sum()).backward()
    assert all(p.grad is not None and p.grad.is_cuda for p in net.trainable_parameters()), label
