"""Plain CSV reader: the SKAB benchmark files and synthetic edge cases."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.sources.errors import SourceFormatError
from components.sources.plain_csv import read_plain_csv

SKAB = Path(__file__).parents[2].parent / "shared" / "datasets" / "skab"
SENSORS = ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Pressure", "Temperature", "Thermocouple", "Voltage",
           "Volume Flow RateRMS"]
SKAB_FILES = sorted(SKAB.glob("valve1/*.csv")) + [SKAB / "anomaly-free" / "anomaly-free.csv"]


def read_skab(path: Path) -> pd.DataFrame:
    return read_plain_csv(path, delimiter=";", timestamp_column="datetime", label_column="anomaly", drop_columns=("changepoint",))


@pytest.mark.skipif(not SKAB.is_dir(), reason=f"SKAB data not found at {SKAB} (it lives beside the project, not in it)")
@pytest.mark.parametrize("path", SKAB_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_skab_files_parse_with_labels(path):
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    frame = read_skab(path)
    assert list(frame.columns) == ["timestamp", *SENSORS, "label", "source_file", "source_row"]
    assert len(frame) == len(rows)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["label"].dtype == np.int8
    assert frame["source_row"].tolist() == list(range(2, len(rows) + 2))
    assert frame["label"].sum() == sum(int(float(r.get("anomaly", 0))) for r in rows)
    assert frame["timestamp"].iloc[0] == pd.Timestamp(rows[0]["datetime"], tz="UTC")
    assert frame["Current"].iloc[-1] == float(rows[-1]["Current"])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plant.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_format_timezone_label_and_drop(tmp_path):
    path = write(tmp_path, "when,temp,state,note\n01.07.2024 12:00,20.5,1,a\n01.07.2024 12:01,,0.0,b\n")
    frame = read_plain_csv(path, timestamp_column="when", timestamp_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin",
                           label_column="state", drop_columns=("note", "absent"))
    assert list(frame.columns) == ["timestamp", "temp", "label", "source_file", "source_row"]
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-07-01 10:00", tz="UTC"), pd.Timestamp("2024-07-01 10:01", tz="UTC")]
    np.testing.assert_array_equal(frame["temp"], [20.5, np.nan])
    assert frame["label"].tolist() == [1, 0]


def test_no_label_column_means_no_label(tmp_path):
    frame = read_plain_csv(write(tmp_path, "timestamp,x\n2024-01-01T00:00:00Z,1\n"))
    assert list(frame.columns) == ["timestamp", "x", "source_file", "source_row"]


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("time,x\n2024-01-01,1\n", {}, "no timestamp column 'timestamp'.*set the source's timestamp_column: 'time'$"),
        ("datetime;x\n2024-01-01;1\n", {"timestamp_column": "datetime"}, "one column: set the source's delimiter: ';'$"),
        ("timestamp,x,y\n2024-01-01,1,2\n2024-01-02,1,7\n", {"label_column": "y"}, "line 2, column 'y': label '2' is not 0 or 1"),
        ("timestamp,x\n2024-01-01,1\n2024-13-01,1\n", {}, "line 3, column 'timestamp': '2024-13-01' is not a time stamp"),
        ("timestamp,x\n2024-01-01,1\n2024-01-02,high\n", {}, "line 3, column 'x': 'high' is not a number"),
        ("timestamp,x\n2024-01-01,1\n", {"asset_column": "machine"}, "no asset column 'machine' in the header"),
        ("timestamp,machine,x\n2024-01-01,p1,1\n2024-01-01, ,2\n", {"asset_column": "machine"}, "line 3, column 'machine': no asset name"),
    ],
)
def test_errors_name_file_line_and_column(tmp_path, text, kwargs, expected):
    path = write(tmp_path, text)
    with pytest.raises(SourceFormatError, match=expected) as err:
        read_plain_csv(path, **kwargs)
    assert str(path) in str(err.value)


LONG_EXPORT = """time,machine,flow,pressure
2024-01-01T00:00:00Z,pump-2,10,1.0
2024-01-01T00:00:00Z,pump-1,20,2.0
2024-01-01T00:01:00Z,pump-1,22,2.2
2024-01-01T00:01:00Z,pump-1,24,2.4
2024-01-01T00:01:00Z,pump-2,12,1.2
"""


def test_a_long_export_of_several_assets_names_each_row_s_asset(tmp_path):
    frame = read_plain_csv(write(tmp_path, LONG_EXPORT), timestamp_column="time", asset_column="machine")
    assert list(frame.columns) == ["timestamp", "asset", "flow", "pressure", "source_file", "source_row"]
    assert frame["asset"].tolist() == ["pump-2", "pump-1", "pump-1", "pump-1", "pump-2"]


def test_ingest_splits_a_long_export_into_its_assets(tmp_path, monkeypatch):
    """Each asset's rows are resolved (duplicate time stamps: per asset) and joined as one
    file of that asset; the readings frame is sorted by asset, then time."""
    from components.config import IngestConfig
    from components.sources.ingest import ingest

    write(tmp_path, LONG_EXPORT)
    monkeypatch.chdir(tmp_path)
    cfg = IngestConfig.model_validate({"sources": [{"kind": "csv", "glob": "plant.csv", "timestamp_column": "time", "asset_column": "machine"}]})
    readings = ingest(cfg)
    assert readings[["asset", "flow", "pressure"]].values.tolist() == [
        ["pump-1", 20.0, 2.0], ["pump-1", 23.0, 2.3], ["pump-2", 10.0, 1.0], ["pump-2", 12.0, 1.2],
    ]
    assert readings["timestamp"].tolist() == [pd.Timestamp("2024-01-01 00:00", tz="UTC"), pd.Timestamp("2024-01-01 00:01", tz="UTC")] * 2


def test_one_asset_for_every_file_of_a_source(tmp_path, monkeypatch):
    """Daily files of one machine (or Grafana downloads, whose names carry no asset) are
    one asset when the source names it; without it, the file-name error says how."""
    from pydantic import ValidationError

    from components.config import IngestConfig
    from components.sources.errors import SourceFormatError
    from components.sources.ingest import ingest

    for day in (1, 2):
        (tmp_path / f"2024-01-0{day}.csv").write_text(f"timestamp,flow\n2024-01-0{day}T00:00:00Z,{day}\n2024-01-0{day}T00:01:00Z,{day}\n")
    monkeypatch.chdir(tmp_path)
    readings = ingest(IngestConfig.model_validate({"sources": [{"kind": "csv", "glob": "2024-*.csv", "asset": "press-4"}]}))
    assert readings["asset"].unique().tolist() == ["press-4"] and readings["flow"].tolist() == [1, 1, 2, 2]

    (tmp_path / "Flow-data-2024-01-03 08_00_00.csv").write_text('"Time","flow"\n2024-01-03 08:00:00,3\n2024-01-03 08:01:00,3\n')
    grafana = {"kind": "grafana_csv", "glob": "Flow-data-*.csv"}
    with pytest.raises(SourceFormatError, match=r"Flow-data-2024-01-03 08_00_00\.csv: file name does not match asset_pattern .*\(asset: NAME\)"):
        ingest(IngestConfig.model_validate({"sources": [grafana]}))
    assert ingest(IngestConfig.model_validate({"sources": [{**grafana, "asset": "press-4"}]}))["asset"].unique().tolist() == ["press-4"]
    with pytest.raises(ValidationError, match="give asset .* or asset_column"):
        IngestConfig.model_validate({"sources": [{"kind": "csv", "glob": "*.csv", "asset": "a", "asset_column": "machine"}]})
