"""Batch scoring of an export file with a registered model (the ``score`` flow's work),
streamed in chunks so memory stays flat however long the export is.

The file is cut into chunks of ``chunk_rows`` data lines (each read by the same reader
as ingest, with its preamble: a ``sep=`` line if any, and the header), each chunk is
scored together with the last rows of the previous chunk of every asset (so rows at a
chunk boundary keep their history and get exactly the score they would get in one
piece), and the scored rows are appended to the output (Parquet row groups or CSV).
Errors name the original file and line. UTF-16 exports (Grafana's "Excel" mode) are
read whole.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from components.frames import ASSET, SOURCE_FILE, SOURCE_ROW, TIMESTAMP
from components.sources.errors import SourceFormatError
from components.sources.ingest import snake_case

CHUNK_ROWS = 200_000
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_export(path: Path, delimiter: str | None) -> pd.DataFrame:
    """A Grafana export (default) or, with ``delimiter``, a plain CSV with ``timestamp``."""
    if delimiter is None:
        from components.sources.grafana_csv import read_grafana_csv

        frame = read_grafana_csv(path)
    else:
        from components.sources.plain_csv import read_plain_csv

        frame = read_plain_csv(path, delimiter=delimiter)
    frame = frame.drop(columns=[c for c in (SOURCE_FILE, SOURCE_ROW) if c in frame.columns])
    return frame.rename(columns={c: snake_case(c) for c in frame.columns if c not in (TIMESTAMP, ASSET)})


def _preamble_size(lines: list[bytes]) -> int:
    """Lines before the data: an optional ``sep=`` line and the header."""
    first = lines[0].lstrip(b"\xef\xbb\xbf").strip()
    return 2 if first.lower().startswith(b"sep=") else 1


def read_export_chunks(path: Path, delimiter: str | None, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The export as frames of at most ``chunk_rows`` rows, in file order."""
    with path.open("rb") as handle:
        if handle.read(2) in _UTF16_BOMS:
            yield read_export(path, delimiter)
            return
        handle.seek(0)
        head = [handle.readline(), handle.readline()]
        preamble = head[: _preamble_size(head)]
        pending = head[len(preamble) :]
        consumed = 0  # data lines of the chunks before this one
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
                    yield read_export(chunk_path, delimiter)
                except SourceFormatError as err:
                    raise SourceFormatError(_in_original(str(err), chunk_path, path, consumed)) from None
                consumed += len(lines)


def _in_original(message: str, chunk_path: Path, path: Path, shift: int) -> str:
    """An error about a chunk file, restated for the original file (its lines are ``shift`` further down)."""
    message = message.replace(str(chunk_path), str(path))
    return re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + shift}", message)


def _history_rows(model) -> int:
    """Rows of history a score needs (plus the imputation reach), from the served bundle."""
    detector = model.unwrap_python_model()
    return int(detector.spec.window) - 1 + int(detector.serving["impute_steps"])


class _Sink:
    """Appends scored chunks to ``.parquet`` (row groups) or ``.csv``."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer, self.rows = path, None, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

    def write(self, scored: pd.DataFrame) -> None:
        if self.path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(scored, preserve_index=False)
            self.writer = self.writer or pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table)
        else:
            scored.to_csv(self.path, mode="a", header=self.rows == 0, index=False)
        self.rows += len(scored)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def score_export(
    input_path: Path, output_path: Path, model_uri: str, *, asset: str | None = None, delimiter: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Score every row of ``input_path`` chunk by chunk and write ``output_path`` (.csv or .parquet)."""
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri)
    history = _history_rows(model)
    sink, levels, carried = _Sink(output_path), {}, None
    try:
        for chunk in read_export_chunks(input_path, delimiter, chunk_rows):
            if asset is not None:
                chunk.insert(1, ASSET, asset)
            context = 0 if carried is None else len(carried)
            frame = chunk if carried is None else pd.concat([carried, chunk], ignore_index=True)
            scored = model.predict(frame).iloc[context:]
            scored["top_sensors"] = scored["top_sensors"].map(",".join)
            sink.write(scored)
            for level, count in scored["level"].value_counts().items():
                levels[level] = levels.get(level, 0) + int(count)
            by_asset = frame.groupby(ASSET, sort=False) if ASSET in frame.columns else None
            carried = (by_asset.tail(history) if by_asset is not None else frame.tail(history)).reset_index(drop=True)
    finally:
        sink.close()
    return {"rows": sink.rows, "levels": levels, "output": str(output_path)}
