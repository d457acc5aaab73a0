"""Curves are exact: whole-episode raw scores, on an env whose score is known in advance.

``debug/reward_track`` gives rewards all through a 97-step episode (some negative, some
> 1), so with 20-step rollout fragments every episode reaches the driver in 5-6 chunks.
A curve built from the last chunk only, or from clipped rewards, differs from the known
score; so does one that drops or double-counts a chunk.
"""

import json

import numpy as np
import pytest

from benchmarks.evaluate import check_curve
from benchmarks.training import train
from envs.debug import RewardTrackEnv
from runstore.config import RunConfig
from runstore.rundir import RunDir

pytestmark = pytest.mark.ray


def test_curve_is_the_known_whole_episode_score_through_rllib(tmp_path):
    env = RewardTrackEnv()
    raw, clipped = env.raw_score, env.clipped_score
    assert raw != clipped and raw < 0  # the test can tell raw from clipped, and signs
    last_chunk = sum(env.reward_at(t) for t in range(81, 98))
    assert last_chunk != raw
    cfg = RunConfig(
        task="debug/reward_track",
        steps=4_000,
        rollout_length=20,
        env_runners=2,
        envs_per_runner=2,
        curve_window=1_000,
        wandb=False,
        check_episodes=3,
    )
    run_dir = train(cfg, tmp_path, log=lambda *_: None)
    rows = RunDir(run_dir).read_curve()
    assert len(rows) >= 2
    with_episodes = [r for r in rows if r["episodes"] > 0]
    assert with_episodes
    for row in with_episodes:
        assert row["episode_return_mean"] == pytest.approx(raw, abs=1e-9)
        assert row["episode_return_std"] == pytest.approx(0.0, abs=1e-6)
    status = json.loads((run_dir / "status.json").read_text())
    # every finished episode counted once: about steps / 97 of them
    assert status["episodes"] == pytest.approx(status["env_steps"] / env.length, abs=2 * 4 + 1)
    assert status["score_mean"] == pytest.approx(raw)
    # the learner saw clipped rewards, summed over every chunk
    assert status["learn_return_mean"] == pytest.approx(clipped)
    check = json.loads((run_dir / "curve_check.json").read_text())
    assert check["ok"] is True and check["eval_mean"] == pytest.approx(raw)
    # the replay: the final weights through the training pipeline, learning off
    assert check["method"] == "replay" and check["replay_episodes"] >= 3
    assert check["replay_mean"] == pytest.approx(raw) and check["tolerance"] == pytest.approx(0)


def test_learning_off_samples_on_and_leaves_the_weights_alone():
    """Trainer.set_learning(False) (the replay): iterations still sample and finish
    episodes, the learner's weights stay bit-identical; set_learning(True) learns again."""
    import torch

    from benchmarks.rllib.trainer import build_trainer
    from benchmarks.runsetup import model_config

    cfg = RunConfig(
        task="debug/reward_track", steps=4_000, env_runners=1, envs_per_runner=2, wandb=False
    )
    trainer = build_trainer(cfg, model_config(cfg, []))

    def weights():  # copies: on the CPU the learner's tensors come back live
        return {k: v.clone() for k, v in trainer.learner_state_dict().items()}

    try:
        trainer.train_iteration()
        trainer.set_learning(False)
        before = weights()
        first = trainer.train_iteration()
        for _ in range(5):
            last = trainer.train_iteration()
        after = weights()
        assert last.env_steps_sampled > first.env_steps_sampled and last.episodes > 0
        assert all(torch.equal(before[k], after[k]) for k in before)
        trainer.set_learning(True)
        for _ in range(10):
            trainer.train_iteration()
            learned = weights()
            if any(not torch.equal(after[k], learned[k]) for k in after):
                break
        else:
            raise AssertionError("learning did not resume")
    finally:
        trainer.stop()


CURVE_HEADER = "env_steps,frames,episodes,episode_return_mean,episode_return_std,wall_time\n"


def _finished_debug_run(tmp_path, **overrides):
    """A run directory on debug/reward_track with untrained weights (curve written by tests)."""
    from methods import build_agent

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = RunConfig(task="debug/reward_track", wandb=False, **overrides)
    (run_dir / "config.json").write_text(json.dumps({"run": cfg.to_dict()}))
    build_agent("scratch", 3, in_channels=4, seed=0).save(run_dir / "agent.pt")
    return run_dir


def test_check_curve_fails_loudly_on_a_wrong_curve(tmp_path):
    """A curve that says something else than independent rollouts is caught."""
    run_dir = _finished_debug_run(tmp_path)
    raw = RewardTrackEnv().raw_score
    header = CURVE_HEADER
    # the pre-fix bug: only the last fragment's rewards counted
    wrong = sum(RewardTrackEnv.reward_at(t) for t in range(81, 98))
    (run_dir / "curve.csv").write_text(header + f"1000,1000,10,{wrong},0.0,1.0\n")
    bad = check_curve(run_dir, episodes=2)
    assert bad["ok"] is False and "disagrees" in bad["reason"]
    assert json.loads((run_dir / "curve_check.json").read_text())["ok"] is False
    (run_dir / "curve.csv").write_text(header + f"1000,1000,10,{raw},0.0,1.0\n")
    assert check_curve(run_dir, episodes=2)["ok"] is True
    # too few episodes in the last window: skipped, not passed
    (run_dir / "curve.csv").write_text(header + f"1000,1000,2,{raw},0.0,1.0\n")
    assert check_curve(run_dir, episodes=2)["ok"] is None
    assert np.isfinite(raw)


def test_check_curve_pools_the_newest_points_by_their_episodes(tmp_path):
    run_dir = _finished_debug_run(tmp_path)
    header = CURVE_HEADER
    # 40 episodes at -9 (too old to count), then 10 at -7 (std 1), then 5 at -4 (std 2)
    (run_dir / "curve.csv").write_text(
        header + "1000,1000,40,-9,0,1\n2000,2000,50,-7,1,2\n2500,2500,55,-4,2,3\n"
    )
    out = check_curve(run_dir, episodes=12)  # pools the last two points: 15 episodes
    mean = (10 * -7 + 5 * -4) / 15
    second = (10 * (1 + 49) + 5 * (4 + 16)) / 15
    assert out["curve_episodes"] == 15 and out["curve_from_env_steps"] == 1000
    assert out["curve_mean"] == pytest.approx(mean)
    assert out["curve_std"] == pytest.approx(np.sqrt(second - mean**2))
    assert out["eval_mean"] == pytest.approx(RewardTrackEnv().raw_score)


def test_check_curve_allows_for_a_curve_still_rising_but_not_for_a_flat_wrong_one(tmp_path):
    run_dir = _finished_debug_run(tmp_path)
    raw = RewardTrackEnv().raw_score  # what the final weights score: -6
    # a run that learned fast at the end: its pooled points rose from -20 to -8
    rising = "1000,1000,5,-20,1,1\n2000,2000,10,-14,1,2\n3000,3000,15,-8,1,3\n"
    (run_dir / "curve.csv").write_text(CURVE_HEADER + rising)
    out = check_curve(run_dir, episodes=12)
    assert out["curve_moved"] == pytest.approx(12.0) and out["eval_mean"] == pytest.approx(raw)
    # mean -14 (std 5 over 15 episodes), 8 below the final weights: more than the
    # standard errors allow (6.2), within them plus the 12 the curve rose (18.2)
    assert out["ok"] is True
    # the same gap with a flat curve is a curve that measures something else
    flat = "1000,1000,5,-15,1,1\n2000,2000,10,-15,1,2\n3000,3000,15,-15,1,3\n"
    (run_dir / "curve.csv").write_text(CURVE_HEADER + flat)
    out = check_curve(run_dir, episodes=12)
    assert out["curve_moved"] == 0.0 and out["ok"] is False


@pytest.mark.parametrize(("runners", "envs", "ok"), [(2, 8, True), (1, 1, False)])
def test_check_curve_allows_for_how_long_the_pooled_episodes_were_played(
    tmp_path, runners, envs, ok
):
    """The pooled episodes started before their windows: the slack covers that time.

    The last window (1000 agent steps) holds 12 episodes, so an episode is about 83 agent
    steps of one env. With 16 envs sampling side by side it spans 16 * 83 = 1333 agent
    steps of training, back to step 667: the points at 1000 (-30) and 2000 (-12) were
    being played too, and the curve moved 19 over that time. With 1 env an episode spans
    83 steps (back to 1917): only the point at 2000 overlaps, and the curve moved 1.
    """
    run_dir = _finished_debug_run(tmp_path, env_runners=runners, envs_per_runner=envs)
    raw = RewardTrackEnv().raw_score  # what the final weights score: -6
    rows = "1000,1000,20,-30,1,1\n2000,2000,22,-12,1,2\n3000,3000,34,-11,1,3\n"
    (run_dir / "curve.csv").write_text(CURVE_HEADER + rows)
    out = check_curve(run_dir, episodes=12)
    assert out["curve_episodes"] == 12 and out["curve_mean"] == pytest.approx(-11.0)
    assert out["eval_mean"] == pytest.approx(raw)
    span = runners * envs * 1000 / 12
    assert out["curve_played_from_env_steps"] == pytest.approx(2000 - span)
    assert out["curve_moved"] == pytest.approx(19.0 if ok else 1.0)
    # |-11 - -6| = 5: within 4 * sqrt(1/12) + 0.85 + 19, beyond 4 * sqrt(1/12) + 0.85 + 1
    assert out["ok"] is ok
