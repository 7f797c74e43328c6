"""Bad scoring requests get precise messages."""

import pandas as pd
import pytest

from components.registry.request import InvalidRequest, check_sampling_interval, parse_request

SENSORS = ["current", "flow"]


def good(n=3):
    return pd.DataFrame({
        "timestamp": pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "asset": "pump-1", "current": [1.0] * n, "flow": [2.0] * n,
    })


def test_good_request_is_typed():
    out = parse_request(good(), SENSORS)
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(out["timestamp"].dtype)
    assert out["current"].dtype == "float64"


def test_epoch_ms_and_missing_asset_are_accepted():
    frame = good().drop(columns=["asset"])
    frame["timestamp"] = [1767225600000, 1767225660000, 1767225720000]
    out = parse_request(frame, SENSORS)
    assert (out["asset"] == "default").all()
    assert out["timestamp"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: f.drop(columns=["flow"]), r"missing column\(s\) \['flow'\]"),
        (lambda f: f.assign(pressure=1.0), r"unexpected column\(s\) \['pressure'\]"),
        (lambda f: f.assign(current=[1.0, "abc", 2.0]), r"column 'current' row 1: 'abc' is not a number"),
        (lambda f: f.assign(timestamp=["2026-01-01T00:00:00Z", "yesterday", "2026-01-01T00:02:00Z"]), r"column 'timestamp' row 1: cannot parse 'yesterday'"),
        (lambda f: f.iloc[[0, 2, 1]].reset_index(drop=True), r"increase strictly .* row 2"),
        (lambda f: f.iloc[0:0], r"no rows"),
    ],
)
def test_bad_requests(mutate, message):
    with pytest.raises(InvalidRequest, match=message):
        parse_request(mutate(good()), SENSORS)


def test_readings_must_come_at_the_model_s_sampling_interval():
    """Judged per asset on the median step within sessions, so gaps and jitter pass."""
    times = pd.to_datetime(["2026-01-01T00:00:00Z", "2026-01-01T00:01:05Z", "2026-01-01T00:02:00Z", "2026-01-01T03:00:00Z", "2026-01-01T03:01:00Z"])
    readings = pd.DataFrame({"timestamp": times, "asset": "pump-1", "current": 1.0})
    check_sampling_interval(readings, interval_s=60, max_gap_s=600, tolerance=0.5)  # a 3-hour gap is a new session
    check_sampling_interval(readings.head(2), interval_s=1, max_gap_s=10, tolerance=0.5)  # one step: not judged
    fine = readings.assign(asset="pump-2", timestamp=pd.date_range("2026-01-01", periods=5, freq="10s", tz="UTC"))
    with pytest.raises(InvalidRequest, match=r"asset 'pump-2': readings are 10 s apart \(median\), but the model scores readings every 60 s: resample"):
        check_sampling_interval(pd.concat([readings, fine], ignore_index=True), interval_s=60, max_gap_s=600, tolerance=0.5)


def test_a_champion_registered_before_the_tolerance_was_recorded_uses_validate_s_default():
    """`anomflow score` loads a champion with the installed package, which may be newer."""
    from components.quality.config import ValidationConfig
    from components.registry.served_detector import AnomflowDetector

    detector = AnomflowDetector()
    detector.serving = {"interval_s": 60, "max_gap_s": 600, "impute_steps": 5, "top_k_sensors": 3}
    assert detector._interval_tolerance() == ValidationConfig().interval_tolerance
    detector.serving["interval_tolerance"] = 0.1
    assert detector._interval_tolerance() == 0.1
