"""The served model's levels for readings a plant really sends: infinite and absurd values
are scored as the anomaly they are, a dead sensor is a ``sensor_fault`` naming it, a
short gap is imputed and reported (issue 30). A small PCA detector stands in for the
student: the rules live in the served model, not in the network."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from components.detectors.base import FitContext
from components.detectors.pca import PcaDetector
from components.registry.served_detector import OUT_OF_RANGE_SIGMAS, AnomflowDetector
from tests.detectors.conftest_data import SENSORS, plant_like, tiny_prepared

WINDOW = 8


@pytest.fixture(scope="module")
def served() -> AnomflowDetector:
    prepared = tiny_prepared()
    detector, _ = PcaDetector.fit(PcaDetector.Settings(window=WINDOW, variance=0.9, train_stride=2), prepared, FitContext(seed=3))
    model = AnomflowDetector()
    model.detector, model.scaler = detector, prepared.scaler
    normal = detector.score(prepared.scaler.transform(pd.DataFrame(plant_like(400, 5), columns=SENSORS)), np.zeros(400)).score
    model.thresholds = {"warning": float(np.nanquantile(normal, 0.99)), "critical": float(np.nanmax(normal) * 2)}
    model.serving = {"interval_s": 60, "interval_tolerance": 0.5, "max_gap_s": 600, "impute_steps": 3, "top_k_sensors": 2}
    model.drift = None
    return model


def _request(rows: int = 60) -> pd.DataFrame:
    frame = pd.DataFrame(plant_like(rows, 9), columns=SENSORS)
    frame.insert(0, "timestamp", pd.date_range("2026-01-01", periods=rows, freq="60s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"))
    return frame


def test_normal_readings_are_scored_after_a_full_window(served):
    out = served.predict(None, _request())
    assert list(out.columns) == ["timestamp", "asset", "score", "level", "alarm", "top_sensors", "missing_sensors"]
    assert (out["level"].iloc[: WINDOW - 1] == "insufficient_history").all()
    assert out["score"].iloc[WINDOW - 1 :].notna().all() and out["missing_sensors"].map(len).sum() == 0


@pytest.mark.parametrize("reading", [np.inf, -np.inf, 1e308, -1e308, 1e30])
def test_an_infinite_or_absurd_reading_is_critical_and_its_neighbours_keep_their_scores(served, reading):
    request = _request()
    request.loc[30, "x1"] = reading
    out = served.predict(None, request)
    assert out.loc[30, "level"] == "critical" and out.loc[30, "top_sensors"][0] == "x1"
    assert out["score"].iloc[WINDOW - 1 :].notna().all()  # no row after it loses its score
    assert (out["level"].iloc[WINDOW - 1 :] != "insufficient_history").all()


def test_a_reading_inside_the_bound_is_left_to_the_model(served):
    request = _request()
    scale = served.scaler.std[1] * OUT_OF_RANGE_SIGMAS / 2
    request.loc[30, "x1"] = served.scaler.mean[1] + scale
    out = served.predict(None, request)
    assert out.loc[30, "level"] == "critical"  # the model's own score: a reading 500 sigma out


def test_a_dead_sensor_is_a_sensor_fault_naming_it(served):
    request = _request().assign(x2=None)
    out = served.predict(None, request)
    assert (out["level"] == "sensor_fault").all()
    assert out["score"].isna().all() and out["missing_sensors"].map(lambda names: names == ["x2"]).all()


def test_a_dead_sensor_far_from_zero_is_a_fault_not_an_out_of_range_reading(served):
    """A dead sensor's rows are scored with 0 in its place; 0 V on a 230 V line is
    thousands of standard deviations out, yet no reading: the level stays sensor_fault."""
    far = copy.copy(served)
    far.scaler = dataclasses.replace(served.scaler, mean=(10.0, 10.0, 230.0), std=(3.0, 3.0, 0.1))
    request = _request().assign(x2=None)
    out = far.predict(None, request)
    assert (out["level"] == "sensor_fault").all() and out["top_sensors"].map(len).sum() == 0


def test_a_short_gap_is_imputed_and_reported_a_long_one_is_a_fault(served):
    request = _request().astype({"x0": "object"})
    request.loc[20:22, "x0"] = None  # 3 rows: within impute_steps
    request.loc[40:49, "x0"] = None  # 10 rows: 3 imputed, then a fault
    out = served.predict(None, request)
    assert out.loc[20:22, "level"].isin(["normal", "warning", "critical"]).all()
    assert out.loc[20:22, "missing_sensors"].map(lambda names: names == ["x0"]).all()
    assert out.loc[40:42, "score"].notna().all() and (out.loc[43:49, "level"] == "sensor_fault").all()
    assert (out.loc[50 : 50 + WINDOW - 2, "level"] == "insufficient_history").all()  # a new session after the fault
    assert out.loc[50 + WINDOW - 1 :, "score"].notna().all()


def _with_rule(served: AnomflowDetector, raise_after: int, clear_after: int) -> AnomflowDetector:
    ruled = copy.copy(served)
    ruled.thresholds = {**served.thresholds, "alarm": {"raise_after": raise_after, "clear_after": clear_after}}
    return ruled


def _excursions(rows: int = 120) -> pd.DataFrame:
    """x1 pushed out for 2 rows (a blip) at 30 and for 12 rows (a fault) at 70."""
    request = _request(rows)
    request.loc[30:31, "x1"] += 4.0
    request.loc[70:81, "x1"] += 4.0
    return request


def test_the_alarm_is_raised_after_raise_after_rows_and_a_blip_raises_none(served):
    out = _with_rule(served, 12, 4).predict(None, _excursions())
    over = np.flatnonzero(out["level"].isin(["warning", "critical"]))
    # the 8-row window sees the blip for 9 rows and the fault for 19
    assert over.tolist() == list(range(30, 39)) + list(range(70, 89))
    assert (out["alarm"].iloc[:70] == "normal").all()  # the blip: levels, no alarm
    # raised on the fault's 12th row over the warning level, cleared on the 4th row below it
    assert np.flatnonzero(out["alarm"] != "normal").tolist() == list(range(81, 92))


def test_an_out_of_range_reading_raises_the_alarm_at_once(served):
    request = _request()
    request.loc[30, "x1"] = np.inf
    out = _with_rule(served, 10, 3).predict(None, request)
    assert out.loc[30, "alarm"] == "critical" and out.loc[29, "alarm"] == "normal"


def test_a_model_without_a_rule_alarms_as_its_levels(served):
    out = served.predict(None, _excursions())
    scored = out["level"].isin(["normal", "warning", "critical"])
    assert (out.loc[scored, "alarm"] == out.loc[scored, "level"]).all()


@pytest.mark.parametrize("cut", [35, 74, 85, 90])
def test_rows_scored_in_two_requests_with_context_and_state_alarm_as_in_one(served, cut):
    ruled = _with_rule(served, 12, 4)
    request = _excursions()
    whole = ruled.predict(None, request)
    first, states = ruled.score_rows(request.iloc[:cut])
    context = WINDOW + 3
    second, _ = ruled.score_rows(request.iloc[cut - context :], states, context_rows=context)
    assert pd.concat([first["alarm"], second["alarm"].iloc[context:]]).tolist() == whole["alarm"].tolist()
