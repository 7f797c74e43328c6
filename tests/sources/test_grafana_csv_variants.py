"""Synthetic Grafana CSV variants written to ``tmp_path``, errors, and the duplicate rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.sources.errors import SourceFormatError
from components.sources.grafana_csv import read_grafana_csv, resolve_duplicate_timestamps, unique_names


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_utf16le_bom_tab_excel_compatibility(tmp_path):
    text = '\ufeff"Time"\t"Motor current"\t"Speed "\r\n2024-01-01 00:00:00\t850 mA\t1,200 rpm\r\n2024-01-01 00:01:00\t\t1 rpm'
    frame = read_grafana_csv(write(tmp_path, text, encoding="utf-16-le"))
    assert list(frame.columns) == ["timestamp", "Motor current", "Speed", "source_file", "source_row"]
    assert frame["Motor current"].tolist()[0] == 0.85 and np.isnan(frame["Motor current"].iloc[1])
    assert frame["Speed"].tolist() == [1200.0, 1.0]
    assert frame["source_row"].tolist() == [2, 3]


def test_utf8_bom_sep_line_crlf_quoted_thousands_and_doubled_quotes(tmp_path):
    text = '\ufeffsep=,\r\n"Time","power {pod=""p-1""}"\r\n2024-01-01 00:00:00.250,"1,234.5 W"\r\n2024-01-01 00:00:00.500,2 kW\r\n\r\n\r\n'
    frame = read_grafana_csv(write(tmp_path, text))
    assert list(frame.columns)[1] == 'power {pod="p-1"}'
    assert frame['power {pod="p-1"}'].tolist() == [1234.5, 2000.0]
    assert frame["timestamp"].tolist() == [utc("2024-01-01 00:00:00.250"), utc("2024-01-01 00:00:00.500")]
    assert frame["source_row"].tolist() == [3, 4]


def test_formatted_time_is_converted_from_the_dashboard_time_zone(tmp_path):
    path = write(tmp_path, '"Time","v"\n2024-07-01 12:00:00,1\n')
    assert read_grafana_csv(path, timezone="Europe/Berlin")["timestamp"].iloc[0] == utc("2024-07-01 10:00:00")
    assert read_grafana_csv(path)["timestamp"].iloc[0] == utc("2024-07-01 12:00:00")


def test_legacy_long_series_time_value_with_undefined(tmp_path):
    text = (
        'sep=;\r\n"Series";"Time";"Value"\r\n'
        '"temp";"2019-01-01T10:00:00+01:00";1.5\r\n'
        '"temp";"2019-01-01T10:01:00+01:00";undefined\r\n'
        '"hum";"2019-01-01T10:00:00+01:00";40\r\n'
        '"hum";"2019-01-01T10:02:00+01:00";41\r\n'
    )
    frame = read_grafana_csv(write(tmp_path, text, name="grafana_data_export.csv"), timezone="Asia/Tokyo")
    assert list(frame.columns) == ["timestamp", "temp", "hum", "source_file", "source_row"]
    assert frame["timestamp"].tolist() == [utc("2019-01-01 09:00"), utc("2019-01-01 09:01"), utc("2019-01-01 09:02")]
    np.testing.assert_array_equal(frame["temp"], [1.5, np.nan, np.nan])
    np.testing.assert_array_equal(frame["hum"], [40.0, np.nan, 41.0])
    assert frame["source_row"].tolist() == [3, 4, 6]


def test_legacy_wide_time_alias_semicolons(tmp_path):
    text = '"Time";"a";"b"\r\n"2019-01-01T10:00:00+01:00";1;undefined\r\n"2019-01-01T10:01:00+01:00";null;2\r\n'
    frame = read_grafana_csv(write(tmp_path, text))
    np.testing.assert_array_equal(frame["a"], [1.0, np.nan])
    np.testing.assert_array_equal(frame["b"], [np.nan, 2.0])
    assert frame["timestamp"].iloc[0] == utc("2019-01-01 09:00")


def test_prefix_changes_within_a_column(tmp_path):
    text = '"Time","I"\n2024-01-01 00:00:00,12 µA\n2024-01-01 00:00:01,850 mA\n2024-01-01 00:00:02,1.50 A\n2024-01-01 00:00:03,3 uA\n'
    frame = read_grafana_csv(write(tmp_path, text))
    assert frame["I"].tolist() == pytest.approx([12e-6, 0.85, 1.5, 3e-6], rel=1e-12)


def test_value_mapping_text_names_file_line_and_column(tmp_path):
    path = write(tmp_path, '"Time","Valve","Flow"\n2024-01-01 00:00:00,1,2 L\n2024-01-01 00:01:00,Open,3 L\n')
    with pytest.raises(SourceFormatError) as err:
        read_grafana_csv(path)
    message = str(err.value)
    assert str(path) in message and "line 3" in message and "'Valve'" in message and "'Open'" in message


def test_mixed_incompatible_units_name_file_line_and_column(tmp_path):
    path = write(tmp_path, '"Time","x"\n2024-01-01 00:00:00,1 V\n2024-01-01 00:01:00,2 mV\n2024-01-01 00:02:00,3 A\n')
    with pytest.raises(SourceFormatError, match=r"line 4, column 'x': '3 A' is in 'A' but the column started in 'V'") as err:
        read_grafana_csv(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Date","v"\n2024-01-01 00:00:00,1\n', "no 'Time' column"),
        ('"Time","v"\n2024-01-01 00:00:00,1\nyesterday,2\n', "line 3, column 'Time': 'yesterday' is not a time stamp"),
        ('"Time","v"\n2024-01-01 00:00:00,1\n,2\n', "line 3, column 'Time': '' is an empty time stamp"),
        ('"Time","v"\n2024-01-01 00:00:00,1,7\n', "line 2 has 3 cells, the header has 2"),
        ("", "no header row"),
    ],
)
def test_format_errors_name_the_file_and_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(SourceFormatError, match=expected) as err:
        read_grafana_csv(path)
    assert str(path) in str(err.value)


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes('"Time","T (°C)"\n'.encode("latin-1"))
    with pytest.raises(SourceFormatError, match="not UTF-8 or UTF-16"):
        read_grafana_csv(path)


def test_header_only_gives_an_empty_frame(tmp_path):
    frame = read_grafana_csv(write(tmp_path, '"Time","v"\r\n'))
    assert list(frame.columns) == ["timestamp", "v", "source_file", "source_row"] and frame.empty
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_unique_names_suffixes_repeats_and_metadata_names():
    assert unique_names(["a", "a", "b", "a", "timestamp"]) == ["a", "a__2", "b", "a__3", "timestamp__2"]
    assert unique_names(["a", "a__2", "a"]) == ["a", "a__2", "a__3"]


@pytest.fixture
def duplicated() -> pd.DataFrame:
    t = pd.to_datetime(["2024-01-01 00:00:01", "2024-01-01 00:00:00", "2024-01-01 00:00:01", "2024-01-01 00:00:01"], utc=True)
    return pd.DataFrame({
        "timestamp": t.astype("datetime64[ns, UTC]"),
        "a": [1.0, 5.0, np.nan, 3.0],
        "b": [np.nan, 6.0, 2.0, 4.0],
        "label": np.array([0, 0, 1, 0], dtype="int8"),
        "source_file": "f.csv",
        "source_row": np.array([2, 3, 4, 5], dtype="int64"),
    })


@pytest.mark.parametrize(("rule", "a", "b"), [("mean", 2.0, 3.0), ("first", 1.0, 2.0), ("last", 3.0, 4.0)])
def test_duplicate_timestamp_rules(duplicated, rule, a, b):
    out = resolve_duplicate_timestamps(duplicated, rule)
    assert list(out.columns) == list(duplicated.columns)
    assert out["timestamp"].tolist() == [utc("2024-01-01 00:00:00"), utc("2024-01-01 00:00:01")]
    assert out.loc[0, ["a", "b"]].tolist() == [5.0, 6.0]
    assert out.loc[1, ["a", "b"]].tolist() == [a, b]
    assert out["source_row"].tolist() == [3, 2]  # the first row of each timestamp
    assert out["label"].tolist() == [0, 1]
    assert out.dtypes.astype(str).tolist() == ["datetime64[ns, UTC]", "float64", "float64", "int8", "str", "int64"]


def test_default_rule_is_mean_and_unknown_rule_is_rejected(duplicated):
    assert resolve_duplicate_timestamps(duplicated).loc[1, "a"] == 2.0
    with pytest.raises(ValueError, match="'median'"):
        resolve_duplicate_timestamps(duplicated, "median")


def test_dst_fall_back_repeats_are_resolved_by_order_and_bad_zone_is_reported(tmp_path):
    text = '"Time","v"\n' + "".join(f"2024-10-27 {t},1\n" for t in ("01:30:00", "02:30:00", "02:30:00", "03:30:00"))
    path = write(tmp_path, text)
    times = read_grafana_csv(path, timezone="Europe/Berlin")["timestamp"]
    assert times.tolist() == [utc("2024-10-26 23:30"), utc("2024-10-27 00:30"), utc("2024-10-27 01:30"), utc("2024-10-27 02:30")]
    with pytest.raises(SourceFormatError, match="time zone 'Mars/Olympus'"):
        read_grafana_csv(path, timezone="Mars/Olympus")
