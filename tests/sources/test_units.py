"""Formatted Grafana value cells → floats in base units."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from components.sources.errors import SourceFormatError
from components.sources.units import parse_values


def parse(cells: list[str | None]):
    return parse_values(pd.Series(cells, dtype="object"), file="f.csv", column="c", lines=np.arange(2, len(cells) + 2))


@pytest.mark.parametrize(
    ("cells", "values", "unit"),
    [
        (["0.703%", "94.7%", "0%"], [0.703, 94.7, 0.0], "%"),
        (["38.9 GiB", "512 MiB", "2 KiB", "0 B"], [38.9 * 2**30, 512 * 2**20, 2048.0, 0.0], "bytes"),
        (["1.5 kB", "2 MB", "3 GB"], [1500.0, 2e6, 3e9], "bytes"),
        (["2 MiB/s", "1 kB/s"], [2 * 2**20, 1000.0], "bytes/s"),
        (["23.5 kb/s", "1 Mb/s", "0 b/s"], [23500.0, 1e6, 0.0], "b/s"),
        (["850 mA", "12 µA", "3 μA", "7 uA", "1.5 A"], [0.85, 12e-6, 3e-6, 7e-6, 1.5], "A"),
        (["0.0400 Volts", "4.4 V", "1.2 kV", "350 mV"], [0.04, 4.4, 1200.0, 0.35], "V"),
        (["0 Amps", "2 A"], [0.0, 2.0], "A"),
        (["1.5 MW", "20 kW", "3 W"], [1.5e6, 2e4, 3.0], "W"),
        (["50 Hz", "1 kHz"], [50.0, 1000.0], "Hz"),
        (["1013 hPa", "1.2 kPa", "5 Pa"], [101300.0, 1200.0, 5.0], "Pa"),
        (["980 mbar", "1.2 bar"], [0.98, 1.2], "bar"),
        (["26 °C", "-3.5 °C", "20 ℃"], [26.0, -3.5, 20.0], "°C"),
        (["1500 rpm", "20 RPM"], [1500.0, 20.0], "rpm"),
        (["250 ms", "1.5 s", "2 min", "1 hour", "1 day", "1 week"], [0.25, 1.5, 120.0, 3600.0, 86400.0, 604800.0], "s"),
        (["1,234.5 W", "12,345,678 W"], [1234.5, 12345678.0], "W"),
        (["950", "1.2 K", "3 Mil", "2 Bil"], [950.0, 1200.0, 3e6, 2e9], ""),
        (["293 K", "300 K"], [293.0, 300.0], "K"),
        (["12 km/h", "3 km/h"], [12.0, 3.0], "km/h"),
        (["0.0034000000000000015", "1e-7", "-2", ".5"], [0.0034000000000000015, 1e-7, -2.0, 0.5], ""),
    ],
)
def test_units_are_normalised_to_base(cells, values, unit):
    parsed = parse(cells)
    assert parsed.unit == unit
    assert parsed.values.dtype == np.float64
    assert parsed.values.tolist() == pytest.approx(values, rel=1e-12)


def test_missing_and_infinite():
    parsed = parse(["", None, "undefined", "null", "NaN", "Infinity", "-Infinity", " 4 V "])
    assert parsed.unit == "V"
    np.testing.assert_array_equal(parsed.values, [np.nan] * 5 + [np.inf, -np.inf, 4.0])
    assert parse(["", "undefined"]).unit == ""


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["1 V", "Open"], r"f.csv: line 3, column 'c': 'Open' is not a number"),
        (["0xCC"], r"line 2, column 'c': '0xCC' is not a number"),
        (["1 V", "2 V", "3 A"], r"line 4, column 'c': '3 A' is in 'A' but the column started in 'V'"),
        (["1 GiB", "5"], r"line 3, column 'c': '5' is in 'no unit' but the column started in 'bytes'"),
        (["1.2.3 V"], r"'1.2.3 V' is not a number"),
    ],
)
def test_text_and_mixed_units_raise_with_location(cells, message):
    with pytest.raises(SourceFormatError, match=message):
        parse(cells)


def test_vectorised_on_a_large_column():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 900, 40_000)
    cells = pd.Series([f"{x:.1f} mA" if x < 800 else f"{x / 1000:.3f} A" for x in raw])
    start = time.perf_counter()
    parsed = parse_values(cells, file="f", column="c", lines=np.arange(len(cells)))
    assert time.perf_counter() - start < 2.0
    assert parsed.unit == "A"
    np.testing.assert_allclose(parsed.values, raw / 1000, atol=1e-3)
