"""Several exports scored together are joined on time as ingest joins one asset's files,
streamed, with errors that name the file and line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.scoring.batch import join_on_time
from components.sources.export_format import ExportFormat
from components.sources.errors import SourceFormatError


def _write(path, stamps: pd.DatetimeIndex, **columns) -> None:
    frame = pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), **columns})
    frame.to_csv(path, index=False)


def _minutes(start: int, count: int, step: int = 1) -> pd.DatetimeIndex:
    return pd.date_range("2026-01-01", periods=count, freq=f"{step}min", tz="UTC") + pd.Timedelta(minutes=start)


def _joined(paths, chunk_rows: int, duplicate_rule: str = "mean") -> pd.DataFrame:
    return pd.concat(list(join_on_time(paths, ExportFormat(delimiter=","), chunk_rows, duplicate_rule=duplicate_rule)), ignore_index=True)


@pytest.fixture
def panels(tmp_path):
    """An electrical panel every minute for 300 min, and a process panel every 2 min from
    minute 50 to 450 that repeats one time stamp and shares the column ``current``."""
    electrical, process = tmp_path / "electrical.csv", tmp_path / "process.csv"
    _write(electrical, _minutes(0, 300), current=np.arange(300.0), voltage=np.full(300, 230.0))
    stamps = _minutes(50, 200, step=2)
    stamps = stamps.insert(10, stamps[10])  # minute 70 twice: averaged
    flow = np.arange(201.0)
    _write(process, stamps, flow=flow, current=np.full(201, -1.0))
    return electrical, process


def test_panels_are_outer_joined_on_time_and_the_first_file_wins(panels):
    joined = _joined(panels, chunk_rows=10_000)
    expected_times = _minutes(0, 300).union(_minutes(50, 200, step=2))
    assert list(joined.columns) == ["timestamp", "current", "voltage", "flow"]
    assert joined["timestamp"].is_monotonic_increasing and len(joined) == len(expected_times)
    assert list(joined["timestamp"]) == list(expected_times)
    by_time = joined.set_index("timestamp")
    at = {m: _minutes(m, 1)[0] for m in (10, 70, 72, 100, 350)}
    assert by_time.loc[at[100], "current"] == 100.0  # both files have it: the first file given wins
    assert by_time.loc[at[350], "current"] == -1.0  # only the second file has this time
    assert np.isnan(by_time.loc[at[10], "flow"])
    assert by_time.loc[at[70], "flow"] == 10.5  # repeated time stamp: mean of 10 and 11
    assert by_time.loc[at[72], "flow"] == 12.0
    last = _joined(panels, chunk_rows=7, duplicate_rule="last").set_index("timestamp")
    assert last.loc[at[70], "flow"] == 11.0  # ingest's duplicate_rule, as configured


def test_streaming_in_small_chunks_gives_the_same_frame(panels):
    whole = _joined(panels, chunk_rows=10_000)
    for chunk_rows in (7, 31, 100):
        pd.testing.assert_frame_equal(_joined(panels, chunk_rows=chunk_rows), whole)
    assert max(len(part) for part in join_on_time(panels, ExportFormat(delimiter=","), 31)) <= 2 * 31


def test_a_file_out_of_time_order_is_named_with_its_line(panels, tmp_path):
    electrical, _ = panels
    lines = electrical.read_text().splitlines()
    lines[120], lines[121] = lines[121], lines[120]  # data lines 120 and 121 swapped: line 121 goes back in time
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceFormatError, match=r"shuffled\.csv: line 122: .*before the line above it.*time order"):
        _joined([shuffled, panels[1]], chunk_rows=40)
