"""DSPOT thresholds (Siffer et al., KDD 2017, section 4.3): the levels apply to each
score's residual from the mean of the asset's last accepted scores, fitted by POT on the
validation residuals."""

from __future__ import annotations

import numpy as np
import pytest

from components.scoring.thresholds import ThresholdConfig, classify_levels, score_residuals, set_levels, tracked_scores


def _scores(rows: int, seed: int, slope: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 + slope * np.arange(rows) + rng.gamma(2.0, 0.05, rows)


def test_the_residual_is_the_score_minus_the_mean_of_the_last_accepted_scores():
    reference = {"depth": 3, "states": {}}
    residuals, states = score_residuals(np.array([1.0, 2.0, 3.0, 9.0, 4.0, np.nan, 5.0]), np.full(7, "p1"), reference, limit=2.5)
    np.testing.assert_allclose(residuals, [0.0, 1.0, 1.5, 7.0, 2.0, np.nan, 2.0])  # 9 is not accepted
    assert states == {"p1": [3.0, 4.0, 5.0]}


def test_dspot_levels_follow_a_drifting_score_and_still_flag_a_jump():
    cfg = ThresholdConfig(method="dspot", dspot_depth=50)
    val = _scores(2_000, 0)
    levels = set_levels(val, cfg, assets=np.full(2_000, "p1"))
    assert levels["method"] == "dspot" and levels["warning"] < levels["critical"]
    assert len(levels["reference"]["states"]["p1"]) == 50
    test = _scores(3_000, 1, slope=2e-4)  # the score's level rises by 0.6, ten times its noise
    test[2_000:2_020] += 1.0
    tracked, _ = tracked_scores(test, np.full(3_000, "p1"), levels)
    over = classify_levels(tracked, levels) != "normal"
    assert over[2_000:2_020].all()
    assert over[:2_000].mean() < 0.03 and over[2_100:].mean() < 0.03
    pot = set_levels(val, cfg.model_copy(update={"method": "pot"}))
    assert (classify_levels(test, pot)[2_500:] != "normal").mean() > 0.9  # plain POT: the drift is an alarm


@pytest.mark.parametrize("cut", [1, 500, 2_010])
def test_scores_tracked_in_two_pieces_with_the_state_equal_the_whole(cut):
    levels = set_levels(_scores(2_000, 0), ThresholdConfig(method="dspot", dspot_depth=50), assets=np.full(2_000, "p1"))
    test = _scores(3_000, 1, slope=2e-4)
    test[2_000:2_020] += 1.0
    assets = np.full(3_000, "p1")
    whole, _ = tracked_scores(test, assets, levels)
    first, states = tracked_scores(test[:cut], assets[:cut], levels)
    second, _ = tracked_scores(test[cut:], assets[cut:], levels, states)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-9)


def test_other_methods_leave_the_scores_as_they_are():
    levels = set_levels(_scores(500, 0), ThresholdConfig())
    scores = _scores(10, 2)
    np.testing.assert_array_equal(tracked_scores(scores, np.zeros(10), levels)[0], scores)
    assert "reference" not in levels
