"""``drift_tracking.smoothing: auto``: the trailing mean's width follows where each
sensor's training spectrum falls to its white-noise floor, with no labels."""

from __future__ import annotations

import numpy as np
import pytest

from components.features.drift import DriftTracker, DriftTrackingConfig
from components.features.smoothing import HALF_POWER, SEGMENT_ROWS, sensor_widths, spectral_smoothing

ROWS = 2_000


def _band(rows: int, highest: float, noise: float, seed: int = 0) -> np.ndarray:
    """Sines at frequencies up to ``highest`` cycles per row (amplitude 10) plus white noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    slow = sum(10 * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in np.linspace(highest / 4, highest, 4))
    return slow + rng.normal(0, noise, rows)


def test_white_noise_gets_the_longest_width_the_segments_resolve():
    noise = np.random.default_rng(1).normal(0, 1, (ROWS, 1))
    assert sensor_widths({"a": noise}) == [pytest.approx(HALF_POWER * SEGMENT_ROWS)]


def test_the_width_keeps_the_slow_band_and_cuts_the_noise():
    """Sines up to 0.02 cycles per row: the knee lies just above 0.02 (Hann leakage adds
    a bin or two), so the width is between the trailing means that halve 0.05 and 0.02."""
    (width,) = sensor_widths({"a": _band(ROWS, 0.02, 1.0)[:, None]})
    assert HALF_POWER / 0.05 <= width <= HALF_POWER / 0.02


def test_a_faster_or_less_noisy_process_gets_a_shorter_width():
    slow, fast = (sensor_widths({"a": _band(ROWS, f, 1.0)[:, None]})[0] for f in (0.01, 0.08))
    assert fast < slow
    quiet, noisy = (sensor_widths({"a": _band(ROWS, 0.02, s)[:, None]})[0] for s in (0.1, 10.0))
    assert quiet < noisy
    walk = np.cumsum(np.random.default_rng(2).normal(0, 1, ROWS))[:, None]  # no added noise: its 1/f² spectrum falls into the top band
    assert sensor_widths({"a": walk})[0] < 2
    assert np.isnan(sensor_widths({"a": np.full((ROWS, 1), 4.0)})).all()  # a constant sensor says nothing


def test_the_fleet_takes_the_median_sensor_over_assets_within_the_bounds():
    rng = np.random.default_rng(3)
    assets = {a: np.column_stack([_band(ROWS, 0.02, 1.0, k), rng.normal(0, 1, ROWS), _band(ROWS, 0.08, 1.0, k)]) for k, a in enumerate("abc")}
    widths = sensor_widths(assets)
    assert spectral_smoothing(assets, 100) == round(float(np.median(widths)))
    assert spectral_smoothing(assets, 5) == 5
    assert spectral_smoothing({"a": np.ones((10, 3))}, 100) == 1  # too few rows to judge: no smoothing


def test_missing_readings_are_interpolated_and_an_empty_sensor_is_left_out():
    values = np.column_stack([_band(ROWS, 0.02, 1.0), np.full(ROWS, np.nan)])
    holed = values.copy()
    holed[500:520, 0] = np.nan
    widths = sensor_widths({"a": holed})
    assert widths[0] == pytest.approx(sensor_widths({"a": values[:, :1]})[0], rel=0.25) and np.isnan(widths[1])


def test_the_fitted_tracker_keeps_the_chosen_smoothing(tmp_path):
    values = np.column_stack([_band(ROWS, 0.02, 1.0), _band(ROWS, 0.02, 1.0, seed=5)])
    tracker = DriftTracker.fit({"p": values}, ["a", "b"], DriftTrackingConfig(enabled=True, depth=100, smoothing="auto"))
    assert tracker.smoothing == spectral_smoothing({"p": values}, 100) > 1
    fixed = DriftTracker.fit({"p": values}, ["a", "b"], DriftTrackingConfig(enabled=True, depth=100, smoothing=tracker.smoothing))
    assert tracker.limits == fixed.limits
    tracker.save(tmp_path / "drift.json")
    assert DriftTracker.load(tmp_path / "drift.json").smoothing == tracker.smoothing
