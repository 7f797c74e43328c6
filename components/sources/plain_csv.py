"""Reader for plain delimited files (one row per time stamp), e.g. SKAB.

Output has the shape of :func:`components.sources.grafana_csv.read_grafana_csv`:
``timestamp`` (``datetime64[ns, UTC]``), one ``float64`` column per remaining column (unit
suffixes, if any, normalised as in :mod:`components.sources.units`), ``label`` (``int8``
0/1, only with ``label_column``), ``source_file`` (``str``) and ``source_row`` (``int64``,
1-based line number). Rows stay in file order; duplicate timestamps are kept (see
:func:`~components.sources.grafana_csv.resolve_duplicate_timestamps`); duplicate column
names get ``__2``, ``__3`` ….

- ``timestamp_format``: a ``strptime`` format; ``None`` accepts ISO 8601 or, when every
  cell is an integer, epoch milliseconds. Times without an offset are in ``timezone``.
- ``label_column``: 0/1 values (``0.0``/``1.0`` accepted). A file that lacks the column
  gets ``label`` 0 everywhere (SKAB's ``anomaly-free.csv`` has no ``anomaly`` column).
- ``drop_columns``: dropped where present (SKAB's ``changepoint``; absent in
  ``anomaly-free.csv``).
- ``asset_column``: a file with several assets (a historian's long export): that column's
  text becomes ``asset`` (stripped; an empty cell is an error naming its line).

SKAB: ``read_plain_csv(p, delimiter=";", timestamp_column="datetime",
label_column="anomaly", drop_columns=("changepoint",))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from components.frames import ASSET, LABEL, SOURCE_FILE, SOURCE_ROW, TIMESTAMP
from components.sources.errors import SourceFormatError, shown
from components.sources.grafana_csv import parse_timestamps, read_cells, unique_names
from components.sources.units import parse_values


def _labels(cells: pd.Series, *, file: str, column: str, lines: np.ndarray) -> np.ndarray:
    values = parse_values(cells, file=file, column=column, lines=lines).values
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        at = int(np.argmax(bad))
        raise SourceFormatError(f"{file}: line {lines[at]}, column {column!r}: label {shown(cells.iloc[at])} is not 0 or 1")
    return values.astype("int8")


def _assets(cells: pd.DataFrame, names: list[str], column: str, *, file: str, lines: np.ndarray) -> dict[str, object]:
    """``{ASSET: names}`` from the asset column's cells."""
    if column not in names:
        raise SourceFormatError(f"{file}: no asset column {column!r} in the header {names!r}")
    assets = cells[names.index(column)].str.strip()
    empty = (assets == "").to_numpy()
    if empty.any():
        raise SourceFormatError(f"{file}: line {lines[int(np.argmax(empty))]}, column {column!r}: no asset name")
    return {ASSET: assets.array}


def _header_hint(names: list[str], delimiter: str) -> str:
    """What to set in the source when the time column is not where it was looked for."""
    if len(names) == 1:
        other = next((d for d in (";", "\t", "|", ",") if d != delimiter and d in names[0]), None)
        if other is not None:
            return f"; the header is one column: set the source's delimiter: {other!r}"
    times = [n for n in names if any(word in n.lower() for word in ("time", "date"))]
    return f"; set the source's timestamp_column: {shown(times[0])}" if times else ""


def read_plain_csv(
    path: str | Path,
    *,
    delimiter: str = ",",
    timestamp_column: str = "timestamp",
    timestamp_format: str | None = None,
    timezone: str = "UTC",
    label_column: str | None = None,
    drop_columns: Sequence[str] = (),
    asset_column: str | None = None,
    after: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Read one plain CSV file into the wide reader frame (see the module docstring);
    ``after`` as in :func:`~components.sources.grafana_csv.read_grafana_csv`."""
    path = Path(path)
    file = str(path)
    table = read_cells(path, delimiter=delimiter)
    names = [name.strip() for name in table.header]
    if timestamp_column not in names:
        raise SourceFormatError(
            f"{file}: no timestamp column {timestamp_column!r} in the header {names!r}{_header_hint(names, delimiter)}"
        )
    lines = table.lines
    at = names.index(timestamp_column)
    columns: dict[str, object] = {
        TIMESTAMP: parse_timestamps(
            table.cells[at], file=file, lines=lines, column=timestamp_column, timezone=timezone, fmt=timestamp_format,
            after=after,
        ).array
    }
    columns.update(_assets(table.cells, names, asset_column, file=file, lines=lines) if asset_column else {})
    skip = {timestamp_column, label_column, asset_column, *drop_columns}
    positions = [i for i, name in enumerate(names) if name not in skip]
    for name, i in zip(unique_names(names[i] for i in positions), positions):
        columns[name] = parse_values(
            table.cells[i], file=file, column=name, lines=lines, decimal_comma=table.decimal_comma
        ).values
    frame = pd.DataFrame(columns)
    if label_column is not None:
        frame[LABEL] = (
            _labels(table.cells[names.index(label_column)], file=file, column=label_column, lines=lines)
            if label_column in names
            else np.zeros(len(frame), dtype="int8")
        )
    frame[SOURCE_FILE] = pd.Series([file] * len(frame), dtype="str", index=frame.index)
    frame[SOURCE_ROW] = lines
    return frame
