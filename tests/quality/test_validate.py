"""Validate stage: schema errors, quarantine, run-stopping data-quality errors, reports."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from components.quality.config import SensorRule, ValidationConfig
from components.quality.validate import (
    DataQualityError,
    SchemaError,
    ValidationOutcome,
    validate_readings,
)

N_PER_ASSET = 400
FILES = {"pump-1": "data/demo/pump-1__Process.csv", "pump-2": "data/demo/pump-2__Process.csv"}


def make_frame(n: int = N_PER_ASSET, interval_s: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for asset, file in FILES.items():
        parts.append(
            pd.DataFrame(
                {
                    "timestamp": pd.date_range(
                        "2024-03-01", periods=n, freq=f"{interval_s}s", tz="UTC"
                    ),
                    "asset": asset,
                    "temperature": rng.normal(60.0, 5.0, n),
                    "pressure": rng.normal(8.0, 1.0, n),
                    "current": rng.normal(200.0, 20.0, n),
                    "label": np.zeros(n, dtype="int8"),
                    "source_file": file,
                    "source_row": np.arange(2, n + 2, dtype="int64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def make_cfg(**overrides) -> ValidationConfig:
    raw = {
        "sensors": {
            "temperature": {"min": -40.0, "max": 150.0},
            "pressure": {"min": 0.0, "max": 16.0},
            "current": {"min": 0.0, "max": 400.0},
        },
        "expected_interval_s": 60,
    }
    raw.update(overrides)
    return ValidationConfig.model_validate(raw)


def run(frame, cfg, tmp_path):
    return validate_readings(
        frame, cfg, reports_dir=tmp_path / "reports", quarantine_path=tmp_path / "quarantine.parquet"
    )


@pytest.fixture(scope="module", autouse=True)
def _import_gx_once():
    # pay the Great Expectations import once per module, not inside the first test
    import great_expectations  # noqa: F401


# --- config --------------------------------------------------------------------------


def test_config_defaults_and_checks():
    cfg = ValidationConfig.model_validate(
        {"sensors": {"vibration": None, "current": {"max": 400}}, "expected_interval_s": 60}
    )
    assert cfg.sensors["vibration"] == SensorRule()
    assert cfg.sensors["vibration"].max_null_fraction == 0.05
    assert cfg.interval_tolerance == 0.5 and cfg.quarantine_tolerance == 0.02
    assert cfg.require_label is False
    assert cfg.interval_bounds() == (30.0, 90.0)
    with pytest.raises(ValidationError, match="greater than max"):
        SensorRule(min=5, max=1)
    with pytest.raises(ValidationError):
        ValidationConfig.model_validate({"sensors": {"a": {}}, "expected_interval_s": 60, "typo": 1})


# --- clean data ----------------------------------------------------------------------


def test_clean_frame_passes_and_writes_reports(tmp_path):
    frame = make_frame()
    out = run(frame, make_cfg(require_label=True), tmp_path)

    assert isinstance(out, ValidationOutcome)
    assert out.summary["success"] is True and out.summary["gx_success"] is True
    assert out.summary["n_rows_in"] == out.summary["n_rows_out"] == len(frame)
    assert out.summary["n_quarantined"] == 0 and out.quarantined.empty
    pd.testing.assert_frame_equal(out.clean, frame)

    summary = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert summary["success"] is True and summary["n_rows_out"] == len(frame)
    kinds = {(e["type"], e.get("column"), e.get("asset")) for e in summary["expectations"]}
    assert ("expect_column_values_to_be_between", "current", None) in kinds
    assert ("expect_column_values_to_not_be_null", "pressure", None) in kinds
    assert ("anomflow_median_sampling_interval_per_asset", "timestamp", "pump-2") in kinds
    assert ("anomflow_timestamps_strictly_increase_per_asset", "timestamp", None) in kinds
    assert all(e["success"] for e in summary["expectations"])
    interval = [e for e in summary["expectations"] if e["rule"] == "sampling_interval"]
    assert [e["observed_value"] for e in interval] == [60.0, 60.0]

    index = tmp_path / "reports" / "data_docs" / "index.html"
    assert index.is_file()
    assert "anomflow_readings" in index.read_text()
    pages = list((tmp_path / "reports" / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == 1  # the rendered validation result of this run
    assert pages[0].parent.parent.name == summary["run_name"] and summary["run_name"].startswith("validate-")  # not __none__
    page = pages[0].read_text()
    assert all(column in page for column in ("temperature", "pressure", "current"))
    assert "_interval_s" not in page and "_ts_step_s" not in page  # no internal column shown as a sensor
    assert "Data asset: None" not in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "readings (2 assets, 800 rows)" in page

    offline = (tmp_path / "reports" / "validation.html").read_text()  # self-contained: nothing fetched
    assert "<link" not in offline and "<script" not in offline and "http" not in offline.replace(str(tmp_path), "")
    assert summary["run_name"] in offline and "pump-2" in offline and "anomflow_median_sampling_interval_per_asset" in offline

    assert pd.read_parquet(tmp_path / "quarantine.parquet").empty


def test_int_sensor_is_accepted_as_float(tmp_path):
    frame = make_frame()
    frame["current"] = frame["current"].round().astype("int64")
    out = run(frame, make_cfg(), tmp_path)
    assert out.clean["current"].dtype == np.float64


# --- schema errors -------------------------------------------------------------------


def test_missing_column_names_column_and_file(tmp_path):
    frame = make_frame().drop(columns="pressure")
    with pytest.raises(SchemaError) as err:
        run(frame, make_cfg(), tmp_path)
    msg = str(err.value)
    assert "column 'pressure' is missing in data/demo/pump-1__Process.csv" in msg
    assert "data/demo/pump-2__Process.csv" in msg
    assert not (tmp_path / "reports").exists()  # schema errors stop before GX


def test_an_undeclared_sensor_column_stops_the_run_naming_it_and_its_file(tmp_path):
    """A column no rule covers would reach the models unvalidated: declare or ignore it."""
    frame = make_frame()
    frame["fan_speed"] = np.where(frame["asset"] == "pump-2", 1200.0, np.nan)  # only pump-2's file has it
    with pytest.raises(SchemaError) as err:
        run(frame, make_cfg(), tmp_path)
    assert str(err.value) == (
        "column(s) ['fan_speed'] in data/demo/pump-2__Process.csv are not declared: add each sensor the models "
        "should learn under validate.sensors (e.g. sensors: {fan_speed: {}} checks type and nulls; add min/max "
        "for ranges), or list it under validate.ignore_columns to leave it out"
    )
    assert not (tmp_path / "reports").exists()

    out = run(frame, make_cfg(ignore_columns=["fan_speed", "not_there"]), tmp_path)
    assert "fan_speed" not in out.clean.columns and out.summary["ignored_columns"] == ["fan_speed"]
    assert list(out.clean.columns) == list(make_frame().columns)
    declared = run(frame, make_cfg(sensors={**make_cfg().model_dump()["sensors"], "fan_speed": {"max_null_fraction": 0.5}}), tmp_path)
    assert declared.clean["fan_speed"].notna().sum() == N_PER_ASSET
    with pytest.raises(ValidationError, match=r"\['current'\] are both declared"):
        make_cfg(ignore_columns=["current"])


def test_a_new_project_declares_nothing_and_validate_says_what_to_set(tmp_path):
    """Ingest runs before the user knows the column names; validate then lists them with
    the readings' median sampling interval (pump-2 here sampled every 30 s)."""
    frame = make_frame()
    frame.loc[frame["asset"] == "pump-2", "timestamp"] = pd.date_range("2024-03-01", periods=N_PER_ASSET, freq="30s", tz="UTC")
    with pytest.raises(SchemaError) as err:
        run(frame, ValidationConfig(), tmp_path)
    msg = str(err.value)
    assert "column(s) ['temperature', 'pressure', 'current'] in data/demo/pump-1__Process.csv" in msg
    assert msg.endswith(
        "validate.expected_interval_s is not set: the readings' median sampling interval is 45 s "
        "(per asset: pump-1: 60 s, pump-2: 30 s)"
    )
    with pytest.raises(SchemaError, match="declares no sensor, and no sensor column came from"):
        run(frame[["timestamp", "asset", "source_file", "source_row"]], make_cfg(sensors={}), tmp_path)
    with pytest.raises(ValueError, match="expected_interval_s is not set"):
        ValidationConfig().interval_bounds()


def test_missing_asset_and_label(tmp_path):
    frame = make_frame().drop(columns=["asset", "label"])
    with pytest.raises(SchemaError) as err:
        run(frame, make_cfg(require_label=True), tmp_path)
    assert "column 'asset' is missing" in str(err.value)
    assert "column 'label' is missing" in str(err.value)


def test_text_in_numeric_column(tmp_path):
    frame = make_frame()
    current = frame["current"].astype(object)
    current.iloc[N_PER_ASSET + 15] = "abc"  # pump-2, source row 17
    frame["current"] = current
    with pytest.raises(SchemaError) as err:
        run(frame, make_cfg(), tmp_path)
    assert str(err.value) == (
        "column 'current' is not numeric (found text 'abc' at data/demo/pump-2__Process.csv line 17)"
    )


def test_timestamp_must_be_tz_aware_datetime(tmp_path):
    frame = make_frame()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    with pytest.raises(SchemaError, match="'timestamp' has no time zone"):
        run(frame, make_cfg(), tmp_path)

    frame = make_frame()
    text = frame["timestamp"].astype(str).astype(object)
    text.iloc[3] = "yesterday"
    frame["timestamp"] = text
    with pytest.raises(SchemaError) as err:
        run(frame, make_cfg(), tmp_path)
    assert "column 'timestamp' is not a datetime" in str(err.value)
    assert "'yesterday' at data/demo/pump-1__Process.csv line 5" in str(err.value)


# --- quarantine ----------------------------------------------------------------------


def test_out_of_range_rows_are_quarantined_under_tolerance(tmp_path):
    frame = make_frame()
    frame.loc[5, "current"] = 812.0
    frame.loc[N_PER_ASSET + 7, "pressure"] = -1.5
    frame.loc[9, "temperature"] = np.inf
    cfg = make_cfg()  # 3 of 800 rows = 0.375 % < 2 %
    out = run(frame, cfg, tmp_path)

    assert out.summary["success"] is True and out.summary["gx_success"] is False
    assert out.summary["n_quarantined"] == 3
    assert len(out.clean) + len(out.quarantined) == len(frame)
    bad_rows = {("pump-1", 7), ("pump-2", 9), ("pump-1", 11)}
    kept = set(zip(out.clean["asset"], out.clean["source_row"]))
    assert not (bad_rows & kept)
    assert len(kept) == len(frame) - 3

    q = pd.read_parquet(tmp_path / "quarantine.parquet")
    assert len(q) == 3
    assert {"reason", "expectation", "source_file", "source_row"} <= set(q.columns)
    reasons = dict(zip(q["source_row"], q["reason"]))
    assert reasons[7] == "current=812.0 above max 400.0"
    assert reasons[9] == "pressure=-1.5 below min 0.0"
    assert reasons[11] == "temperature=inf above max 150.0"
    assert set(q["expectation"]) == {
        "expect_column_values_to_be_between(current)",
        "expect_column_values_to_be_between(pressure)",
        "expect_column_values_to_be_between(temperature)",
    }
    summary = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert summary["n_quarantined"] == 3 and summary["n_rows_out"] == len(frame) - 3
    failed = [e for e in summary["expectations"] if not e["success"]]
    assert {e["column"] for e in failed} == {"current", "pressure", "temperature"}
    assert all(e["unexpected_count"] == 1 for e in failed)


def test_too_many_quarantined_rows_stop_the_run_but_keep_the_rows(tmp_path):
    frame = make_frame()
    frame.loc[0:29, "current"] = 999.0  # 30 of 800 rows = 3.75 % > 2 %
    frame.loc[40:44, "pressure"] = 99.0
    with pytest.raises(DataQualityError) as err:
        run(frame, make_cfg(), tmp_path)
    msg = str(err.value)
    assert "quarantined 35 of 800 rows (4.38%)" in msg
    assert "current out of range [0.0, 400.0]: 30 rows" in msg
    assert "pressure out of range [0.0, 16.0]: 5 rows" in msg
    assert msg.index("current") < msg.index("pressure")  # worst column first

    q = pd.read_parquet(tmp_path / "quarantine.parquet")
    assert len(q) == 35
    summary = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert summary["success"] is False and summary["problems"] == err.value.problems
    assert (tmp_path / "reports" / "data_docs" / "index.html").is_file()
    assert err.value.outcome is not None and len(err.value.outcome.clean) == 765


def test_duplicate_and_non_increasing_timestamps_are_quarantined(tmp_path):
    frame = make_frame()
    frame.loc[10, "timestamp"] = frame.loc[9, "timestamp"]  # duplicate
    frame.loc[N_PER_ASSET + 20, "timestamp"] = frame.loc[N_PER_ASSET + 18, "timestamp"]  # goes back
    # the same time stamp on another asset is fine
    frame.loc[N_PER_ASSET + 30, "timestamp"] = frame.loc[30, "timestamp"]
    out = run(frame, make_cfg(), tmp_path)

    q = out.quarantined
    assert sorted(zip(q["asset"], q["source_row"])) == [("pump-1", 12), ("pump-2", 22)]
    assert all("timestamps strictly increase per asset" in r for r in q["reason"])
    assert q["reason"].iloc[0].startswith("duplicate timestamp")
    assert q["reason"].iloc[1].startswith("timestamp 60.0 s earlier than a previous row")
    assert set(q["expectation"]) == {"anomflow_timestamps_strictly_increase_per_asset"}
    for _, part in out.clean.groupby("asset"):
        assert part["timestamp"].is_monotonic_increasing and part["timestamp"].is_unique
    assert out.summary["quarantine_by_rule"] == {"timestamp not strictly increasing within asset": 2}


# --- run-stopping rules --------------------------------------------------------------


def test_too_many_nulls_name_the_column(tmp_path):
    frame = make_frame()
    frame.loc[frame.index[N_PER_ASSET : N_PER_ASSET + 80], "pressure"] = np.nan  # 10 % overall
    with pytest.raises(DataQualityError) as err:
        run(frame, make_cfg(), tmp_path)
    assert err.value.problems == [
        "column 'pressure' has 10.00% missing values (80 of 800 rows), allowed 5.00% "
        "(asset pump-2: 20.00%)"
    ]
    # a looser rule lets the same data through; nulls are not quarantined
    cfg = make_cfg()
    cfg.sensors["pressure"].max_null_fraction = 0.15
    out = run(frame, cfg, tmp_path)
    assert out.summary["success"] and out.summary["n_quarantined"] == 0


def test_wrong_sampling_interval_is_an_error(tmp_path):
    frame = make_frame(interval_s=10)
    with pytest.raises(DataQualityError) as err:
        run(frame, make_cfg(), tmp_path)
    assert err.value.problems == [
        f"asset {asset}: median sampling interval 10 s, expected 60 s ± 50% (allowed 30–90 s)"
        for asset in FILES
    ]
    assert (tmp_path / "reports" / "validation.json").is_file()


def test_sampling_interval_is_checked_per_asset(tmp_path):
    frame = make_frame()
    pump2 = frame["asset"] == "pump-2"
    start = frame.loc[pump2, "timestamp"].iloc[0]
    frame.loc[pump2, "timestamp"] = start + pd.to_timedelta(np.arange(pump2.sum()) * 120, unit="s")
    with pytest.raises(DataQualityError) as err:
        run(frame, make_cfg(interval_tolerance=0.2), tmp_path)
    assert err.value.problems == [
        "asset pump-2: median sampling interval 120 s, expected 60 s ± 20% (allowed 48–72 s)"
    ]


def test_empty_frame_is_an_error(tmp_path):
    frame = make_frame().iloc[:0]
    with pytest.raises(DataQualityError, match="no rows"):
        run(frame, make_cfg(), tmp_path)
