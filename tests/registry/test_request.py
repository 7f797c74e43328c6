"""Bad scoring requests get precise messages."""

import pandas as pd
import pytest

from components.registry.request import InvalidRequest, parse_request

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
