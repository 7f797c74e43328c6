"""benchmarks/research_lib/drift_tracking.py (the SKAB studies' helper): residuals from a reference that follows drift
and freezes during an alarm, checked against closed forms on ramps and steps."""

import numpy as np
import pytest

from benchmarks.research_lib.drift_tracking import fleet_tolerances, track
from components.benchmarks.series import Channel


def test_a_ramp_has_a_constant_residual_that_the_reference_keeps_following():
    """On x_t = s·t the residual from the mean of the previous d rows is s·(d + 1)/2 once
    d rows exist; a ramp that goes on after training stays at that residual, inside the
    threshold, so no row is rejected."""
    slope, depth = 0.5, 10
    values = slope * np.arange(300.0)[:, None]
    tracked = track(values, train_rows=200, depth=depth, smooth=1, multiplier=1.5)
    expected = slope * (depth + 1) / 2
    np.testing.assert_allclose(tracked.residuals[depth:, 0], expected)
    assert tracked.residuals[0, 0] == 0.0
    assert tracked.thresholds[0] == pytest.approx(1.5 * expected)
    assert tracked.rejected[0] == 0


def test_a_step_freezes_the_reference_until_it_ends():
    """A step larger than the threshold is rejected row after row, so its residual stays
    the full step for as long as it lasts; after it the residual is back near 0."""
    rng = np.random.default_rng(0)
    values = 0.1 * rng.standard_normal((600, 2))
    values[400:500, 1] += 5.0
    tracked = track(values, train_rows=300, depth=50, smooth=1, multiplier=1.0)
    step = tracked.residuals[400:500, 1]
    assert np.all(np.abs(step - 5.0) < 0.6) and tracked.rejected[1] == 100
    assert np.all(np.abs(tracked.residuals[500:, 1]) < tracked.thresholds[1])
    assert tracked.rejected[0] < 5  # the quiet sensor: at most a few noise peaks over its training maximum


def test_smoothing_is_causal_and_settings_are_checked():
    values = np.zeros((120, 1))
    values[110, 0] = 10.0
    tracked = track(values, train_rows=100, depth=20, smooth=5, multiplier=1.0)
    assert np.all(tracked.residuals[:110] == 0.0) and tracked.residuals[110, 0] == pytest.approx(2.0)  # 10 / 5 rows
    for depth, smooth, multiplier in ((100, 1, 1.0), (0, 1, 1.0), (20, 0, 1.0), (20, 1, 0.0)):
        with pytest.raises(ValueError):
            track(values, train_rows=100, depth=depth, smooth=smooth, multiplier=multiplier)


def test_a_swing_another_recording_trained_on_is_followed_with_fleet_tolerances():
    """A recording whose training rows are calm rejects a ramp after training with its own
    tolerance (the ramp's residual s·(d + 1)/2 exceeds anything it trained on), and follows
    it with the fleet's (both at 1.5 ×), because another recording's training rows ramped as steeply; the
    fleet tolerance is each sensor's largest over the recordings."""
    depth, slope = 20, 0.1
    rng = np.random.default_rng(3)
    calm = 0.01 * rng.standard_normal((500, 1))
    calm[300:, 0] += slope * np.arange(200)
    ramping = slope * np.arange(300.0)[:, None]
    recordings = [Channel("calm", calm[:300], calm[300:], np.zeros(200, dtype=np.int8)),
                  Channel("ramping", ramping, ramping[:10], np.zeros(10, dtype=np.int8))]
    tolerance = fleet_tolerances(recordings, depth=depth, smooth=1)
    own = [track(c.train, len(c.train), depth, 1, 1.0).thresholds[0] for c in recordings]
    assert tolerance[0] == pytest.approx(max(own)) == pytest.approx(slope * (depth + 1) / 2)
    assert track(calm, 300, depth, 1, 1.5).rejected[0] > 150
    followed = track(calm, 300, depth, 1, 1.5, tolerance)
    assert followed.rejected[0] == 0 and followed.thresholds[0] == pytest.approx(1.5 * tolerance[0])
    with pytest.raises(ValueError, match="one value per sensor"):
        track(calm, 300, depth, 1, 1.0, np.ones(2))
    with pytest.raises(ValueError, match="number of sensors"):
        fleet_tolerances([recordings[0], Channel("wide", np.zeros((300, 2)), np.zeros((5, 2)), np.zeros(5, dtype=np.int8))], depth, 1)
