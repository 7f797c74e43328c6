"""Windows never cross sessions; the scaler never sees validation or test rows."""

import json

import numpy as np
import pandas as pd
import pytest

from components.config import PrepareConfig
from components.features.prepare import prepare
from components.features.scaling import StandardScaler
from components.features.sessions import resample_sessions
from components.features.windows import gather_windows, window_ends, window_starts


def test_windows_stay_inside_sessions():
    sessions = np.array(["a#0"] * 5 + ["a#1"] * 2 + ["b#0"] * 7)
    starts = window_starts(sessions, window=3, stride=1)
    assert starts.tolist() == [0, 1, 2, 7, 8, 9, 10, 11]
    for s in starts:
        assert len(set(sessions[s : s + 3])) == 1
    assert window_starts(sessions, window=3, stride=2).tolist() == [0, 2, 7, 9, 11]
    assert window_ends(sessions, 3).sum() == len(starts)
    values = np.arange(14, dtype=np.float32)[:, None]
    assert gather_windows(values, starts[:2], 3)[:, :, 0].tolist() == [[0, 1, 2], [1, 2, 3]]


def test_random_sessions_never_crossed():
    rng = np.random.default_rng(0)
    sessions = np.repeat(np.arange(50), rng.integers(1, 40, size=50))
    for window in (2, 5, 17):
        starts = window_starts(sessions, window)
        ids = sessions[starts[:, None] + np.arange(window)]
        assert (ids == ids[:, :1]).all()
        expected = sum(max(0, c - window + 1) for c in np.bincount(sessions))
        assert len(starts) == expected


def _readings(n=600, gap_at=300, gap_minutes=30):
    t = pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC")
    t = t.where(np.arange(n) < gap_at, t + pd.Timedelta(minutes=gap_minutes))
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"timestamp": t, "asset": "p1", "x": rng.normal(size=n), "y": np.arange(n, dtype=float)})
    frame.loc[100:102, "x"] = np.nan  # short hole: imputed
    return frame


def test_gap_starts_new_session_and_short_holes_are_imputed():
    series = resample_sessions(_readings(), interval_s=60, max_gap_s=600, impute_limit_s=300)
    assert series["session"].nunique() == 2
    assert series["x"].notna().all()
    first = series[series["session"] == "p1#0"]
    assert first["timestamp"].max() < series[series["session"] == "p1#1"]["timestamp"].min()


def test_long_hole_breaks_session_instead_of_inventing_values():
    frame = _readings(gap_at=10**6)
    frame.loc[200:230, "x"] = np.nan  # 31 min of missing x > impute limit
    series = resample_sessions(frame, interval_s=60, max_gap_s=3600, impute_limit_s=300)
    assert series["session"].nunique() == 2
    assert len(series) == len(frame) - 31


def test_scaler_is_fitted_on_train_rows_only(tmp_path):
    frame = _readings(n=1000, gap_at=10**6)
    frame["y"] = np.where(np.arange(1000) < 500, 1.0, 1000.0)  # val/test rows far off
    prepared = prepare(frame, PrepareConfig(train_fraction=0.5, val_fraction=0.2).at_interval(60), tmp_path, 10)
    train = prepared.splits["train"]
    assert prepared.scaler.mean[prepared.sensors.index("y")] == pytest.approx(train["y"].mean())
    assert prepared.scaler.mean[prepared.sensors.index("y")] == pytest.approx(1.0)
    assert train["timestamp"].max() < prepared.splits["val"]["timestamp"].min()
    assert prepared.splits["val"]["timestamp"].max() < prepared.splits["test"]["timestamp"].min()
    reloaded = StandardScaler.load(tmp_path / "scaler.json")
    assert reloaded == prepared.scaler
    assert all(s.endswith("/train") for s in train["session"].unique())


def test_constant_sensor_scales_to_zero():
    frame = pd.DataFrame({"a": [2.0, 2.0, 2.0], "b": [1.0, 2.0, 3.0]})
    scaler = StandardScaler.fit(frame, ["a", "b"])
    assert np.allclose(scaler.transform(frame)[:, 0], 0.0)


def test_a_validation_split_of_labelled_rows_stops_prepare_saying_why(tmp_path):
    """SKAB-like files, whose faults fill the middle: the val split holds no normal window,
    so nothing could stop early or set a threshold. Prepare says so (after writing its files)
    instead of the five training processes failing later."""
    frame = _readings(n=1000, gap_at=10**6).assign(label=0)
    frame.loc[480:699, "label"] = 1  # every val row (500–699) and the last train rows
    cfg = PrepareConfig(train_fraction=0.5, val_fraction=0.2).at_interval(60)
    with pytest.raises(ValueError) as err:
        prepare(frame, cfg, tmp_path, 10)
    assert str(err.value).startswith(
        "the val split has no 10-row window free of labelled anomalies (200 rows in 1 session, the longest 200 rows, "
        "200 of them labelled)"
    )
    assert "prepare.exclude_labelled_from_fit: false" in str(err.value) and "train split" not in str(err.value)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["train"]["fit_windows"], summary["val"]["fit_windows"]) == (480 - 10 + 1, 0)
    prepare(frame, cfg.model_copy(update={"exclude_labelled_from_fit": False}), tmp_path, 10)
    assert json.loads((tmp_path / "summary.json").read_text())["val"]["fit_windows"] == 200 - 10 + 1


def test_sessions_shorter_than_the_window_stop_prepare_saying_why(tmp_path):
    with pytest.raises(ValueError, match=r"^the val split has no 250-row window inside one session \(200 rows in 1 session, the longest 200 rows\): lower the models' window \(models.<model>.window\)"):
        prepare(_readings(n=1000, gap_at=10**6), PrepareConfig(train_fraction=0.5, val_fraction=0.2).at_interval(60), tmp_path, 250)


def test_a_split_left_empty_by_a_long_pause_says_the_cut_is_by_time(tmp_path):
    """Two recordings six months apart: the time-span cuts put the first alone in train
    and nothing in val (as with two Grafana exports of one dashboard)."""
    readings = _readings(n=600, gap_at=100, gap_minutes=180 * 24 * 60)
    with pytest.raises(ValueError, match=r"^the val split holds no rows: prepare.train_fraction and val_fraction cut each asset's time span"):
        prepare(readings, PrepareConfig(train_fraction=0.5, val_fraction=0.2).at_interval(60), tmp_path, 10)
