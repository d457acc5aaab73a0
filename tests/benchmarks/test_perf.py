import pytest

from benchmarks.perf import round_ratio


def test_round_ratio_is_the_median_of_same_round_ratios():
    # a load burst in round 2 slows both models; the same-round ratio ignores it
    rounds = {"a": [1.0, 3.0, 1.0, 1.1], "b": [2.0, 6.0, 2.4, 2.0]}
    assert round_ratio(rounds, "b", "a") == pytest.approx(2.0)  # median of 2, 2, 2.4, 1.818
    assert round_ratio(rounds, "a", "a") == 1.0
    with pytest.raises(ValueError):
        round_ratio({"a": [1.0], "b": [1.0, 2.0]}, "b", "a")


@pytest.mark.ray
@pytest.mark.atari
def test_training_throughput_counts_every_sampled_step_as_trained_once(tmp_path):
    from benchmarks.perf import training_throughput

    t = training_throughput(
        "pong_soup/pong", "scratch", 3_000, root=str(tmp_path), env_runners=1, check_episodes=0
    )
    # no Pong episode ends in 3k steps of 8 envs: one bootstrap step per fragment only,
    # which the figure removes; an IMPALA learner that dropped or reused batches shows
    assert t["trained_per_sampled"] == pytest.approx(1.0, abs=0.02)
    assert t["steps_per_s"] > 0
    # RLlib's policy lag reached the run's status (NaN when it was not reported); one
    # runner with one request in flight is a few updates behind at most
    assert 0.0 <= t["policy_lag_updates"] < 20.0


def test_pipelines_are_run_configs_and_end_with_the_defaults():
    """Each benchmarked pipeline is a valid set of RunConfig fields; the first is RLlib's
    sampling over Python envs, ``default`` is exactly what a run gets by default."""
    from dataclasses import asdict

    from benchmarks.perf import PIPELINES
    from runstore.config import RunConfig

    configs = {name: RunConfig(task="pong_soup/pong", **s) for name, s in PIPELINES}
    first, last = configs[PIPELINES[0][0]], configs["default"]
    assert not first.native_env and not first.lean_connectors
    assert first.state_server and first.requests_in_flight == 1
    assert asdict(last) == asdict(RunConfig(task="pong_soup/pong"))
    assert len({tuple(sorted(s.items())) for _, s in PIPELINES}) == len(PIPELINES)


@pytest.mark.atari
def test_compute_bound_is_the_sum_of_its_timed_parts():
    """The ceiling's arithmetic, from the parts it reports: with one round every median is
    that round's figure, so total and ideal ratio follow by hand."""
    from benchmarks.perf import compute_bound

    out = compute_bound(
        agents=("1 column", "2 columns", "PathNet"),
        cores=3,
        num_envs=2,
        train_batch=4,
        rollout_length=2,
        rounds=1,
        seconds=0.01,
    )
    assert list(out) == ["1 column", "2 columns", "PathNet"]
    for b in out.values():
        parts = b["env_s"] + b["forward_s"] + b["learn_s"]
        assert min(b["raw_s"], b["env_s"], b["forward_s"], b["learn_s"]) > 0
        assert b["env_x_raw"] == pytest.approx(b["env_s"] / b["raw_s"])
        assert b["learn_x_raw"] == pytest.approx(b["learn_s"] / b["raw_s"])
        assert b["total_x_raw"] == pytest.approx(parts / b["raw_s"])
        assert b["ideal_ratio_to_raw"] == pytest.approx(3 * b["raw_s"] / parts)
    with pytest.raises(ValueError, match="cores"):
        compute_bound(cores=0)
    with pytest.raises(ValueError, match="unknown agents"):
        compute_bound(agents=("3 columns",))
