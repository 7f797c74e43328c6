"""Reader for Grafana "Inspect > Data > Download CSV" exports (every known variant).

Variants handled (see ``shared/datasets/grafana/GRAFANA_CSV_FORMAT.md``):

- encoding: UTF-16 with BOM (Grafana ≥ 12 "Excel compatibility"), UTF-8 with or without
  BOM; an optional first line ``sep=<c>`` ("Download for Excel") sets the delimiter,
  otherwise ``,``/TAB/``;`` is sniffed from the header (outside quotes); CRLF or LF;
  trailing blank lines (and rows of only empty cells) are skipped;
- header: quoted names with doubled inner quotes (``"{pod=""x""}"``); names are stripped
  of surrounding spaces (sample 05 has ``"trans br01 "``);
- time column ``Time`` (any case, any position): epoch milliseconds (*Formatted data* off)
  or ``YYYY-MM-DD HH:mm:ss[.SSS]`` in the dashboard time zone (*Formatted data* on; pass
  ``timezone``), converted to UTC; text with an offset (legacy ``…T…+01:00``) is converted
  directly;
- values: formatted (``38.9 GiB``, ``0.703%``, ``850 mA``) or raw JS numbers, see
  :mod:`components.sources.units`; a blank cell, ``undefined`` or ``null`` is NaN;
- legacy graph-panel exports (Grafana ≤ 6): long ``Series;Time;Value`` (pivoted to one
  column per series) and wide ``Time;<alias>;…``.

Output (a wide frame, rows in file order):

- ``timestamp``: ``datetime64[ns, UTC]``;
- one ``float64`` column per series, in base units;
- ``source_file`` (``str``, the path) and ``source_row`` (``int64``, 1-based line number of
  the row in the file, counting the ``sep=`` line and the header).

Rules:

- **Duplicate column names** get ``__2``, ``__3`` … in order of appearance (the first keeps
  its name): sample 08's eight ``DayAhead2.last`` become ``DayAhead2.last``,
  ``DayAhead2.last__2`` … ``DayAhead2.last__8``. A name equal to a metadata column of the
  readings frame (``timestamp``, ``asset``, ``label``, ``source_file``, ``source_row``,
  ``session``) is suffixed the same way.
- **Duplicate timestamps** are all kept by the reader (Grafana's second-resolution format
  repeats times for sub-second points, sample 02; a legacy long file may repeat a
  series' time). :func:`resolve_duplicate_timestamps` collapses them to one row per
  timestamp; the ingest stage applies it per file/asset with the configured rule.

Errors are :class:`~components.sources.errors.SourceFormatError` naming the file and,
where it applies, the line and column: undecodable bytes, no ``Time`` column, a row with
the wrong number of cells, an empty or unparseable time, text in a value column, a
column mixing units.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from components.frames import ASSET, LABEL, META_COLUMNS, SOURCE_FILE, SOURCE_ROW, TIMESTAMP, sensor_columns
from components.sources.errors import SourceFormatError, shown
from components.sources.units import parse_values

DuplicateRule = Literal["mean", "first", "last"]

_SEP_LINE = re.compile(r"sep=(.)\r?")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_EPOCH_MS = r"-?\d+"
_WITH_OFFSET = r".*\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})"


class CsvCells(NamedTuple):
    """A delimited file as text cells.

    ``header``: the names as written (unquoted); ``cells``: ``str`` frame, shape
    ``(rows, len(header))``, columns ``0..k-1``; ``lines``: ``int64`` 1-based line number
    of each row, shape ``(rows,)``; ``delimiter``: the one the file was split by.
    """

    header: list[str]
    cells: pd.DataFrame
    lines: np.ndarray
    delimiter: str = ","

    @property
    def decimal_comma(self) -> bool:
        """Whether numbers are read with a decimal comma: ``;``-separated files (the
        spreadsheet convention of locales that write ``0,809``)."""
        return self.delimiter == ";"


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"{path}: not UTF-8 or UTF-16 text (byte {exc.start}: {exc.reason})") from None


def _sniff(header_line: str) -> str:
    """The most frequent of TAB, ``,`` and ``;`` outside quotes (``,`` if none)."""
    outside = _QUOTED.sub("", header_line)
    counts = {d: outside.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_cells(path: Path, *, delimiter: str | None = None) -> CsvCells:
    """Decode ``path`` and split it into cells, keeping each row's line number.

    ``delimiter=None`` takes it from a ``sep=<c>`` first line or sniffs the header. A
    ``sep=`` line is skipped in any case; blank rows are skipped.
    """
    text = _decode(path)
    lines_of_text = text.split("\n", 2)
    sep_line = _SEP_LINE.fullmatch(lines_of_text[0])
    if delimiter is None:
        header_line = lines_of_text[1] if sep_line and len(lines_of_text) > 1 else lines_of_text[0]
        delimiter = sep_line.group(1) if sep_line else _sniff(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    last = 0
    try:
        for row in reader:
            start, last = last + 1, reader.line_num
            if (start == 1 and sep_line) or not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
            elif len(row) != len(header):
                raise SourceFormatError(f"{path}: line {start} has {len(row)} cells, the header has {len(header)}")
            else:
                rows.append(row)
                lines.append(start)
    except csv.Error as exc:  # a cell over csv's field size limit (131,072 characters), a NUL byte
        raise SourceFormatError(f"{path}: line {last + 1}: {exc} (a damaged export?)") from None
    if header is None:
        raise SourceFormatError(f"{path}: no header row (empty file)")
    cells = pd.DataFrame(rows, columns=range(len(header)), dtype="str")
    return CsvCells(header, cells, np.asarray(lines, dtype="int64"), delimiter)


def unique_names(names: Iterable[str], reserved: Iterable[str] = META_COLUMNS) -> list[str]:
    """Suffix repeats with ``__2``, ``__3`` … in order of appearance (also names in ``reserved``)."""
    used = set(reserved)
    seen: dict[str, int] = {}
    out = []
    for name in names:
        candidate = name
        while candidate in used:
            seen[name] = seen.get(name, 1) + 1
            candidate = f"{name}__{seen[name]}"
        used.add(candidate)
        out.append(candidate)
    return out


def _fail_at(file: str, lines: np.ndarray, mask: np.ndarray, column: str, text: pd.Series, why: str) -> SourceFormatError:
    at = int(np.argmax(mask))
    return SourceFormatError(f"{file}: line {lines[at]}, column {column!r}: {shown(text.iloc[at])} {why}")


def parse_timestamps(
    cells: pd.Series, *, file: str, lines: np.ndarray, column: str, timezone: str = "UTC", fmt: str | None = None,
    after: pd.Timestamp | None = None,
) -> pd.Series:
    """Time cells → ``datetime64[ns, UTC]`` (same index as ``cells``).

    All-digit cells (with ``fmt=None``) are epoch milliseconds. Otherwise ``fmt`` (a
    ``strptime`` format) or ISO 8601 is parsed; text without an offset is wall time in
    ``timezone`` (DST fall-back repeats are placed by order: see :func:`_localize`;
    ``after``: the UTC time of the row before these, when they continue a file), text with
    one is converted directly. A column must not mix the two.
    """
    text = cells.astype("str").str.strip()
    blank = (text == "").to_numpy()
    if blank.any():
        raise _fail_at(file, lines, blank, column, text, "is an empty time stamp")
    if fmt is None and text.str.fullmatch(_EPOCH_MS).all():
        parsed = pd.to_datetime(text.astype("int64"), unit="ms", utc=True)
        return parsed.astype("datetime64[ns, UTC]")
    offset = text.str.fullmatch(_WITH_OFFSET).to_numpy()
    if offset.any() and not offset.all():
        raise _fail_at(file, lines, offset != offset[0], column, text, "mixes time stamps with and without UTC offset")
    with_offset = bool(offset.any())
    parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=with_offset)
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise _fail_at(file, lines, bad, column, text, f"is not a time stamp ({fmt or 'ISO 8601 / epoch ms'})")
    if not with_offset:
        try:
            parsed = _localize(parsed, timezone, after)
        except (ValueError, KeyError) as exc:
            raise SourceFormatError(
                f"{file}: column {column!r}: cannot place local times in time zone {timezone!r}: {exc}"
            ) from None
    return parsed.astype("datetime64[ns, UTC]")


def _localize(naive: pd.Series, timezone: str, after: pd.Timestamp | None) -> pd.Series:
    """Wall times in ``timezone`` → UTC. A wall time that DST's fall-back repeats is placed
    by order: without ``after``, pandas infers each from the repeat in these rows (an error
    if they hold none); with it (rows that continue a file read in pieces, whose repeat may
    lie in the piece before), each is its first pass unless that goes back before the row
    above it (or ``after``)."""
    if after is None:
        return naive.dt.tz_localize(timezone, ambiguous="infer", nonexistent="raise").dt.tz_convert("UTC")
    passes = [
        naive.dt.tz_localize(timezone, ambiguous=np.full(len(naive), dst), nonexistent="raise").dt.tz_convert("UTC")
        for dst in (True, False)
    ]
    first, second = (p.dt.tz_localize(None).to_numpy() for p in passes)
    placed = first.copy()
    start = np.datetime64(pd.Timestamp(after).tz_convert("UTC").tz_localize(None), "ns")
    for i in np.flatnonzero(first != second):  # at most an hour of rows a year
        placed[i] = first[i] if first[i] >= (placed[i - 1] if i else start) else second[i]
    return pd.Series(placed, index=naive.index).dt.tz_localize("UTC")


def _finish(columns: dict[str, object], file: str, lines: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame[SOURCE_FILE] = pd.Series([file] * len(frame), dtype="str", index=frame.index)
    frame[SOURCE_ROW] = np.asarray(lines, dtype="int64")
    return frame


def _read_wide(
    table: CsvCells, names: list[str], time_at: int, file: str, timezone: str, after: pd.Timestamp | None
) -> pd.DataFrame:
    lines = table.lines
    times = parse_timestamps(table.cells[time_at], file=file, lines=lines, column=names[time_at], timezone=timezone, after=after)
    columns: dict[str, object] = {TIMESTAMP: times.array}
    positions = [i for i in range(len(names)) if i != time_at]
    for name, i in zip(unique_names(names[i] for i in positions), positions):
        columns[name] = parse_values(
            table.cells[i], file=file, column=name, lines=lines, decimal_comma=table.decimal_comma
        ).values
    return _finish(columns, file, lines)


def pivot_long(long: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Long points → one column per series, outer-joined on time.

    ``long`` has columns ``timestamp``, ``series``, ``value`` and ``source_row``, one row
    per point; ``order`` lists the series names (the output's column order). The k-th
    repeat of a time within one series shares a row with the k-th repeat in the others, so
    no point is lost. A wide row's ``source_row`` is that of its first long row (in
    ``long``'s order). Returns ``timestamp``, ``*order``, ``source_row``; row order is
    unspecified (callers sort).
    """
    long = long.assign(repeat=long.groupby([TIMESTAMP, "series"], sort=False).cumcount())
    keys = [TIMESTAMP, "repeat"]
    wide = long.pivot(index=keys, columns="series", values="value")
    wide = wide.reindex(columns=order).join(long.groupby(keys, sort=False)[SOURCE_ROW].first())
    wide = wide.reset_index().drop(columns="repeat")
    wide.columns.name = None
    return wide.astype({name: "float64" for name in order} | {SOURCE_ROW: "int64"})


def _read_long(table: CsvCells, file: str, timezone: str) -> pd.DataFrame:
    """Legacy ``Series;Time;Value``: one column per series (:func:`pivot_long`), file order."""
    series = table.cells[0].str.strip()
    times = parse_timestamps(table.cells[1], file=file, lines=table.lines, column="Time", timezone=timezone)
    order = list(dict.fromkeys(series))
    names = dict(zip(order, unique_names(order)))
    values = np.empty(len(series), dtype="float64")
    for name in order:
        mask = (series == name).to_numpy()
        values[mask] = parse_values(
            table.cells[2][mask], file=file, column=names[name], lines=table.lines[mask], decimal_comma=table.decimal_comma
        ).values
    long = pd.DataFrame(
        {TIMESTAMP: times.array, "series": series.map(names).to_numpy(), "value": values, SOURCE_ROW: table.lines}
    )
    wide = pivot_long(long, list(names.values())).sort_values(SOURCE_ROW, ignore_index=True)
    columns = {c: wide[c].array for c in wide.columns if c != SOURCE_ROW}
    return _finish(columns, file, wide[SOURCE_ROW].to_numpy())


def read_grafana_csv(path: str | Path, *, timezone: str = "UTC", after: pd.Timestamp | None = None) -> pd.DataFrame:
    """Read one Grafana CSV export into a wide frame (see the module docstring).

    ``timezone``: the dashboard time zone that formatted time stamps were written in
    (IANA name, e.g. ``"Europe/Berlin"``); epoch-ms and offset-bearing times ignore it.
    ``after``: the UTC time before the first row, when the file is a later piece of a
    longer export (places wall times that DST repeats; wide exports only).
    """
    path = Path(path)
    file = str(path)
    table = read_cells(path)
    names = [name.strip() for name in table.header]
    lowered = [name.lower() for name in names]
    if lowered == ["series", "time", "value"]:
        return _read_long(table, file, timezone)
    if "time" not in lowered:
        raise SourceFormatError(f"{file}: no 'Time' column in the header {names!r}")
    return _read_wide(table, names, lowered.index("time"), file, timezone, after)


def count_duplicate_timestamps(frame: pd.DataFrame) -> tuple[int, int]:
    """``(rows, conflicting)`` of one file's (or asset's) rows: ``rows`` that
    :func:`resolve_duplicate_timestamps` would merge into an earlier row of the same time
    stamp, and how many time stamps repeat with different values in some sensor (the
    ones where the rule chose a value)."""
    repeated = frame[TIMESTAMP].duplicated(keep=False).to_numpy()
    if not repeated.any():
        return 0, 0
    part = frame.loc[repeated, [TIMESTAMP, *sensor_columns(frame)]]
    spread = part.groupby(TIMESTAMP, sort=False).nunique(dropna=False)
    return int(frame[TIMESTAMP].duplicated().sum()), int((spread > 1).any(axis=1).sum())


def resolve_duplicate_timestamps(frame: pd.DataFrame, rule: DuplicateRule = "mean") -> pd.DataFrame:
    """One row per ``timestamp``, sorted by time.

    Per sensor column, over the rows sharing a timestamp and ignoring NaN: ``mean`` (the
    default) averages, ``first``/``last`` take the first/last non-missing value in frame
    order (NaN if all are missing). ``source_file``/``source_row``/``asset`` come from the
    first row; ``label`` is the maximum (a timestamp with any anomalous row is anomalous).
    Frames without repeated timestamps are only sorted.
    """
    if rule not in ("mean", "first", "last"):
        raise ValueError(f"duplicate rule must be 'mean', 'first' or 'last', not {rule!r}")
    sensors = sensor_columns(frame)
    grouped = frame.groupby(TIMESTAMP, sort=True)
    parts = [getattr(grouped[sensors], rule)().astype("float64")]
    first_of = [c for c in (ASSET, SOURCE_FILE, SOURCE_ROW) if c in frame.columns]
    if first_of:
        parts.append(grouped[first_of].first())
    if LABEL in frame.columns:
        parts.append(grouped[[LABEL]].max().astype("int8"))
    out = pd.concat(parts, axis=1).reset_index()
    if SOURCE_ROW in out.columns:
        out[SOURCE_ROW] = out[SOURCE_ROW].astype("int64")
    return out[[c for c in frame.columns if c in out.columns]]
