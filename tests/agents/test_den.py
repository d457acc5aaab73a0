"""DEN's three operations on small nets with hand-made weights, and no forgetting."""

from __future__ import annotations

import pytest
import torch

from agents import ColumnConfig, DENConfig, DENNet, load_agent
from agents.den import EXPAND, FINAL, HEAD, LAYERS, SELECTIVE, SOURCE
from methods import build_agent

# a tiny column: 1x6x6 input, conv 3/1, 2/1, 1/1 with 2 maps each (6 -> 4 -> 3 -> 3), fc 3
SMALL = ColumnConfig(
    in_channels=1, input_size=6, conv_channels=(2, 2, 2), kernels=((3, 1), (2, 1), (1, 1)), hidden=3
)
DEN = DENConfig(k=1, zero_eps=0.1, sigma=0.5)


def _zeroed_second_task() -> DENNet:
    """A 2-task DEN with every weight zero (the tests set the ones they need)."""
    torch.manual_seed(0)
    net = DENNet(SMALL, 2, DEN)
    net.add_task(2)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    net.snapshot()
    return net


def _obs(n: int = 4, size: int = 6, channels: int = 1, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen)


def _set(net: DENNet, name: str, index: tuple, value: float) -> None:
    with torch.no_grad():
        net.weights[name][index] = value


def test_add_task_allocates_k_new_units_and_a_spare_row_per_old_unit():
    net = _zeroed_second_task()
    # conv1: 2 old slots + k=1 new; rows: 2 old, 1 new, 2 spare (one per old slot)
    assert [len(b) for b in net.slot_born] == [3, 3, 3, 4]
    assert [len(r) for r in net.row_from] == [5, 5, 5, 7]
    assert net.slot_born[0] == [0, 0, 1] and net.row_from[0] == [0, 0, 1, 1, 1]
    assert net.weights["conv2"].shape == (5, 3, 2, 2)
    assert net.weights["fc"].shape == (7, 3 * 9)
    # task 1 starts with the old units' rows; its new units are not in use yet
    assert net._slot_row("conv1")[1].tolist() == [0, 1, -1]
    assert net.phase_index == HEAD and not net.heads[0].weight.requires_grad


def test_breadth_first_search_selects_exactly_the_units_with_a_path_to_the_head():
    net = _zeroed_second_task()
    with torch.no_grad():
        net.heads[1].weight[0, 1] = 1.0  # fc slot 1 feeds the new head
        net.heads[1].weight[2, 2] = 0.05  # below zero_eps: no path
    _set(net, "fc", (1, 0 * 9 + 4), 0.5)  # fc unit 1 <- conv3 map 0 (one position)
    _set(net, "fc", (0, 1 * 9), 0.9)  # fc unit 0 is not selected: conv3 map 1 is not reached
    _set(net, "fc", (1, 2 * 9), 0.9)  # conv3 map 2 is new: an old unit cannot read it
    _set(net, "conv3", (0, 1, 0, 0), -0.3)  # conv3 map 0 <- conv2 map 1
    _set(net, "conv2", (1, 0, 1, 1), 0.2)  # conv2 map 1 <- conv1 map 0
    _set(net, "conv2", (1, 1, 0, 0), 0.05)  # below zero_eps
    counts = net.advance(SELECTIVE)[0]["selected"]
    assert counts == {"conv1": 1, "conv2": 1, "conv3": 1, "fc": 1}
    expected = {"conv1": [0], "conv2": [1], "conv3": [0], "fc": [1]}
    for name in LAYERS:
        assert torch.nonzero(net._selected(name)).flatten().tolist() == expected[name], name
        # the trainable rows are the selected units' rows for task 1 (here: the same ids)
        assert torch.nonzero(net._train_rows(name)).flatten().tolist() == expected[name], name


def test_only_the_trainable_rows_get_gradients():
    torch.manual_seed(1)
    net = DENNet(SMALL, 2, DEN)
    net.add_task(3)
    with torch.no_grad():  # a head with paths to every unit
        net.heads[1].weight.fill_(0.5)
    net.advance(SELECTIVE)
    with torch.no_grad():  # now keep only some rows trainable
        net._train_rows("conv2")[0] = False
        net._train_rows("fc").zero_()
        net._train_rows("fc")[2] = True
    out = net(_obs())
    (out.logits.sum() + out.value.sum()).backward()
    for name in LAYERS:
        grad = net.weights[name].grad.flatten(1).abs().sum(1)
        train = net._train_rows(name)
        assert torch.all(grad[~train] == 0), name
        assert torch.all(net.biases[name].grad[~train] == 0), name
    assert net.weights["fc"].grad[2].abs().sum() > 0
    assert net.weights["conv1"].grad[0].abs().sum() > 0


def test_expansion_adds_units_that_old_units_cannot_read():
    net = _zeroed_second_task()
    torch.manual_seed(3)
    with torch.no_grad():
        for name in LAYERS:  # every existing connection non-zero
            net.weights[name].normal_(0, 0.5)
            net.biases[name].fill_(0.1)
        net.heads[1].weight.normal_(0, 0.5)
    net.snapshot()
    net.advance(SELECTIVE)
    added = net.advance(EXPAND, score=-1.0)[0]
    assert added["expanded"] and added["added"] == {n: 1 for n in LAYERS}
    assert net._slot_row("conv1")[1].tolist() == [0, 1, 2]
    assert net._slot_row("fc")[1].tolist() == [0, 1, 2, 3]
    assert bool(net._train_rows("conv2")[2]) and bool(net._train_rows("fc")[3])
    obs = _obs()
    with torch.no_grad():
        before = net(obs).logits.clone()
        net.weights["conv2"][0, 2] += 5.0  # old conv2 unit 0 <- new conv1 unit: masked
        assert torch.equal(net(obs).logits, before)
        net.weights["conv2"][2, 0] += 5.0  # new conv2 unit <- old conv1 unit: used
        assert not torch.equal(net(obs).logits, before)
    # task 0 computes with its own units only
    assert net.hidden(obs, task=0)["conv1"].shape[1] == 2


def test_expansion_test_compares_the_score_with_tau():
    for tau, score, grows in ((0.5, 0.2, True), (0.5, 0.8, False), (None, 0.8, True)):
        torch.manual_seed(0)
        net = DENNet(SMALL, 2, DENConfig(k=1, tau=tau))
        net.add_task(2)
        record = net.advance(EXPAND, score=score)[-1]
        assert record["expanded"] is grows
        assert (int(net._slot_row("fc")[1, -1]) >= 0) is grows
        assert net.growth()[1]["expanded"] is grows


def test_pruning_removes_exactly_the_added_units_whose_group_went_to_zero():
    net = _zeroed_second_task()
    net.advance(EXPAND)
    with torch.no_grad():
        net.weights["conv1"][2].fill_(0.001)  # RMS 0.001 < zero_eps 0.1: pruned
        net.weights["conv2"][2].fill_(0.5)  # kept
        net.weights["conv3"][2].zero_()
        net.biases["conv3"][2] = 0.3  # a bias alone keeps a unit alive (it is in the group)
        net.weights["fc"][3].zero_()  # pruned
    pruned = net.advance(FINAL)[0]["pruned"]
    assert pruned == {"conv1": 1, "conv2": 0, "conv3": 0, "fc": 1}
    assert net._slot_row("conv1")[1].tolist() == [0, 1, -1]
    assert net._slot_row("conv2")[1, 2] == 2
    hidden = net.hidden(_obs())
    assert torch.all(hidden["conv1"][:, 2] == 0)  # a pruned unit outputs nothing
    g = net.growth()[1]
    assert g["added"] == {"conv1": 0, "conv2": 1, "conv3": 1, "fc": 0}


def test_split_duplicates_units_that_drifted_beyond_sigma_and_restores_old_weights():
    net = _zeroed_second_task()
    with torch.no_grad():
        net.heads[1].weight[0, 1] = 1.0
    _set(net, "fc", (1, 4), 0.5)
    _set(net, "conv3", (0, 1, 0, 0), -0.3)
    _set(net, "conv2", (1, 0, 1, 1), 0.2)
    net.snapshot()  # the weights of the earlier task
    old = {n: net.weights[n].detach().clone() for n in LAYERS}
    net.advance(SELECTIVE)
    with torch.no_grad():  # "retraining" moved two selected units
        net.weights["conv2"][1, 0, 0, 0] += 0.6  # drift 0.6 > sigma 0.5: split
        net.weights["conv3"][0, 1, 0, 0] += 0.1  # drift 0.1 <= sigma: reset
    moved = net.weights["conv2"][1].detach().clone()
    assert net.drift("conv2")[1].item() == pytest.approx(0.6)
    net.advance(EXPAND)
    final = net.advance(FINAL)[-1]
    assert final["split"] == {"conv1": 0, "conv2": 1, "conv3": 0, "fc": 0}
    assert final["pruned"] == {n: 1 for n in LAYERS}  # the added units stayed all-zero
    # the duplicate is the first spare row (after the k=1 expansion row) and plays slot 1
    # for task 1; task 0 keeps the original row, which has its old weights back
    assert net._slot_row("conv2")[1, 1] == 3 and net._slot_row("conv2")[0, 1] == 1
    assert torch.equal(net.weights["conv2"][3], moved)
    for name in LAYERS:  # every old row holds exactly its old weights
        old_rows = torch.tensor([f == 0 for f in net.row_from[LAYERS.index(name)]])
        assert torch.equal(net.weights[name][old_rows], old[name][old_rows]), name
    # from now on only task 1's own rows train: the duplicate (the added unit was pruned)
    assert torch.nonzero(net._train_rows("conv2")).flatten().tolist() == [3]
    assert net.growth()[1]["split"]["conv2"] == 1


def test_penalties_match_a_hand_computation():
    torch.manual_seed(4)
    net = DENNet(SMALL, 2, DENConfig(k=1, l1=0.1, l2=0.2, group=0.3, drift=0.4))
    by_hand = sum(w.abs().sum() for w in net.weights.values()) + net.heads[0].weight.abs().sum()
    torch.testing.assert_close(net.penalty(), 0.1 * by_hand)
    net.add_task(2)
    head = net.heads[1].weight
    torch.testing.assert_close(net.penalty(), 0.1 * head.abs().sum())
    with torch.no_grad():
        head.fill_(0.5)
    net.advance(SELECTIVE)
    with torch.no_grad():
        net.weights["conv2"][0] += 0.25  # drift of a selected old row
    net.advance(EXPAND)
    expected = 0.2 * head.pow(2).sum()
    for i, name in enumerate(LAYERS):
        w, b = net.weights[name], net.biases[name]
        old_w = getattr(net, f"old_w_{name}")
        for r in range(w.shape[0]):
            if not net._train_rows(name)[r]:
                continue
            if net.row_from[i][r] == 0:  # a retrained old row: L2 and drift
                expected = expected + 0.2 * w[r].pow(2).sum() + 0.4 * (w[r] - old_w[r]).pow(2).sum()
            else:  # an added row: L1 and its group's norm (weights and bias)
                group = (w[r].pow(2).sum() + b[r].pow(2)).sqrt()
                expected = expected + 0.1 * w[r].abs().sum() + 0.3 * group
    torch.testing.assert_close(net.penalty(), expected)


def _train_steps(net: DENNet, obs: torch.Tensor, steps: int = 4) -> None:
    opt = torch.optim.RMSprop(
        [p for p in net.parameters() if p.requires_grad], lr=0.05, alpha=0.99, eps=1e-5
    )
    for _ in range(steps):
        out = net(obs)
        loss = (out.logits**2).sum() - out.value.sum() + net.penalty()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 40.0)
        opt.step()


def test_earlier_tasks_are_bit_identical_after_a_task_saved_and_reloaded(tmp_path):
    torch.manual_seed(5)
    obs = _obs(6, size=84, channels=4)
    net = DENNet(ColumnConfig(), 6, DENConfig(k=3, sigma=0.01))
    _train_steps(net, obs)  # task 0 (phase source)
    net.save(tmp_path / "t0.pt")
    first = load_agent(tmp_path / "t0.pt")
    with torch.no_grad():
        task0 = first(obs)
    outputs = [task0]
    for t in (1, 2):  # two more tasks, each through every phase, saved and reloaded
        net = build_agent("den", 3, sources=[tmp_path / f"t{t - 1}.pt"], seed=t)
        assert net.num_tasks == t + 1
        for phase in (SELECTIVE, EXPAND, FINAL):
            _train_steps(net, obs)
            net.advance(phase, score=0.0)
        _train_steps(net, obs)  # the final phase trains the task's own rows
        with torch.no_grad():
            for j, before in enumerate(outputs):
                after = net(obs, task=j)
                assert torch.equal(after.logits, before.logits), (t, j)
                assert torch.equal(after.value, before.value), (t, j)
            newest = net(obs)
        net.compact()
        net.save(tmp_path / f"t{t}.pt")
        loaded = load_agent(tmp_path / f"t{t}.pt")
        with torch.no_grad():
            for j, before in enumerate([*outputs, newest]):
                assert torch.equal(loaded(obs, task=j).logits, before.logits), (t, j)
        outputs.append(newest)
        growth = loaded.growth()[t]
        assert sum(growth["split"].values()) > 0  # sigma 0.01: retraining split units
    assert loaded.num_tasks == 3 and loaded.task_actions == [6, 3, 3]


def test_config_is_validated_and_phases_split_the_budget():
    with pytest.raises(ValueError, match="phases"):
        DENConfig(phases=(0.5, 0.5, 0.1))
    with pytest.raises(ValueError, match="sigma"):
        DENConfig(sigma=-1)
    cfg = DENConfig(phases=(0.1, 0.2, 0.3))
    assert [cfg.phase_at(f) for f in (0.0, 0.09, 0.1, 0.29, 0.3, 0.59, 0.6, 1.0)] == [
        HEAD,
        HEAD,
        SELECTIVE,
        SELECTIVE,
        EXPAND,
        EXPAND,
        FINAL,
        FINAL,
    ]
    # a first task trains everything in one phase; advancing it does nothing
    net = DENNet(SMALL, 2, cfg)
    assert net.phase_index == SOURCE and net.advance(FINAL) == []


def test_near_zero_counts_only_the_connections_each_task_uses():
    net = _zeroed_second_task()
    net.advance(EXPAND)  # task 1 uses the new conv2 unit (row 2), reading 3 conv1 maps
    with torch.no_grad():
        net.weights["conv2"][0] = 0.5  # old unit: its 8 allowed weights, and the 4 from
        # the new conv1 map, which its timestamp forbids (never counted)
        net.weights["conv2"][2] = 0.5  # new unit: 12 allowed weights
        net.weights["conv1"][0, 0, :, 0] = 0.02  # small, but not zero
    # task 0: conv2 rows 0, 1 over 2 maps x 2x2 = 16 weights, row 1's 8 are zero
    assert net.near_zero("conv2", 0) == 0.5
    # task 1: rows 0, 1 (8 + 8 allowed) and the new row 2 (12): row 1's 8 of 28 are zero
    assert net.near_zero("conv2", 1) == pytest.approx(8 / 28)
    assert net.near_zero("conv1", 0) == 1.0  # 0.02 is below zero_eps 0.1
    assert net.growth()[1]["near_zero"]["conv2"] == pytest.approx(8 / 28)
