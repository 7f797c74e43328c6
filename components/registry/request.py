"""Checks on a scoring request (raw readings) with messages a client can act on.

Rows are named by their position in the request, counting from 0 (the index of the row
in ``dataframe_split``'s ``data`` or in ``dataframe_records``). A message quotes at most
a short piece of an offending value, never the whole of it. Readings are floats as sent:
a JSON ``null`` (or a key left out of a record) is a missing reading, ``Infinity`` or a
number beyond float range is an infinite one, and both are scored as the served model
documents (:mod:`components.registry.served_detector`); a boolean is refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.frames import ASSET, TIMESTAMP
from components.sources.errors import bounded, shown

DEFAULT_ASSET = "default"


class InvalidRequest(ValueError):
    """The request cannot be scored; the message (at most a couple of thousand characters)
    says what is wrong and where."""

    def __init__(self, message: str) -> None:
        super().__init__(bounded(str(message)))


def _parse_timestamps(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        parsed = pd.to_datetime(column, unit="ms", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(column, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidRequest(
            f"column 'timestamp' row {row}: cannot parse {shown(column.iloc[row])} as a time "
            f"(use ISO-8601, e.g. 2026-01-05T10:00:00Z, or epoch milliseconds); {int(bad.sum())} bad value(s)"
        )
    return parsed


def _parse_numeric(frame: pd.DataFrame, sensor: str) -> pd.Series:
    column = frame[sensor]
    if pd.api.types.is_bool_dtype(column):
        booleans = np.ones(len(column), dtype=bool)
    elif pd.api.types.is_object_dtype(column):  # JSON values of mixed types: look at each
        booleans = column.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    else:
        booleans = np.zeros(len(column), dtype=bool)
    if booleans.any():
        row = int(np.flatnonzero(booleans)[0])
        raise InvalidRequest(f"column '{sensor}' row {row}: {column.iloc[row]!r} is a boolean; send a number")
    values = pd.to_numeric(column, errors="coerce")
    bad = (values.isna() & column.notna() & ~column.isin(("NaN", "nan", ""))).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidRequest(
            f"column '{sensor}' row {row}: {shown(column.iloc[row])} is not a number; {int(bad.sum())} non-numeric value(s)"
        )
    return values.astype("float64")


def _check_columns(frame: pd.DataFrame, sensors: list[str]) -> None:
    """Raise unless the columns are the time stamp, optionally the asset, and the sensors, once each."""
    names = [str(c) for c in frame.columns]
    if names and names[0].lstrip().startswith(("{", "[")):
        raise InvalidRequest(
            "the body is JSON but was sent as CSV: send it with the header Content-Type: application/json"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidRequest(f"column(s) {repeated} appear more than once; send each column once")
    expected = {TIMESTAMP, ASSET, *sensors}
    missing = [c for c in [TIMESTAMP, *sensors] if c not in names]
    extra = [shown(c, 40) for c in names if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if extra:
            parts.append(f"unexpected column(s) [{', '.join(extra[:10])}{', …' if len(extra) > 10 else ''}]")
        raise InvalidRequest("; ".join(parts) + f". Expected: {[TIMESTAMP, ASSET + ' (optional)', *sensors]}")


def parse_request(frame: pd.DataFrame, sensors: list[str]) -> pd.DataFrame:
    """Validate raw readings and return them typed: timestamp (UTC), asset, sensors (float64).

    Raises :class:`InvalidRequest` for an empty request, missing, unexpected or repeated
    columns, a JSON body sent as CSV, non-numeric or boolean sensor values, unparseable
    time stamps, or time stamps that do not increase strictly within an asset.
    """
    if frame is not None and len(frame.columns):
        _check_columns(frame, sensors)
    if frame is None or len(frame.columns) == 0 or len(frame) == 0:
        raise InvalidRequest(
            f"the request holds no rows; send columns {[TIMESTAMP, ASSET, *sensors]} ('asset' optional) with at least one row"
        )
    out = pd.DataFrame({TIMESTAMP: _parse_timestamps(frame[TIMESTAMP])})
    out[ASSET] = frame[ASSET].astype("string").fillna(DEFAULT_ASSET).to_numpy() if ASSET in frame else DEFAULT_ASSET
    for sensor in sensors:
        out[sensor] = _parse_numeric(frame, sensor).to_numpy()
    for asset, part in out.groupby(ASSET, sort=False):
        steps = part[TIMESTAMP].diff().dt.total_seconds().to_numpy()[1:]
        if (steps <= 0).any():
            bad = int(part.index[1 + int(np.flatnonzero(steps <= 0)[0])])
            raise InvalidRequest(
                f"timestamps must increase strictly within each asset: asset {shown(asset, 40)} row {bad} "
                f"({out[TIMESTAMP].iloc[bad].isoformat()}) is not after the row before it"
            )
    return out


def check_sampling_interval(readings: pd.DataFrame, interval_s: float, max_gap_s: float, tolerance: float) -> None:
    """Raise :class:`InvalidRequest` if an asset's readings are not ``interval_s`` apart
    (median step between rows of a session, within ``tolerance`` of it, relative): the
    network learnt the dynamics of that step, and a Grafana export of a longer time range
    comes at a coarser one. ``readings``: as :func:`parse_request` returns them. An asset
    with fewer than three rows in sessions is not judged."""
    for asset, part in readings.groupby(ASSET, sort=False):
        steps = part[TIMESTAMP].diff().dt.total_seconds().to_numpy()[1:]
        steps = steps[steps <= max_gap_s]
        if len(steps) < 2:
            continue
        median = float(np.median(steps))
        if abs(median - interval_s) > tolerance * interval_s:
            raise InvalidRequest(
                f"asset {asset!r}: readings are {median:g} s apart (median), but the model scores readings every "
                f"{interval_s:g} s: resample them to {interval_s:g} s (a Grafana export of a longer time range "
                "comes at a coarser step: set the panel query's interval, or export a shorter range)"
            )
