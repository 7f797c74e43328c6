"""The served model on drift-tracked inputs: a slow drift after training raises no alarm
where the same detector on raw readings alarms on every row, a fault on one sensor still
does; requests carrying the state track as the whole series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.benchmarks.protocol import arrays_as_prepared
from components.detectors.base import FitContext
from components.detectors.pca import PcaDetector
from components.features.drift import DriftTracker, DriftTrackingConfig
from components.features.scaling import StandardScaler
from components.registry.served_detector import AnomflowDetector
from components.scoring.alarms import AlarmConfig, choose_rule, level_index
from components.scoring.thresholds import ThresholdConfig, set_levels

SENSORS = ["temperature", "pressure", "flow"]
WINDOW, TRAIN, VAL, REQUEST = 8, 1_200, 400, 600


def _raw(rows: int = TRAIN + VAL + REQUEST) -> np.ndarray:
    """Three sensors around their levels, driven by one slow common factor plus noise;
    after training and validation the temperature drifts up by 0.005 a row (3 units, 15
    noise standard deviations, over the request's 600 rows)."""
    rng = np.random.default_rng(0)
    factor = np.zeros(rows)
    for t in range(1, rows):
        factor[t] = 0.98 * factor[t - 1] + rng.normal(0, 0.1)
    values = np.array([60.0, 5.0, 100.0]) + np.outer(factor, [1.0, 0.5, -2.0]) + rng.normal(0, 0.2, (rows, 3))
    values[TRAIN + VAL :, 0] += 0.005 * np.arange(rows - TRAIN - VAL)
    return values


def _served(tracked: bool, threshold: ThresholdConfig = ThresholdConfig()) -> AnomflowDetector:
    raw = _raw()[: TRAIN + VAL]
    values = raw
    tracker = None
    if tracked:
        tracker = DriftTracker.fit({"asset": raw[:TRAIN]}, SENSORS, DriftTrackingConfig(enabled=True, depth=30))
        values, state = tracker.track(raw, None, learn=np.arange(len(raw)) < TRAIN)
        tracker = tracker.with_states({"asset": state})
    scaler = StandardScaler.fit(pd.DataFrame(values[:TRAIN], columns=SENSORS), SENSORS)
    prepared = arrays_as_prepared(values[:TRAIN], values[TRAIN:], values[TRAIN:], np.zeros(VAL, dtype=np.int8), scaler)
    detector, _ = PcaDetector.fit(PcaDetector.Settings(window=WINDOW, variance=0.9, train_stride=1), prepared, FitContext(seed=0))
    val_scores = detector.score_frame(scaler, prepared.splits["val"]).score
    thresholds = set_levels(val_scores, threshold, assets=np.full(VAL, "asset"))
    thresholds["alarm"] = choose_rule(level_index(val_scores, thresholds), np.zeros(VAL), 60.0, AlarmConfig(max_false_events_per_day=5))[1]
    model = AnomflowDetector()
    model.detector, model.scaler, model.thresholds, model.drift = detector, scaler, thresholds, tracker
    model.serving = {"interval_s": 60, "interval_tolerance": 0.5, "max_gap_s": 600, "impute_steps": 3, "top_k_sensors": 2}
    return model


def _request(fault: bool = False) -> pd.DataFrame:
    """The rows after training and validation, the temperature drifting; with ``fault``,
    the pressure drops by 3 bar for 60 rows."""
    values = _raw()[TRAIN + VAL :]
    if fault:
        values[300:360, 1] -= 3.0
    frame = pd.DataFrame(values, columns=SENSORS)
    stamps = pd.date_range("2026-01-02", periods=REQUEST, freq="60s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.insert(0, "timestamp", stamps)
    frame.insert(1, "asset", "asset")
    return frame


@pytest.fixture(scope="module")
def models() -> dict[str, AnomflowDetector]:
    return {"tracked": _served(True), "raw": _served(False), "dspot": _served(True, ThresholdConfig(method="dspot", dspot_depth=50))}


def test_slow_drift_raises_no_alarm_with_tracking_and_alarms_without(models):
    tracked, raw = models["tracked"].predict(None, _request()), models["raw"].predict(None, _request())
    assert (raw["alarm"].iloc[-200:] != "normal").all()  # raw readings: the drift is a fault
    assert (tracked["alarm"] == "normal").mean() > 0.97


def test_a_fault_on_one_sensor_still_alarms_for_its_whole_length(models):
    out = models["tracked"].predict(None, _request(fault=True))
    alarmed = out["alarm"] != "normal"
    assert alarmed.iloc[305:360].all()  # the reference froze at the level before the fault
    assert alarmed.iloc[380:].mean() < 0.03  # and the alarm cleared when it ended


@pytest.mark.parametrize("kind", ["tracked", "dspot"])
@pytest.mark.parametrize("cut", [100, 310, 355])
def test_requests_carrying_the_state_track_and_alarm_as_the_whole_series(models, kind, cut):
    model = models[kind]
    request = _request(fault=True)
    whole = model.predict(None, request)
    first, states = model.score_rows(request.iloc[:cut])
    context = model.history_rows
    second, _ = model.score_rows(request.iloc[cut - context :], states, context_rows=context)
    joined = pd.concat([first, second.iloc[context:]], ignore_index=True)
    assert joined["alarm"].tolist() == whole["alarm"].tolist() and joined["level"].tolist() == whole["level"].tolist()
    np.testing.assert_allclose(joined["score"].astype(float), whole["score"].astype(float), rtol=1e-6)


def test_dspot_levels_apply_to_the_score_residual_and_still_catch_the_fault(models):
    model = models["dspot"]
    out = model.predict(None, _request(fault=True))
    assert model.thresholds["method"] == "dspot" and len(model.thresholds["reference"]["states"]["asset"]) == 50
    assert (out["alarm"].iloc[315:340] != "normal").all()
    assert (out["alarm"] != "normal").mean() < 0.2
