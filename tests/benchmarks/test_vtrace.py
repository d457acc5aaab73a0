"""V-trace over a flat batch of chunks, against hand and brute-force computations."""

import numpy as np
import pytest
import torch

from benchmarks.vtrace import vtrace_flat


def _t(x, dtype=torch.float32):
    return torch.tensor(x, dtype=dtype)


def test_on_policy_targets_are_n_step_returns_bootstrapped_at_cut_chunks():
    # chunk A: 3 real steps, cut (not terminal), bootstrap slot value 10
    # chunk B: 2 real steps, the second terminal; its bootstrap slot must not count
    rewards = [1.0, 0.0, 2.0, 0.0, 3.0, -1.0, 0.0]
    real = [True, True, True, False, True, True, False]
    term = [False, False, False, False, False, True, False]
    values = [0.5, 0.25, -1.0, 10.0, 4.0, 2.0, 99.0]
    g = 0.9
    zero = torch.zeros(7)
    vs, adv = vtrace_flat(
        zero, zero, _t(rewards), _t(term, torch.bool), _t(real, torch.bool), _t(values), g
    )
    a2 = 2.0 + g * 10.0
    a1 = 0.0 + g * a2
    a0 = 1.0 + g * a1
    b1 = -1.0  # terminal: no bootstrap from 99
    b0 = 3.0 + g * b1
    expected = [a0, a1, a2, 10.0, b0, b1, 99.0]
    assert vs.tolist() == pytest.approx(expected, rel=1e-6)
    # on-policy advantages: n-step return minus V; 0 on bootstrap slots
    want_adv = [e - v if r else 0.0 for e, v, r in zip(expected, values, real, strict=True)]
    assert adv.tolist() == pytest.approx(want_adv, rel=1e-6, abs=1e-6)


def _brute_force(target, behaviour, rewards, term, real, values, g, rho_bar, pg_bar):
    """IMPALA eq. (1) written out per start step, chunk by chunk (no recursion)."""
    n = len(values)
    ratio = np.exp(target - behaviour)
    vs = np.array(values, dtype=float)
    adv = np.zeros(n)
    # chunk boundaries: a chunk is a run of real steps followed by one bootstrap slot
    starts, s = [], 0
    for i in range(n):
        if not real[i]:
            starts.append((s, i))
            s = i + 1
    for lo, slot in starts:
        for s in range(lo, slot):
            total, prod = 0.0, 1.0
            for t in range(s, slot):
                d = 0.0 if term[t] else g
                v_next = values[t + 1]
                delta = min(rho_bar, ratio[t]) * (rewards[t] + d * v_next - values[t])
                total += (g ** (t - s)) * prod * delta
                if term[t]:
                    break
                prod *= min(1.0, ratio[t])
            vs[s] = values[s] + total
        for s in range(lo, slot):
            d = 0.0 if term[s] else g
            nxt = vs[s + 1]
            adv[s] = min(pg_bar, ratio[s]) * (rewards[s] + d * nxt - values[s])
    return vs, adv


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_off_policy_matches_the_papers_sum_written_out(seed):
    rng = np.random.default_rng(seed)
    lengths = [5, 20, 3, 20, 1]
    real, term = [], []
    for i, length in enumerate(lengths):
        real += [True] * length + [False]
        term += [False] * (length - 1) + [i == 2] + [False]
    n = len(real)
    target = rng.normal(-1.5, 0.5, n)
    behaviour = rng.normal(-1.5, 0.5, n)
    rewards = rng.normal(0, 1, n) * np.array(real)
    values = rng.normal(0, 2, n)
    vs, adv = vtrace_flat(
        _t(target),
        _t(behaviour),
        _t(rewards),
        _t(term, torch.bool),
        _t(real, torch.bool),
        _t(values, torch.float64),
        gamma=0.97,
        rho_bar=1.0,
        pg_rho_bar=1.0,
    )
    want_vs, want_adv = _brute_force(
        target.astype(np.float32).astype(float),
        behaviour.astype(np.float32).astype(float),
        rewards.astype(np.float32).astype(float),
        term,
        real,
        values,
        0.97,
        1.0,
        1.0,
    )
    np.testing.assert_allclose(vs.numpy(), want_vs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adv.numpy(), want_adv, rtol=1e-5, atol=1e-6)
    assert vs.dtype == torch.float64


def test_a_batch_without_its_last_bootstrap_slot_is_refused():
    z = torch.zeros(2)
    with pytest.raises(ValueError, match="bootstrap slot"):
        vtrace_flat(z, z, z, z.bool(), torch.ones(2, dtype=torch.bool), z, 0.99)
    with pytest.raises(ValueError, match="rows"):
        vtrace_flat(torch.zeros(3), z, z, z.bool(), z.bool(), z, 0.99)


def test_why_we_do_not_use_rllibs_vtrace_with_its_bootstrap_slots():
    """RLlib 2.60's vtrace_torch on the same layout drops the bootstrap of a cut chunk.

    One chunk of 3 real steps, cut by the rollout length, then its bootstrap slot
    (value 10), on-policy. The n-step return of the last real step is r + gamma * 10;
    RLlib's targets give r alone (the slot's rho cancels it). If this test fails, RLlib
    changed its V-trace: re-check whether our own loss is still needed.
    """
    from ray.rllib.algorithms.impala.torch.vtrace_torch_v2 import vtrace_torch

    g = 0.9
    rewards = torch.tensor([[1.0], [0.0], [2.0], [0.0]])
    values = torch.tensor([[0.5], [0.25], [-1.0], [10.0]])
    real = torch.tensor([[1.0], [1.0], [1.0], [0.0]])
    zero = torch.zeros(4, 1)
    rllib_vs, _ = vtrace_torch(
        target_action_log_probs=zero,
        behaviour_action_log_probs=zero,
        discounts=g * real,  # RLlib's discount: gamma * (1 - terminated) * loss_mask
        rewards=rewards,
        values=values,
        bootstrap_values=torch.tensor([0.0]),
    )
    ours, _ = vtrace_flat(
        zero[:, 0],
        zero[:, 0],
        rewards[:, 0],
        torch.zeros(4, dtype=torch.bool),
        real[:, 0].bool(),
        values[:, 0],
        g,
    )
    assert ours[2].item() == pytest.approx(2.0 + g * 10.0)
    assert rllib_vs[2, 0].item() == pytest.approx(2.0)  # the bootstrap is gone
