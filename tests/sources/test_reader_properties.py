"""Property tests (Hypothesis) of the export readers and the request parser: arbitrary
bytes, cells and shapes give a correct frame or a one-line error naming the file, row or
column; never a traceback, never a silently changed value."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from components.registry.request import InvalidRequest, parse_request
from components.sources.errors import MAX_MESSAGE_CHARACTERS, SourceFormatError
from components.sources.grafana_csv import read_grafana_csv
from components.sources.plain_csv import read_plain_csv

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUND = MAX_MESSAGE_CHARACTERS + 100


_FILES = Path(tempfile.mkdtemp(prefix="anomflow-property-"))


@pytest.fixture(scope="module", autouse=True)
def _remove_the_files():
    """Hypothesis runs each test many times outside pytest's tmp_path: its files go to one
    folder, removed after the module."""
    yield
    shutil.rmtree(_FILES, ignore_errors=True)


def _in_file(content: bytes, name: str = "export.csv") -> Path:
    folder = Path(tempfile.mkdtemp(dir=_FILES))
    path = folder / name
    path.write_bytes(content)
    return path


def _assert_one_line_naming(error: Exception, where: str) -> None:
    message = str(error)
    assert "\n" not in message and len(message) < BOUND, message[:300]
    assert where in message, message[:300]


def _read_or_refuse(read, path: Path) -> pd.DataFrame | None:
    try:
        return read(path)
    except SourceFormatError as error:
        _assert_one_line_naming(error, str(path))
        return None


_CSVISH = st.lists(
    st.sampled_from(["Time", "time", "timestamp", "x", "1767225600000", "2026-01-01T00:00:00Z", "0,5", "1.5", "Infinity",
                     "", '"', "a;b", "\t", ",", ";", "\n", "\r\n", "sep=;", "\ufeff", "\x00", "1e400", "-", "12 mA", "GiB"]),
    max_size=40,
).map(lambda parts: "".join(parts).encode())


_LONG_CELLS = st.builds(
    lambda header, filler, length, tail: f"{header}\n1767225600000,{filler * length}{tail}\n".encode(),
    st.sampled_from(["Time,x", "timestamp,x", "Time;x"]), st.sampled_from(["9", "x", '"', ",", ";", "1,"]),
    st.integers(min_value=0, max_value=200_000), st.sampled_from(["", ",1", "\n1767225660000,2"]),
)


@PROPERTY
@given(content=st.one_of(st.binary(max_size=600), _CSVISH, _LONG_CELLS))
@example(content=b'"Time\nTime",x\n1,2\n')  # a quoted header name with a line break, once quoted raw in a hint
def test_arbitrary_bytes_give_a_frame_or_a_one_line_error(content):
    path = _in_file(content)
    for read in (read_grafana_csv, lambda p: read_plain_csv(p, delimiter=";"), lambda p: read_plain_csv(p, delimiter=",")):
        frame = _read_or_refuse(read, path)
        if frame is not None:
            assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
            assert len(frame) == len(frame["source_row"].unique())


_VALUES = st.floats(allow_nan=False, allow_infinity=True, width=64)


def _written(value: float, style: str) -> str:
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    return text.replace(".", ",") if style == "decimal comma" else text


@PROPERTY
@given(
    values=st.lists(_VALUES, min_size=1, max_size=30),
    delimiter=st.sampled_from([",", ";", "\t"]),
    decimal_comma=st.booleans(),
)
def test_numbers_read_back_exactly_as_written(values, delimiter, decimal_comma):
    style = "decimal comma" if decimal_comma and delimiter == ";" else "point"
    rows = "".join(f"{1767225600000 + 60_000 * i}{delimiter}{_written(v, style)}\n" for i, v in enumerate(values))
    path = _in_file(f"timestamp{delimiter}x\n{rows}".encode())
    read = read_plain_csv(path, delimiter=delimiter)["x"].to_numpy()
    np.testing.assert_array_equal(read, np.asarray(values, dtype="float64"))


@PROPERTY
@given(values=st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), min_size=1, max_size=20))
def test_thousands_separators_read_back_exactly(values):
    rows = "".join(f'{1767225600000 + 60_000 * i},"{v:,.3f} W"\n' for i, v in enumerate(values))
    path = _in_file(f"Time,power\n{rows}".encode())
    read = read_grafana_csv(path)["power"].to_numpy()
    np.testing.assert_array_equal(read, np.asarray([float(f"{v:.3f}") for v in values]))


SENSORS = ["current", "flow"]
_CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=12),
    st.sampled_from(["1.5", "NaN", "Infinity", "2026-01-01T00:00:00Z", "", "true"]),
    st.lists(st.integers(), max_size=2),
)
_NAMES = st.sampled_from(["timestamp", "asset", "current", "flow", "pressure", "{\"dataframe_split\": {", ""])


@st.composite
def _requests(draw) -> pd.DataFrame:
    """Mostly the columns a request needs (so the cells' checks are reached), sometimes
    any names, repeated or missing."""
    needed = ["timestamp", "current", "flow"] + draw(st.lists(_NAMES, max_size=1))
    names = draw(st.one_of(st.permutations(needed), st.lists(_NAMES, min_size=0, max_size=5)))
    rows = draw(st.integers(min_value=0, max_value=6))
    columns = []
    for name in names:
        if name == "timestamp" and draw(st.booleans()):
            start = draw(st.integers(min_value=0, max_value=3))
            columns.append([f"2026-01-01T00:0{start + i}:00Z" if i < 10 - start else "bad" for i in range(rows)])
        else:
            columns.append([draw(_CELLS) for _ in range(rows)])
    return pd.DataFrame(dict(zip(range(len(names)), columns))).set_axis(names, axis=1) if names else pd.DataFrame()


def _expected_float(cell) -> float:
    if cell is None or (isinstance(cell, str) and cell in ("", "NaN")):
        return math.nan
    return float(cell)


@PROPERTY
@given(frame=_requests())
def test_the_request_parser_gives_typed_readings_or_one_line_refusal(frame):
    try:
        parsed = parse_request(frame, SENSORS)
    except InvalidRequest as error:
        message = str(error)
        assert "\n" not in message and len(message) < BOUND
        return
    assert list(parsed.columns) == ["timestamp", "asset", *SENSORS]
    for sensor in SENSORS:
        sent = frame[sensor].tolist()
        assert not any(isinstance(cell, bool) for cell in sent)  # a boolean is never read as 0/1
        np.testing.assert_array_equal(parsed[sensor].to_numpy(), np.asarray([_expected_float(c) for c in sent], dtype="float64"))


@pytest.mark.parametrize("cell", [True, "x" * 50_000_000])
def test_a_boolean_or_a_huge_cell_is_refused_in_a_short_message(cell):
    frame = pd.DataFrame({"timestamp": ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"], "current": [1.0, cell], "flow": [1.0, 2.0]})
    with pytest.raises(InvalidRequest, match=r"column 'current' row 1") as caught:
        parse_request(frame, SENSORS)
    assert len(str(caught.value)) < 300
