"""Grafana value cells → floats in base units.

A *formatted* Grafana export writes each value as display text: number, optional space,
unit suffix (``0.703%``, ``4.4 V``, ``38.9 GiB``, ``23.5 kb/s``, ``850 mA``,
``"1,234.5 W"``). The prefix can change from row to row (``µA``/``mA``/``A``). A *raw*
export writes plain JS numbers (``0.0034000000000000015``, ``1e-7``, ``Infinity``).

:func:`parse_values` turns a whole column (a ``pandas.Series`` of ``str``, one cell per
row) into a ``float64`` array of the same length, scaled to the base unit, plus that base
unit's name:

- SI prefixes (``p n µ/μ/u m k M G T P``, and ``h`` as in ``hPa``) on ``A V W Wh VA var
  Hz Pa bar Ω F J N g m s`` scale to the bare unit: ``850 mA`` → ``0.85`` (``"A"``).
- Bytes → ``"bytes"``: IEC ``KiB MiB GiB TiB PiB`` (×2^10n) and SI ``kB MB GB TB PB``
  (×10^3n). Byte rates (``B/s``, ``KiB/s``, ``MB/s`` …) → ``"bytes/s"``. Bits ``b kb Mb
  Gb Tb`` → ``"bits"``; bit rates ``b/s kb/s Mb/s`` … → ``"b/s"`` (SI).
- Time → ``"s"``: ``ns µs ms s min hour h day d week w year`` (a year is 365 days, as
  Grafana counts).
- Words: ``Volts``/``Volt`` → ``"V"``, ``Amps``/``Amp``/``Amperes`` → ``"A"``,
  ``Watts``/``Watt`` → ``"W"``, ``RPM`` → ``"rpm"``, ``℃`` → ``"°C"``.
- ``%`` keeps the number shown (``0.703%`` → ``0.703``); ``°C``, ``°F`` likewise.
- Grafana's ``short`` scale (``1.2 K``, ``3 Mil``, ``2 Bil``, ``1 Tri``) → unit ``""``.
  A bare ``K`` is kelvin unless the column also holds bare numbers or ``Mil``/``Bil``/…,
  in which case it is the short-scale thousand.
- Any other suffix (``km/h``, ``deg/s``, ``°``) is kept as its own unit, factor 1, when a
  space separates it from the number (``0xCC`` is text, not 0 in unit ``xCC``).
- Bare numbers have unit ``""``. ``1,234.5`` and ``12,345,678`` (thousands commas) are
  1234.5 and 12345678. In a decimal-comma export (``decimal_comma=True``: the readers set
  it for ``;``-separated files, the European spreadsheet convention) a number with one
  comma and no dot after it has a decimal comma: ``0,809`` is 0.809, ``1.234,5`` is
  1234.5, ``23,7 A`` is 23.7 A; elsewhere ``0,809`` is refused (it is no thousands
  notation) with a message that says so. A dot is always a decimal point (``0.809``, as
  raw exports write numbers).
- Empty cells, ``undefined``, ``null`` and ``NaN`` are NaN; ``Infinity`` is ±inf (in any
  column's unit), and so is a number beyond float range (``1e400``): the readers keep
  such readings as they are, validation quarantines them and scoring reports them
  (docs/architecture.md §5).

All non-missing cells of one column must share one base unit; otherwise, and for text
that is not a number with an optional unit (a value mapping such as ``Open``), a
:class:`~components.sources.errors.SourceFormatError` names the file, the column, the
1-based line number and the offending text. The work is vectorised: one
``pandas.to_numeric`` pass for plain numbers, one regex extraction for the rest, and a
unit lookup per *distinct* suffix, not per cell.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from components.sources.errors import SourceFormatError, shown

MISSING_TOKENS = ("", "undefined", "null", "NaN", "nan")

# number, optional space, unit that does not start with a digit, sign, dot or comma; an
# unknown unit must be separated by a space ("0xCC")
_CELL = r"^(?P<num>[+-]?(?=\.?\d)\d*(?:\.\d*)?(?:[eE][+-]?\d+)?)(?P<space>\s*)(?P<unit>[^\d\s.,+\-].*)?$"
# a number with thousands commas (1,234.5; 12,345,678 W) and, in a decimal-comma export,
# one with a decimal comma and optional thousands dots (0,809; 1.234,5 kW)
_THOUSANDS_COMMAS = r"^(?P<sign>[+-]?)(?P<int>[1-9]\d{0,2}(?:,\d{3})+)(?P<rest>(?:\.\d*)?(?:[^\d,.].*)?)$"
_DECIMAL_COMMA = r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:\.\d{3})+|\d*),(?P<frac>\d+)(?P<rest>[^\d,.].*)?$"

_SI_PREFIXES = {
    "p": 1e-12, "n": 1e-9, "µ": 1e-6, "μ": 1e-6, "u": 1e-6, "m": 1e-3,
    "h": 1e2, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
}
_SI_BASES = ("A", "V", "W", "Wh", "VA", "var", "Hz", "Pa", "bar", "Ω", "F", "J", "N", "g", "m", "s")
_SHORT_SCALE = {"Mil": 1e6, "Bil": 1e9, "Tri": 1e12, "Quadr": 1e15, "Quint": 1e18, "Sext": 1e21, "Sept": 1e24}


def _unit_table() -> dict[str, tuple[str, float]]:
    """Suffix → (base unit, factor to base)."""
    table: dict[str, tuple[str, float]] = {}
    for base in _SI_BASES:
        table[base] = (base, 1.0)
        for prefix, factor in _SI_PREFIXES.items():
            table[prefix + base] = (base, factor)
    for power, (iec, si) in enumerate((("", ""), ("Ki", "k"), ("Mi", "M"), ("Gi", "G"), ("Ti", "T"), ("Pi", "P"))):
        table[f"{iec}B"] = ("bytes", 1024.0**power)
        table[f"{si}B"] = ("bytes", 1000.0**power)
        table[f"{iec}B/s"] = ("bytes/s", 1024.0**power)
        table[f"{si}B/s"] = ("bytes/s", 1000.0**power)
        table[f"{si}b"] = ("bits", 1000.0**power)
        table[f"{si}b/s"] = ("b/s", 1000.0**power)
    table.update({
        "min": ("s", 60.0), "hour": ("s", 3600.0), "h": ("s", 3600.0), "day": ("s", 86400.0),
        "d": ("s", 86400.0), "week": ("s", 604800.0), "w": ("s", 604800.0), "year": ("s", 31536000.0),
        "Volts": ("V", 1.0), "Volt": ("V", 1.0), "Amps": ("A", 1.0), "Amp": ("A", 1.0),
        "Amperes": ("A", 1.0), "Watts": ("W", 1.0), "Watt": ("W", 1.0), "RPM": ("rpm", 1.0),
        "rpm": ("rpm", 1.0), "℃": ("°C", 1.0), "%": ("%", 1.0), "K": ("K", 1.0),
    })
    table.update({name: ("", factor) for name, factor in _SHORT_SCALE.items()})
    return table


UNITS: dict[str, tuple[str, float]] = _unit_table()


class ParsedValues(NamedTuple):
    """One parsed column: ``values`` float64, shape ``(n,)``, in ``unit`` (``""`` = none)."""

    values: np.ndarray
    unit: str


def _lookup(suffixes: list[str]) -> dict[str, tuple[str, float]]:
    """Base unit and factor for each distinct suffix of one column."""
    found = {s: UNITS.get(s, (s, 1.0)) for s in suffixes}
    if "K" in found and any(s == "" or s in _SHORT_SCALE for s in found):
        found["K"] = ("", 1e3)
    return found


def _dot_decimals(text: pd.Series, decimal_comma: bool) -> pd.Series:
    """``text`` with every number written with commas rewritten as a plain dot-decimal
    number (its unit kept): thousands commas dropped and, with ``decimal_comma``, a single
    comma with no dot after it read as the decimal mark. Cells that fit neither stay as
    they are (and are refused by the caller)."""
    commas = text.str.contains(",", regex=False).to_numpy()
    if not commas.any():
        return text
    part = text[commas]
    rewritten = part.str.replace(
        _THOUSANDS_COMMAS, lambda m: m["sign"] + m["int"].replace(",", "") + m["rest"], regex=True
    )
    if decimal_comma:
        single = (part.str.count(",") == 1) & ~part.str.contains(r",[^.]*\.", regex=True)
        rewritten[single] = part[single].str.replace(
            _DECIMAL_COMMA,
            lambda m: m["sign"] + m["int"].replace(".", "") + "." + m["frac"] + (m["rest"] or ""),
            regex=True,
        )
    text = text.copy()
    text[commas] = rewritten
    return text


def parse_values(
    cells: pd.Series, *, file: str, column: str, lines: np.ndarray, decimal_comma: bool = False
) -> ParsedValues:
    """Parse one column of value cells.

    ``cells``: strings (or NaN), shape ``(n,)``; ``lines``: the 1-based line number of
    each cell in ``file``, shape ``(n,)``, used only in error messages;
    ``decimal_comma``: read ``0,809`` as 0.809 (see the module docstring).
    """
    written = cells.astype("str").str.strip().where(cells.notna(), "")
    text = _dot_decimals(written, decimal_comma)
    missing = text.isin(MISSING_TOKENS).to_numpy()
    values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
    suffix = np.full(len(text), "", dtype=object)
    todo = np.isnan(values) & ~missing
    if todo.any():
        parts = text[todo].str.extract(_CELL)
        glued = (parts["space"] == "") & parts["unit"].notna() & ~parts["unit"].isin(list(UNITS))
        bad = (parts["num"].isna() | glued).to_numpy()
        if bad.any():
            at = np.flatnonzero(todo)[np.argmax(bad)]
            hint = (
                "a decimal comma? only ';'-separated exports are read with decimal commas"
                if "," in written.iloc[at] and not decimal_comma
                else "a value mapping or text?"
            )
            raise SourceFormatError(
                f"{file}: line {lines[at]}, column {column!r}: {shown(written.iloc[at])} is not a number "
                f"with an optional unit ({hint})"
            )
        values[todo] = parts["num"].astype("float64").to_numpy()
        suffix[todo] = parts["unit"].fillna("").to_numpy(dtype=object)
    present = ~missing & ~(np.isinf(values) & ~todo)  # a bare "Infinity" fits any unit
    if not present.any():
        return ParsedValues(values, "")
    distinct = list(dict.fromkeys(suffix[present]))
    table = _lookup(distinct)
    bases = {table[s][0] for s in distinct}
    if len(bases) > 1:
        first = table[distinct[0]][0]
        base_of = pd.Series(suffix).map({s: base for s, (base, _) in table.items()})
        at = int(np.argmax((base_of != first).to_numpy() & present))
        raise SourceFormatError(
            f"{file}: line {lines[at]}, column {column!r}: {shown(written.iloc[at])} is in "
            f"{table[suffix[at]][0] or 'no unit'!r} but the column started in {first or 'no unit'!r}"
        )
    if len(distinct) > 1 or table[distinct[0]][1] != 1.0:
        factors = pd.Series(suffix).map({s: f for s, (_, f) in table.items()}).to_numpy(dtype="float64", na_value=1.0)
        # divide by 1000 rather than multiply by 0.001: 850 mA → 0.85 exactly
        divisors = np.round(1.0 / np.minimum(factors, 1.0))
        values = np.where(factors >= 1.0, values * factors, values / divisors)
    return ParsedValues(values, bases.pop())
