"""The lean env-runner connectors give what RLlib's default pipelines give."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.impala import IMPALAConfig
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from benchmarks.rllib.connectors import (
    ObservationsToModule,
    SampleActionsToEnv,
    env_to_module,
    module_to_env,
)
from benchmarks.rllib.module import XferModule
from methods.pathnet import PATH_COLUMN

OBS = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
ACT = gym.spaces.Discrete(6)
ENV = SimpleNamespace(
    single_observation_space=OBS,
    single_action_space=ACT,
    observation_space=gym.vector.utils.batch_space(OBS, 3),
    action_space=gym.vector.utils.batch_space(ACT, 3),
)


@pytest.fixture(scope="module")
def module() -> XferModule:
    spec = RLModuleSpec(
        module_class=XferModule,
        observation_space=OBS,
        action_space=ACT,
        model_config={"agent": "scratch", "seed": 0},
    )
    return spec.build()


def _default_pipelines() -> tuple:
    config = IMPALAConfig().environment(observation_space=OBS, action_space=ACT)
    return config.build_env_to_module_connector(env=ENV), config.build_module_to_env_connector(
        env=ENV
    )


def _episodes(rng: np.random.Generator, steps: tuple[int, ...] = (0, 3, 1)) -> list:
    """Single-agent episodes with random frames; episode i has ``steps[i]`` env steps."""
    episodes = []
    for n in steps:
        ep = SingleAgentEpisode(observation_space=OBS, action_space=ACT)
        ep.add_env_reset(observation=rng.integers(0, 256, OBS.shape, dtype=np.uint8))
        for _ in range(n):
            ep.add_env_step(
                observation=rng.integers(0, 256, OBS.shape, dtype=np.uint8),
                action=int(rng.integers(6)),
                reward=1.0,
            )
        episodes.append(ep)
    return episodes


def _call(pipeline, module, batch, episodes, explore, shared_data=None, **kwargs):  # noqa: ANN001, ANN202
    return pipeline(
        rl_module=module,
        batch=batch,
        episodes=episodes,
        explore=explore,
        shared_data={} if shared_data is None else shared_data,
        **kwargs,
    )


@pytest.mark.parametrize("pass_obs", [True, False])
def test_observations_to_module_equals_rllibs_default(module: XferModule, pass_obs: bool) -> None:
    rng = np.random.default_rng(0)
    episodes = _episodes(rng)
    default, _ = _default_pipelines()
    expected = _call(default, module, {}, episodes, True)
    kwargs = {Columns.OBS: [ep.get_observations(-1) for ep in episodes]} if pass_obs else {}
    got = _call(ObservationsToModule(), module, {}, episodes, True, **kwargs)
    assert set(got) == set(expected) == {Columns.OBS}
    assert got[Columns.OBS].dtype == expected[Columns.OBS].dtype == torch.uint8
    assert torch.equal(got[Columns.OBS], expected[Columns.OBS])
    # each row is that episode's newest frame
    for row, ep in zip(got[Columns.OBS], episodes, strict=True):
        assert np.array_equal(row.numpy(), ep.get_observations(-1))


def _module_output(module: XferModule, episodes: list, extra: dict | None = None) -> dict:
    obs = torch.from_numpy(np.stack([ep.get_observations(-1) for ep in episodes]))
    with torch.no_grad():
        out = module.forward_exploration({Columns.OBS: obs})
    out.update(extra or {})
    return out


def _clone(batch: dict) -> dict:
    return {k: v.clone() for k, v in batch.items()}


@pytest.mark.parametrize("explore", [True, False])
def test_sample_actions_to_env_has_rllibs_layout(module: XferModule, explore: bool) -> None:
    rng = np.random.default_rng(1)
    episodes = _episodes(rng)
    path = torch.arange(3 * 4).view(3, 4)
    out = _module_output(module, episodes, {PATH_COLUMN: path})
    default_in, default = _default_pipelines()
    # as in the env runner: the env-to-module pass leaves in shared_data how to unbatch
    shared: dict = {}
    _call(default_in, module, {}, episodes, explore, shared)
    expected = _call(default, module, _clone(out), episodes, explore, shared)
    got = _call(SampleActionsToEnv(), module, _clone(out), episodes, explore)
    assert set(got) == set(expected)
    for column, want in expected.items():
        have = got[column]
        assert type(have) is type(want), column
        assert len(have) == len(want) == 3, column
        for a, b in zip(have, want, strict=True):
            if not explore and column == Columns.ACTION_LOGP:
                # RLlib's deterministic distribution gives int zeros; ours float zeros
                assert np.asarray(a).dtype == np.float32 and a == b == 0
                continue
            assert np.asarray(a).dtype == np.asarray(b).dtype, column
            assert np.shape(a) == np.shape(b), column
    for column in (Columns.ACTION_DIST_INPUTS, Columns.EMBEDDINGS, PATH_COLUMN):
        assert np.array_equal(np.stack(got[column]), np.stack(expected[column])), column
    assert np.array_equal(got[Columns.ACTIONS_FOR_ENV], got[Columns.ACTIONS])
    logits = out[Columns.ACTION_DIST_INPUTS]
    log_probs = torch.log_softmax(logits, -1).numpy()
    actions = got[Columns.ACTIONS]
    if explore:  # the behaviour log-probs V-trace needs
        np.testing.assert_allclose(
            np.asarray(got[Columns.ACTION_LOGP]), log_probs[np.arange(3), actions], rtol=1e-6
        )
    if not explore:  # greedy: RLlib's deterministic distribution picks the same
        assert np.array_equal(actions, logits.argmax(-1).numpy())
        assert np.array_equal(actions, expected[Columns.ACTIONS])
    else:  # RLlib's behaviour log-probs are those of the categorical, as ours
        want_actions = expected[Columns.ACTIONS]
        np.testing.assert_allclose(
            np.asarray(expected[Columns.ACTION_LOGP]),
            log_probs[np.arange(3), want_actions],
            rtol=1e-6,
        )


def test_sampled_actions_follow_the_softmax() -> None:
    """20,000 draws from fixed logits: each action's frequency within 5 sigma of its
    softmax probability (a draw that ignored the logits, or used them unnormalised,
    fails)."""
    torch.manual_seed(0)
    logits = torch.tensor([2.0, 0.5, -1.0, 0.0, 1.0, -3.0])
    n = 20_000
    batch = {Columns.ACTION_DIST_INPUTS: logits.repeat(n, 1)}
    ep = SimpleNamespace()
    out = SampleActionsToEnv()(
        rl_module=torch.nn.Linear(1, 1), batch=batch, episodes=[ep] * n, explore=True
    )
    counts = np.bincount(out[Columns.ACTIONS], minlength=6)
    p = torch.softmax(logits, 0).numpy()
    sigma = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) < 5 * sigma), (counts, n * p)


def test_sample_actions_to_env_refuses_a_module_without_logits() -> None:
    with pytest.raises(KeyError, match="action_dist_inputs"):
        SampleActionsToEnv()(
            rl_module=torch.nn.Linear(1, 1),
            batch={Columns.EMBEDDINGS: torch.zeros(2)},
            episodes=[None, None],
            explore=True,
        )


def test_factories_give_one_piece_each() -> None:
    assert [type(c) for c in env_to_module()] == [ObservationsToModule]
    assert [type(c) for c in module_to_env()] == [SampleActionsToEnv]
