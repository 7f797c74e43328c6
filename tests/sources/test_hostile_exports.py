"""Damaged and unusual exports: each is read correctly or refused in one bounded line that
names the file and line; nothing is changed silently (issue 30's ingest cases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.config import IngestConfig
from components.quality.validate import validate_readings
from components.sources.errors import MAX_MESSAGE_CHARACTERS, SourceFormatError
from components.sources.grafana_csv import read_grafana_csv
from components.sources.ingest import ingest
from components.sources.plain_csv import read_plain_csv
from tests.quality.test_validate import make_cfg

BOUND = MAX_MESSAGE_CHARACTERS + 100


def _write(path, text: str):
    path.write_text(text)
    return path


def test_a_decimal_comma_in_a_semicolon_export_is_a_decimal_comma(tmp_path):
    plain = _write(tmp_path / "plain.csv", "timestamp;pf;power\n2026-01-01T00:00:00Z;0,809;1.234,5 kW\n2026-01-01T00:01:00Z;0,81;2,5 kW\n")
    frame = read_plain_csv(plain, delimiter=";")
    assert frame["pf"].tolist() == [0.809, 0.81]
    assert frame["power"].tolist() == [1234500.0, 2500.0]
    grafana = _write(tmp_path / "grafana.csv", "sep=;\nTime;pf\n1767225600000;0,809\n1767225660000;1,5\n")
    assert read_grafana_csv(grafana)["pf"].tolist() == [0.809, 1.5]


def test_a_dot_stays_a_decimal_point_and_thousands_commas_stay_thousands(tmp_path):
    raw = _write(tmp_path / "raw.csv", "timestamp;x\n2026-01-01T00:00:00Z;0.809\n2026-01-01T00:01:00Z;1,234.5\n")
    assert read_plain_csv(raw, delimiter=";")["x"].tolist() == [0.809, 1234.5]
    comma = _write(tmp_path / "comma.csv", 'Time,x\n1767225600000,"1,234.5 W"\n1767225660000,"12,345,678 W"\n')
    assert read_grafana_csv(comma)["x"].tolist() == [1234.5, 12345678.0]


def test_a_decimal_comma_where_commas_separate_cells_is_refused_saying_so(tmp_path):
    path = _write(tmp_path / "x.csv", 'Time,pf\n1767225600000,"0,809"\n')
    with pytest.raises(SourceFormatError, match=r"x.csv: line 2, column 'pf': '0,809' is not a number .*decimal comma\? only ';'-separated"):
        read_grafana_csv(path)


def test_a_cell_over_the_csv_field_limit_is_named_by_file_and_line(tmp_path):
    path = _write(tmp_path / "big.csv", "Time,voltage\n1767225600000,1\n1767225660000," + "9" * 10_000_000 + "\n")
    with pytest.raises(SourceFormatError) as caught:
        read_grafana_csv(path)
    message = str(caught.value)
    assert f"{path}: line 3: field larger than field limit" in message and len(message) < BOUND


def test_a_garbage_line_of_megabytes_gives_a_short_error(tmp_path):
    cell_garbage = _write(tmp_path / "cell.csv", "Time,voltage\n1767225600000," + "x" * 100_000 + "\n")
    with pytest.raises(SourceFormatError) as caught:
        read_grafana_csv(cell_garbage)
    message = str(caught.value)
    assert "line 2, column 'voltage'" in message and "(100,000 characters)" in message and len(message) < 300
    header_garbage = _write(tmp_path / "header.csv", "x" * 100_000 + ",y\n1,2\n")
    with pytest.raises(SourceFormatError) as caught:
        read_grafana_csv(header_garbage)
    assert "no 'Time' column" in str(caught.value) and len(str(caught.value)) < BOUND


def test_infinite_readings_are_read_as_they_are_written(tmp_path):
    path = _write(tmp_path / "raw.csv", "Time,current\n1767225600000,Infinity\n1767225660000,-Infinity\n1767225720000,1e308\n1767225780000,1e400\n")
    values = read_grafana_csv(path)["current"].to_numpy()
    assert values[0] == np.inf and values[1] == -np.inf and values[2] == 1e308 and values[3] == np.inf


def _ingest_cfg(tmp_path, glob: str) -> IngestConfig:
    return IngestConfig.model_validate({"sources": [{"kind": "grafana_csv", "glob": str(tmp_path / glob), "asset": "pump-1"}]})


def test_a_header_only_export_is_named_not_a_traceback(tmp_path):
    _write(tmp_path / "empty.csv", "Time,voltage\n")
    with pytest.raises(SourceFormatError, match=r"empty.csv: a header but no data rows"):
        ingest(_ingest_cfg(tmp_path, "empty.csv"))


def test_repeated_time_stamps_are_counted_in_the_validation_summary(tmp_path):
    _write(tmp_path / "a.csv", "Time,temperature\n" + "".join(
        f"{1767225600000 + 60_000 * i},{60 + (0.5 if i in (3, 7) else 0)}\n" for i in range(10)
    ) + f"{1767225600000 + 60_000 * 3},61\n{1767225600000 + 60_000 * 5},60\n")  # 3 repeats with another value, 5 with the same
    readings = ingest(_ingest_cfg(tmp_path, "a.csv"))
    assert len(readings) == 10
    frame = readings.assign(pressure=8.0, current=200.0)
    frame.attrs = readings.attrs
    summary = validate_readings(frame, make_cfg(), reports_dir=tmp_path / "r", quarantine_path=tmp_path / "q.parquet").summary
    duplicates = summary["duplicate_timestamps"]
    assert duplicates["rows_merged"] == 2 and duplicates["conflicting_timestamps"] == 1 and duplicates["rule"] == "mean"
    assert duplicates["files"] == {str(tmp_path / "a.csv"): {"rows_merged": 2, "conflicting_timestamps": 1}}


def test_infinite_readings_are_quarantined_naming_the_column(tmp_path):
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2026-01-01", periods=200, freq="60s", tz="UTC"), "asset": "pump-1",
        "temperature": 60.0, "pressure": 8.0, "current": 200.0, "source_file": "a.csv", "source_row": np.arange(2, 202),
    })
    frame.loc[5, "pressure"] = np.inf
    cfg = make_cfg(sensors={"temperature": {}, "pressure": {}, "current": {}})  # no range rule to catch it
    outcome = validate_readings(frame, cfg, reports_dir=tmp_path / "r", quarantine_path=tmp_path / "q.parquet")
    assert outcome.quarantined["reason"].tolist() == ["pressure=inf is not a finite reading"]
    assert outcome.quarantined["source_row"].tolist() == [7] and len(outcome.clean) == 199


def test_a_quarantined_row_joined_from_two_files_names_the_second(tmp_path):
    stamps = [1767225600000 + 60_000 * i for i in range(200)]
    _write(tmp_path / "pump-1__a.csv", "Time,temperature\n" + "".join(f"{t},60\n" for t in stamps))
    _write(tmp_path / "pump-1__b.csv", "Time,pressure\n" + "".join(f"{t},{99 if i == 10 else 8}\n" for i, t in enumerate(stamps)))
    readings = ingest(_ingest_cfg(tmp_path, "pump-1__*.csv")).assign(current=200.0)
    outcome = validate_readings(readings, make_cfg(), reports_dir=tmp_path / "r", quarantine_path=tmp_path / "q.parquet")
    row = outcome.quarantined.iloc[0]
    assert row["reason"] == "pressure=99.0 above max 16.0"
    assert row["also_from"] == f"{tmp_path / 'pump-1__b.csv'} line 12"
