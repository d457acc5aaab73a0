import pytest

from benchmarks.perf import round_ratio


def test_round_ratio_is_the_median_of_same_round_ratios():
    # a load burst in round 2 slows both models; the same-round ratio ignores it
    rounds = {"a": [1.0, 3.0, 1.0, 1.1], "b": [2.0, 6.0, 2.4, 2.0]}
    assert round_ratio(rounds, "b", "a") == pytest.approx(2.0)  # median of 2, 2, 2.4, 1.818
    assert round_ratio(rounds, "a", "a") == 1.0
    with pytest.raises(ValueError):
        round_ratio({"a": [1.0], "b": [1.0, 2.0]}, "b", "a")
