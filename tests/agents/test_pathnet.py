import numpy as np
import pytest
import torch

from agents import (
    PathNet,
    PathNetConfig,
    binary_tournament,
    load_agent,
    mutate,
    random_path,
    tournament_step,
)
from methods import build_agent

CFG = PathNetConfig()
OBS = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)


def test_per_row_paths_match_single_path_forward():
    torch.manual_seed(0)
    net = PathNet(CFG, 6)
    rng = np.random.default_rng(0)
    paths = [random_path(rng, CFG) for _ in range(3)]
    batch_paths = torch.as_tensor(np.stack([paths[i % 3] for i in range(6)]))
    out = net(OBS, batch_paths)
    for row in range(6):
        single = net(OBS[row : row + 1], torch.as_tensor(paths[row % 3]))
        torch.testing.assert_close(out.logits[row], single.logits[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out.value[row], single.value[0], atol=1e-5, rtol=1e-5)


def test_active_modules_are_summed():
    net = PathNet(PathNetConfig(modules_per_layer=3, active_per_layer=2), 2)
    x = torch.rand(2, 4, 84, 84)
    path = torch.tensor([[0, 1], [0, 1], [0, 1], [0, 1]])
    h = (x - net.config.input_mean) / net.config.input_std  # float input in [0, 1]
    for i, layer in enumerate(net.layers):
        if i == 3:
            h = h.flatten(1)
        h = torch.relu(layer[0](h)) + torch.relu(layer[1](h))
    torch.testing.assert_close(net(x, path).logits, net.readouts[0]["policy"](h))


def test_off_path_modules_get_no_gradient_and_frozen_do_not_change():
    torch.manual_seed(1)
    net = PathNet(CFG, 6)
    rng = np.random.default_rng(1)
    first = random_path(rng, CFG)
    net.fix_path(first, next_num_actions=3)
    frozen_before = {n: p.clone() for n, p in net.named_parameters() if not p.requires_grad}
    second = first.copy()
    second[:, :2] = (first[:, :2] + 5) % 10  # shares two frozen genes per layer
    opt = torch.optim.RMSprop(net.trainable_parameters(), lr=0.1)
    for _ in range(3):
        out = net(OBS, torch.as_tensor(second))
        assert out.logits.shape == (6, 3)
        opt.zero_grad()
        (out.logits.pow(2).sum() + out.value.sum()).backward()
        opt.step()
    for n, p in net.named_parameters():
        if n in frozen_before:
            assert torch.equal(p, frozen_before[n]), n
    used = {(layer, m) for layer in range(4) for m in second[layer]}
    for layer_index, layer in enumerate(net.layers):
        for m, module in enumerate(layer):
            if (layer_index, m) not in used and module.weight.requires_grad:
                assert module.weight.grad is None, (layer_index, m)
            if (layer_index, m) in used and module.weight.requires_grad:
                assert module.weight.grad is not None, (layer_index, m)  # on the graph
    trained = [q.grad.abs().sum() for q in net.trainable_parameters() if q.grad is not None]
    assert sum(trained) > 0


def test_fix_path_reinitialises_free_modules_only():
    torch.manual_seed(2)
    net = PathNet(CFG, 6)
    path = random_path(np.random.default_rng(2), CFG)
    before = [[m.weight.clone() for m in layer] for layer in net.layers]
    net.fix_path(path)
    for layer_index, layer in enumerate(net.layers):
        for m, module in enumerate(layer):
            same = torch.equal(module.weight, before[layer_index][m])
            assert same == (m in path[layer_index])
            assert module.weight.requires_grad == (m not in path[layer_index])
    assert net.task == 1 and len(net.fixed_paths) == 1
    assert not any(p.requires_grad for p in net.readouts[0].parameters())


def test_mutation_rate_and_range():
    rng = np.random.default_rng(0)
    path = np.full((4, 4), 5)
    changed, trials = 0, 4000
    for _ in range(trials):
        new = mutate(path, rng, 10)
        assert new.min() >= 3 and new.max() <= 7
        changed += int((new != path).sum())
    # each of 16 genes flips w.p. 1/16 and moves w.p. 4/5 (shift 0 is possible)
    expected = trials * 16 * (1 / 16) * 0.8
    assert abs(changed - expected) < 5 * np.sqrt(expected)
    edge = mutate(np.zeros((4, 4), int), np.random.default_rng(1), 10)
    assert edge.min() >= 0
    assert np.array_equal(path, np.full((4, 4), 5))  # input untouched


def test_tournament():
    rng = np.random.default_rng(0)
    fitness = [0.0, 5.0, 1.0]
    for _ in range(50):
        w, lo = binary_tournament(fitness, rng)
        assert w != lo and fitness[w] >= fitness[lo]
    pop = [np.full((4, 4), i) for i in range(3)]
    new, w, lo = tournament_step(pop, fitness, rng, 10)
    assert np.abs(new[lo] - pop[w]).max() <= 2 and np.array_equal(new[w], pop[w])
    with pytest.raises(ValueError):
        binary_tournament([1.0], rng)


def test_bad_paths_rejected_and_round_trip(tmp_path):
    net = PathNet(CFG, 6)
    with pytest.raises(ValueError, match="shape"):
        net(OBS, torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="genes"):
        net(OBS, torch.full((4, 4), 10))
    path = random_path(np.random.default_rng(3), CFG)
    net.fix_path(path, next_num_actions=18)
    saved = net.save(tmp_path / "p.pt")
    back = load_agent(saved)
    p = torch.as_tensor(path)
    torch.testing.assert_close(back(OBS, p).logits, net(OBS, p).logits)
    assert back.fixed_paths == net.fixed_paths
    assert {n for n, q in back.named_parameters() if q.requires_grad} == {
        n for n, q in net.named_parameters() if q.requires_grad
    }
    cont = build_agent("pathnet", 18, sources=[saved])
    assert cont.num_actions == 18
