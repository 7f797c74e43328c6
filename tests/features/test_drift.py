"""Drift tracking (after DSPOT): the reference follows slow drift and freezes through a
fault; the state carried between pieces gives the residuals of the whole series; the
prepare stage tracks every split and saves each asset's state."""

from __future__ import annotations

import numpy as np
import pytest

from components.features.drift import DriftTracker, DriftTrackingConfig, StreamState, follow

SENSORS = ["temperature", "flow"]


def _plant(rows: int = 3_000, seed: int = 0) -> np.ndarray:
    """A temperature drifting slowly upwards (3 training ranges over the series) and a flat flow, both noisy."""
    rng = np.random.default_rng(seed)
    drift = np.linspace(0, 30, rows)
    return np.column_stack([60 + drift + rng.normal(0, 1, rows), 100 + rng.normal(0, 1, rows)])


def _tracker(values: np.ndarray, train: int = 1_000, **settings) -> DriftTracker:
    return DriftTracker.fit({"p": values[:train]}, SENSORS, DriftTrackingConfig(enabled=True, depth=50, **settings))


def test_the_reference_is_the_mean_of_the_last_accepted_values():
    values = np.array([[1.0], [2.0], [3.0], [50.0], [4.0], [5.0]])
    residuals, state = follow(values, depth=3, limits=np.array([10.0]), state=StreamState.empty(1))
    # 1, 2, 3 fill the reference; 50 is 48 from it and rejected; 4 and 5 follow 1-2-3 then 2-3-4
    np.testing.assert_allclose(residuals[:, 0], [0.0, 1.0, 1.5, 48.0, 2.0, 2.0])
    assert state.accepted == [[3.0, 4.0, 5.0]]


def test_slow_drift_stays_within_the_limits_while_a_step_fault_keeps_its_distance():
    values = _plant()
    values[2_000:2_200, 1] -= 15.0  # the flow drops for 200 rows
    tracker = _tracker(values)
    residuals, _ = tracker.track(values[1_000:], tracker.states.get("p"))
    temperature, flow = residuals[:, 0], residuals[:, 1]
    assert np.abs(temperature).max() <= tracker.limits[0]  # the drift never leaves the bounds: 30 degrees away, residual small
    assert np.abs(values[1_000:, 0] - values[:1_000, 0].mean()).max() > 20
    fault = flow[1_000:1_200]
    assert (fault < -10).all()  # frozen at the level before the fault for its whole length
    assert np.abs(flow[1_260:]).max() <= tracker.limits[1]  # after it, back within bounds


@pytest.mark.parametrize("smoothing", [1, 7])
def test_pieces_carrying_the_state_track_as_the_whole_series(smoothing):
    values = _plant(1_500, seed=1)
    values[700:760, 0] += 20
    values[900:905, 1] = np.nan
    tracker = _tracker(values, train=500, smoothing=smoothing)
    whole, end = tracker.track(values, None, learn=np.arange(1_500) < 500)
    state, pieces = None, []
    for a, b in [(0, 333), (333, 334), (334, 901), (901, 1_500)]:
        part, state = tracker.track(values[a:b], state, learn=np.arange(a, b) < 500)
        pieces.append(part)
    np.testing.assert_allclose(np.vstack(pieces), whole, rtol=1e-9, atol=1e-9)
    assert np.isnan(whole[900:905, 1]).all() and np.isfinite(whole[905:, 1]).all()
    np.testing.assert_allclose(state.accepted, end.accepted, rtol=1e-12)


def test_the_saved_tracker_loads_with_its_states(tmp_path):
    values = _plant(600)
    tracker = _tracker(values, train=300, smoothing=3)
    _, state = tracker.track(values, None)
    tracker.with_states({"p": state}).save(tmp_path / "drift.json")
    loaded = DriftTracker.load(tmp_path / "drift.json")
    assert loaded.limits == tracker.limits and loaded.states["p"].accepted == state.accepted
    more = _plant(50, seed=5)
    np.testing.assert_array_equal(loaded.track(more, loaded.states["p"])[0], tracker.track(more, state)[0])


def test_prepare_tracks_every_split_per_asset_and_saves_each_asset_s_state(tmp_path):
    import pandas as pd

    from components.config import PrepareConfig
    from components.features.prepare import prepare

    frames = []
    for k, asset in enumerate(["p1", "p2"]):
        values = _plant(2_000, seed=k)
        values[1_700:1_750, 1] -= 15.0  # a fault in the test split
        stamps = pd.date_range("2026-01-01", periods=2_000, freq="60s", tz="UTC")
        frames.append(pd.DataFrame({"timestamp": stamps, "asset": asset, "temperature": values[:, 0], "flow": values[:, 1]}))
    readings = pd.concat(frames, ignore_index=True)
    tracking = {"enabled": True, "depth": 50}
    cfg = PrepareConfig(train_fraction=0.5, val_fraction=0.2, drift_tracking=tracking).at_interval(60)
    prepared = prepare(readings, cfg, tmp_path, 10)
    tracker = DriftTracker.load(tmp_path / "drift.json")
    assert set(tracker.states) == {"p1", "p2"} and tracker.sensors == ("temperature", "flow")
    test = prepared.splits["test"]
    p1 = test[test["asset"] == "p1"]
    assert p1["temperature"].abs().max() < 10  # the drift is gone from the residuals
    fault = p1.set_index("timestamp")["flow"].iloc[1_700 - 1_400 : 1_750 - 1_400]
    assert (fault < -10).all()
    # a second asset's residuals come from its own reference, the scaler from the training residuals
    expected, _ = tracker.track(readings.loc[readings["asset"] == "p2", ["temperature", "flow"]].to_numpy()[:1_000], None, learn=np.ones(1_000, bool))
    np.testing.assert_allclose(prepared.splits["train"].query("asset == 'p2'")[["temperature", "flow"]].to_numpy(), expected, atol=1e-9)
    assert abs(prepared.scaler.mean[0]) < 1
    off = prepare(readings, cfg.model_copy(update={"drift_tracking": DriftTrackingConfig()}), tmp_path, 10)
    assert not (tmp_path / "drift.json").exists() and off.splits["test"]["temperature"].min() > 50
