import math

import pytest

from analysis import (
    area_under_curve,
    count_transfer_signs,
    forgetting,
    forward_transfer,
    speed_up,
    steps_to_threshold,
    summarize_transfer,
    top_k_mean,
    transfer_score,
)


def test_auc_uneven_spacing_by_hand():
    # trapezoids: [0,10]: (0+2)/2*10 = 10; [10,40]: (2+4)/2*30 = 90 -> 100 / 40 = 2.5
    assert area_under_curve([0, 10, 40], [0.0, 2.0, 4.0]) == pytest.approx(2.5)
    assert area_under_curve([5], [3.0]) == 3.0
    assert math.isnan(area_under_curve([1, 2], [math.nan, math.nan]))
    # NaN points (no episode finished yet) are dropped: [10,40] only -> 3.0
    assert area_under_curve([0, 10, 40], [math.nan, 2.0, 4.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="increasing"):
        area_under_curve([0, 0], [1, 2])


def test_transfer_with_negative_scores_and_floor():
    # Pong-like: floor -21 (random). baseline AUC -13 (8 above floor), agent -5 (16 above)
    assert transfer_score(-5.0, -13.0, floor=-21.0) == pytest.approx(200.0)
    assert transfer_score(-17.0, -13.0, floor=-21.0) == pytest.approx(50.0)
    assert math.isnan(transfer_score(3.0, -21.0, floor=-21.0))  # baseline no better than random


def test_top_k_and_summaries():
    assert top_k_mean([1, 9, 3, 7, math.nan], k=3) == pytest.approx((9 + 7 + 3) / 3)
    assert top_k_mean([2.0], k=3) == 2.0
    assert math.isnan(top_k_mean([], k=3))
    with pytest.raises(ValueError):
        top_k_mean([1.0], k=0)
    s = summarize_transfer([100.0, 200.0, 600.0, math.nan])
    assert s == {"mean": 300.0, "median": 200.0, "n": 3}
    assert count_transfer_signs([150, 95, 50, math.nan, 111], band=10) == {
        "positive": 2,
        "negative": 1,
        "neutral": 1,
        "undefined": 1,
    }


def test_forgetting_and_forward_transfer():
    f = forgetting(source_score=15.0, score_after=5.0, floor=-21.0)
    assert f["absolute"] == 10.0 and f["relative"] == pytest.approx(10 / 36)
    assert forgetting(1.0, 1.0)["absolute"] == 0.0
    # a source that never rose above its floor gained nothing to lose: no share of it
    # (-0.9 against a floor of -0.756 gave "0.97" of it lost for a net that had gained 0.14)
    below = forgetting(source_score=-0.9, score_after=-0.76, floor=-0.756)
    assert below["absolute"] == pytest.approx(-0.14) and math.isnan(below["relative"])
    assert math.isnan(forgetting(-21.0, -21.0, floor=-21.0)["relative"])
    assert forward_transfer(0.8, 0.6) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        forward_transfer(1.5, 0.2)


def test_steps_to_threshold_and_speed_up():
    assert steps_to_threshold([0, 10, 20], [0.0, 0.5, 1.0], 0.75) == pytest.approx(15.0)
    assert math.isnan(steps_to_threshold([0, 10], [0.0, 0.1], 0.5))
    base = ([0, 100, 200, 300], [-1.0, -1.0, 0.0, 1.0])
    fast = ([0, 100, 200, 300], [-1.0, 0.5, 1.0, 1.0])
    # threshold = -1 + 0.75 * (1 - -1) = 0.5: baseline at 250, agent at 100 -> 2.5
    out = speed_up(base, fast, floor=-1.0)
    assert out["threshold"] == pytest.approx(0.5)
    assert out["speed_up"] == pytest.approx(2.5)
