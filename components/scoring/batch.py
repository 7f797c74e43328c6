"""Batch scoring of exports with a registered model (the ``score`` flow's work),
streamed in chunks so memory stays flat however long the export is.

Each file is cut into chunks of ``chunk_rows`` data lines (each read by the same reader
as ingest, with its preamble: a ``sep=`` line if any, and the header), each chunk is
scored together with the last rows of the previous chunk of every asset (so rows at a
chunk boundary keep their history and get exactly the score they would get in one
piece), and the scored rows are appended to the output (Parquet row groups or CSV).
Several exports of one asset, e.g. one per Grafana panel, are outer-joined on time as
ingest joins them (:func:`join_on_time`). Columns the model does not score are
left out and reported; a missing one is an error that names the files. Errors name the
original file and line. UTF-16 exports (Grafana's "Excel" mode) are read whole.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from components.frames import ASSET, SOURCE_FILE, SOURCE_ROW, TIMESTAMP
from components.progress import HEARTBEAT_S
from components.registry.tracking import using_tracking_uri
from components.scoring.thresholds import SENSOR_FAULT
from components.sources.export_format import ExportFormat
from components.sources.errors import SourceFormatError
from components.sources.grafana_csv import resolve_duplicate_timestamps
from components.sources.ingest import join_asset, snake_case

CHUNK_ROWS = 200_000
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_export(path: Path, fmt: ExportFormat = ExportFormat(), after: pd.Timestamp | None = None) -> pd.DataFrame:
    """The export read as ``fmt`` says (a Grafana export by default), columns snake-cased
    as ingest's; ``source_row`` is each row's line in ``path``; ``after``: see
    :meth:`ExportFormat.read`."""
    frame = fmt.read(path, after=after)
    frame = frame.drop(columns=[c for c in (SOURCE_FILE,) if c in frame.columns])
    return frame.rename(columns={c: snake_case(c) for c in frame.columns if c not in (TIMESTAMP, ASSET, SOURCE_ROW)})


def _preamble_size(lines: list[bytes]) -> int:
    """Lines before the data: an optional ``sep=`` line and the header."""
    first = lines[0].lstrip(b"\xef\xbb\xbf").strip()
    return 2 if first.lower().startswith(b"sep=") else 1


def read_export_chunks(path: Path, fmt: ExportFormat = ExportFormat(), chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The export as frames of at most ``chunk_rows`` rows, in file order (``source_row``:
    the line in ``path``); a SourceFormatError if it has no data rows."""
    rows = 0
    for chunk in _export_chunks(path, fmt, chunk_rows):
        rows += len(chunk)
        yield chunk
    if rows == 0:
        raise SourceFormatError(f"{path}: no data rows to score (an export of a time range without data?)")


def _export_chunks(path: Path, fmt: ExportFormat, chunk_rows: int) -> Iterator[pd.DataFrame]:
    with path.open("rb") as handle:
        if handle.read(2) in _UTF16_BOMS:
            yield read_export(path, fmt)
            return
        handle.seek(0)
        head = [handle.readline(), handle.readline()]
        preamble = head[: _preamble_size(head)]
        pending = head[len(preamble) :]
        # data lines and last time of the chunks before this one; a first chunk may end inside
        # DST's repeated hour before the repeat, so its wall times are placed by order too
        consumed, after = 0, pd.Timestamp.min.tz_localize("UTC")
        with tempfile.TemporaryDirectory() as tmp:
            chunk_path = Path(tmp) / path.name
            while True:
                lines = pending + [line for _, line in zip(range(chunk_rows - len(pending)), handle)]
                pending = []
                lines = [line for line in lines if line]
                if not lines:
                    return
                chunk_path.write_bytes(b"".join(preamble + lines))
                try:
                    chunk = read_export(chunk_path, fmt, after)
                except SourceFormatError as err:
                    raise SourceFormatError(_in_original(str(err), chunk_path, path, consumed)) from None
                chunk[SOURCE_ROW] += consumed
                after = chunk[TIMESTAMP].iloc[-1] if len(chunk) else after
                yield chunk
                consumed += len(lines)


def _in_original(message: str, chunk_path: Path, path: Path, shift: int) -> str:
    """An error about a chunk file, restated for the original file (its lines are ``shift`` further down)."""
    message = message.replace(str(chunk_path), str(path))
    return re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + shift}", message)


def _check_time_order(chunk: pd.DataFrame, path: Path, previous: pd.Timestamp | None) -> None:
    """Raise unless ``chunk``'s time stamps never decrease, from ``previous`` (the last of
    the chunk before) on."""
    times = chunk[TIMESTAMP]
    before = times.shift(1)
    if previous is not None and len(times):
        before.iloc[0] = previous
    back = (times < before).to_numpy()
    if back.any():
        i = int(np.flatnonzero(back)[0])
        raise SourceFormatError(
            f"{path}: line {chunk[SOURCE_ROW].iloc[i]}: time {times.iloc[i]} is before the line above it "
            f"({before.iloc[i]}); exports scored together are joined on time, so each must be in time order"
        )


def join_on_time(
    paths: Sequence[Path], fmt: ExportFormat = ExportFormat(), chunk_rows: int = CHUNK_ROWS, duplicate_rule: str = "mean",
) -> Iterator[pd.DataFrame]:
    """Several exports of one asset outer-joined on time, in time order, as ingest joins
    one asset's files: repeated time stamps within a file are resolved by
    ``duplicate_rule`` (``mean``, ``first`` or ``last``, as ingest's) and where two files
    give the same column at the same time the first file given wins.

    Streamed: each file is read ``chunk_rows`` lines at a time, and a joined frame holds
    the rows before the earliest of the files' last buffered time stamps, which every
    file has then passed, so no row is joined before all its parts are read. Each file
    must be in time order; a file that is not raises an error naming it and the line.
    """
    readers = [read_export_chunks(path, fmt, chunk_rows) for path in paths]
    buffers: list[pd.DataFrame | None] = [None] * len(paths)
    ended = [False] * len(paths)
    last: list[pd.Timestamp | None] = [None] * len(paths)
    cut = None
    while not all(ended) or any(b is not None and len(b) for b in buffers):
        for i, reader in enumerate(readers):
            buffer = buffers[i]
            if ended[i] or not (buffer is None or len(buffer) < chunk_rows or last[i] == cut):
                continue
            chunk = next(reader, None)
            if chunk is None:
                ended[i] = True
                continue
            _check_time_order(chunk, paths[i], last[i])
            last[i] = chunk[TIMESTAMP].iloc[-1] if len(chunk) else last[i]
            buffers[i] = chunk if buffer is None else pd.concat([buffer, chunk], ignore_index=True)
        open_ends = [last[i] for i in range(len(paths)) if not ended[i] and last[i] is not None]
        cut = min(open_ends) if open_ends else None
        parts = []
        for i, buffer in enumerate(buffers):
            if buffer is None or not len(buffer):
                continue
            ready = np.ones(len(buffer), dtype=bool) if cut is None else (buffer[TIMESTAMP] < cut).to_numpy()
            if ready.any():
                parts.append(resolve_duplicate_timestamps(buffer[ready], duplicate_rule).drop(columns=[SOURCE_ROW]))
            buffers[i] = buffer[~ready].reset_index(drop=True)
        if parts:
            yield join_asset(parts)


class _Sink:
    """Appends scored chunks to ``.parquet`` (row groups; ``timestamp`` as a UTC
    timestamp column) or ``.csv`` (ISO-8601 text, as the served model answers), in a
    ``.partial`` file beside ``path`` that :meth:`close` renames to ``path`` only when
    every row is written: a run that fails leaves no half-scored file (and an earlier
    output of the same name as it was)."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer, self.rows = path, None, 0
        self.partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.partial.unlink(missing_ok=True)

    def write(self, scored: pd.DataFrame) -> None:
        if self.path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            scored = scored.assign(**{TIMESTAMP: pd.to_datetime(scored[TIMESTAMP], utc=True, format="ISO8601")})
            table = pa.Table.from_pandas(scored, preserve_index=False)
            self.writer = self.writer or pq.ParquetWriter(self.partial, table.schema)
            self.writer.write_table(table)
        else:
            scored.to_csv(self.partial, mode="a", header=self.rows == 0, index=False)
        self.rows += len(scored)

    def close(self, *, complete: bool) -> None:
        """Finish the file and put it in place if ``complete``, else delete it."""
        if self.writer is not None:
            self.writer.close()
        if complete:
            self.partial.replace(self.path)
        else:
            self.partial.unlink(missing_ok=True)


def _alarms_raised(scored: pd.DataFrame, raised_before: dict[str, bool]) -> int:
    """Alarms raised in ``scored`` (one chunk; each asset's rows in time order): rows whose
    alarm is on where the asset's row before it (``raised_before`` for its first) was not."""
    count = 0
    for asset, alarm in scored.groupby(ASSET, sort=False)["alarm"]:
        on = alarm.to_numpy() != "normal"
        count += int((on & ~np.concatenate([[raised_before.get(asset, False)], on[:-1]])).sum())
    return count


def _model_columns(frame: pd.DataFrame, sensors: list[str], paths: Sequence[Path]) -> pd.DataFrame:
    """``frame``'s time stamp, asset and the model's sensors; an error naming the files if
    a sensor is missing."""
    missing = [s for s in sensors if s not in frame.columns]
    if missing:
        raise SourceFormatError(
            f"{', '.join(map(str, paths))}: no column(s) {missing}; the model scores {sensors}. "
            "A Grafana panel may hold only some of them: pass every panel's export "
            "(anomflow score A.csv B.csv OUT.parquet) and they are joined on time"
        )
    return frame[[TIMESTAMP, *([ASSET] if ASSET in frame.columns else []), *sensors]]


def score_export(
    input_paths: Sequence[Path], output_path: Path, model_uri: str, *, asset: str | None = None,
    fmt: ExportFormat = ExportFormat(), duplicate_rule: str = "mean", tracking_uri: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Score every row of the exports (one file, or several joined on time) chunk by chunk
    and write ``output_path`` (.csv or .parquet). ``fmt``: how the exports are read
    (default: Grafana exports in UTC). ``duplicate_rule``: see
    :func:`join_on_time` (a single file goes through it too, so its repeated time stamps
    are resolved as ingest's and one out of time order is named by file and line).
    ``tracking_uri``: the MLflow store that resolves ``model_uri`` (default: MLflow's).
    Returns rows, the assets scored (in order of appearance), levels, the alarms raised
    (``alarm_events``: each asset's alarm going on, as the served model's alarm rule raises
    it, carried from chunk to chunk), the rows at level
    ``sensor_fault`` counted per sensor without a reading in them (``sensor_faults``: the
    dead sensor in every such row, a sensor missing a moment beside it in a few), the
    output and the input columns left out because the model does not score them."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    paths = [Path(p) for p in input_paths]
    if fmt.asset_column is not None and (len(paths) > 1 or asset is not None):
        raise ValueError(
            f"exports with an asset column ({fmt.asset_column!r}) name each row's asset: score them one file at a time, "
            "without an asset name for every row"
        )
    try:
        if tracking_uri is None:
            model = mlflow.pyfunc.load_model(model_uri)
        else:
            with using_tracking_uri(tracking_uri):
                model = mlflow.pyfunc.load_model(model_uri)
    except MlflowException as err:
        store = tracking_uri or mlflow.get_tracking_uri()
        raise MlflowException(f"{err.message} (MLflow store {store})", error_code=ErrorCode.Value(err.error_code)) from None
    served = model.unwrap_python_model()
    history, sensors = served.history_rows, served.sensors
    if fmt.asset_column is not None:  # rows of several assets, each asset in time order
        chunks = (c.drop(columns=[SOURCE_ROW]) for c in read_export_chunks(paths[0], fmt, chunk_rows))
    else:
        chunks = join_on_time(paths, fmt, chunk_rows, duplicate_rule)
    sink, levels, carried, ignored, assets, faults = _Sink(output_path), {}, None, set(), {}, {}
    states, alarm_events = {}, 0
    complete, started = False, time.monotonic()
    last_line = started
    try:
        for chunk in chunks:
            if asset is not None:
                chunk.insert(1, ASSET, asset)
            ignored.update(c for c in chunk.columns if c not in (TIMESTAMP, ASSET, *sensors))
            chunk = _model_columns(chunk, sensors, paths)
            context = 0 if carried is None else len(carried)
            frame = chunk if carried is None else pd.concat([carried, chunk], ignore_index=True)
            raised_before = {asset: any(s.alarm.raised) for asset, s in states.items() if s.alarm is not None}
            scored, states = served.score_rows(frame, states, context)  # the served answer, alarm and drift states carried over
            scored = scored.iloc[context:]
            alarm_events += _alarms_raised(scored, raised_before)
            scored["score"] = scored["score"].astype("float64")  # the served null (None) → NaN, one type in every chunk
            for sensor in scored.loc[scored["level"] == SENSOR_FAULT, "missing_sensors"].explode().dropna():
                faults[sensor] = faults.get(sensor, 0) + 1
            scored["top_sensors"] = scored["top_sensors"].map(",".join)
            scored["missing_sensors"] = scored["missing_sensors"].map(",".join)
            sink.write(scored)
            for level, count in scored["level"].value_counts().items():
                levels[level] = levels.get(level, 0) + int(count)
            assets.update(dict.fromkeys(scored[ASSET].unique()))
            by_asset = frame.groupby(ASSET, sort=False) if ASSET in frame.columns else None
            carried = (by_asset.tail(history) if by_asset is not None else frame.tail(history)).reset_index(drop=True)
            if time.monotonic() - last_line >= HEARTBEAT_S:  # progress on standard error, a line every few seconds
                elapsed = time.monotonic() - started
                print(f"score: {sink.rows:,} rows scored in {elapsed:.0f} s ({sink.rows / elapsed:,.0f} rows/s)", file=sys.stderr, flush=True)
                last_line = time.monotonic()
        complete = True
    finally:
        sink.close(complete=complete)
    return {
        "rows": sink.rows, "assets": list(assets), "levels": levels, "alarm_events": alarm_events, "sensor_faults": faults,
        "output": str(output_path),
        "ignored_columns": sorted(ignored),
    }
