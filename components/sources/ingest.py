"""The ingest stage: every configured source → one readings frame (docs/architecture.md §2).

Rules:
- column names are snake-cased (``"Motor temperature"`` → ``motor_temperature``) unless
  ``snake_case_columns`` is off;
- duplicate time stamps within one file are resolved by ``duplicate_rule``
  (see :func:`components.sources.grafana_csv.resolve_duplicate_timestamps`);
- files of the same asset (several panels, or consecutive exports) are outer-joined on
  time; where two files give the same sensor at the same time stamp the first file in
  sorted path order wins;
- with a labels file, ``label`` is 1 inside any ``[start, end]`` range of the row's asset;
- a live store source adds its operators' verdicts (:mod:`components.sources.live_store`).
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import GrafanaApiSource, GrafanaCsvSource, IngestConfig, LabelsConfig, LiveStoreSource, PlainCsvSource
from components.frames import ALSO_FROM, ASSET, LABEL, SOURCE_FILE, SOURCE_ROW, TIMESTAMP, sensor_columns
from components.sources.errors import SourceFormatError
from components.sources.export_format import ExportFormat
from components.sources.grafana_csv import count_duplicate_timestamps, resolve_duplicate_timestamps


def snake_case(name: str) -> str:
    """``"Motor temperature (°C)"`` → ``motor_temperature_c``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_") or "sensor"


def _asset_of(path: Path, source: GrafanaCsvSource | PlainCsvSource) -> str:
    if source.asset is not None:
        return source.asset
    match = re.search(source.asset_pattern, path.name)
    if not match or "asset" not in match.groupdict():
        raise SourceFormatError(
            f"{path}: file name does not match asset_pattern {source.asset_pattern!r}; if every file of "
            f"{source.glob!r} is one asset, name it on the source (asset: NAME), else give an asset_pattern "
            "whose (?P<asset>...) group matches its name in the file names"
        )
    return match.group("asset")


def _files(pattern: str) -> list[Path]:
    files = sorted(Path(p) for p in glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no file matches source glob {pattern!r} (from {Path.cwd()})")
    return files


DUPLICATES = "duplicate_timestamps"


class DuplicateTally:
    """Repeated time stamps met while reading, per file: the count the validation summary
    reports (``rule`` resolved them; see :func:`count_duplicate_timestamps`)."""

    def __init__(self, rule: str) -> None:
        self.rule, self.files = rule, {}

    def resolve(self, frame: pd.DataFrame, where: str) -> pd.DataFrame:
        """``frame`` with one row per time stamp, its repeats counted under ``where``."""
        rows, conflicting = count_duplicate_timestamps(frame)
        if rows:
            before = self.files.get(where, {"rows_merged": 0, "conflicting_timestamps": 0})
            self.files[where] = {
                "rows_merged": before["rows_merged"] + rows, "conflicting_timestamps": before["conflicting_timestamps"] + conflicting,
            }
        return resolve_duplicate_timestamps(frame, self.rule)

    def summary(self) -> dict:
        """Totals and the per-file counts (JSON-ready)."""
        return {
            "rule": self.rule,
            "rows_merged": sum(f["rows_merged"] for f in self.files.values()),
            "conflicting_timestamps": sum(f["conflicting_timestamps"] for f in self.files.values()),
            "files": self.files,
        }


def _read_source(source, duplicates: DuplicateTally) -> list[pd.DataFrame]:
    frames = []
    if isinstance(source, LiveStoreSource):
        from components.sources.live_store import read_live_store

        whole = read_live_store(str(source.store))
        for asset, rows in whole.groupby(ASSET, sort=True):
            frames.append(duplicates.resolve(rows.drop(columns=[ASSET]), f"live store {source.store} ({asset})").assign(**{ASSET: asset}))
        return frames
    if isinstance(source, GrafanaApiSource):
        from components.sources.grafana_api import query_grafana

        if source.interval_s is None:
            raise ValueError(
                f"grafana_api source {source.url} (asset {source.asset}): set its interval_s or validate.expected_interval_s, "
                "the step to ask Grafana for (without one Grafana returns at most 100 points a series)"
            )
        frame = query_grafana(
            source.url, source.queries, time_from=source.time_from, time_to=source.time_to, token_env=source.token_env,
            timeout_s=source.timeout_s, interval_s=source.interval_s,
        )
        frames.append(duplicates.resolve(frame, f"{source.url} ({source.asset})").assign(**{ASSET: source.asset}))
        return frames
    fmt = ExportFormat.of_source(source)
    label_column = source.label_column if isinstance(source, PlainCsvSource) else None
    for path in _files(source.glob):
        frame = fmt.read(path, label_column=label_column)
        if frame.empty:
            raise SourceFormatError(f"{path}: a header but no data rows (an export of a time range without data?)")
        if ASSET in frame.columns:  # a file of several assets: each asset's rows are one file's worth
            for asset, rows in frame.groupby(ASSET, sort=True):
                frames.append(duplicates.resolve(rows.drop(columns=[ASSET]), f"{path} ({asset})").assign(**{ASSET: asset}))
        else:
            frames.append(duplicates.resolve(frame, str(path)).assign(**{ASSET: _asset_of(path, source)}))
    return frames


def join_asset(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Outer-join one asset's files on time; the first non-null value per cell wins.
    With several files carrying ``source_file``, a joined row's ``also_from`` names the
    lines of the other files it was joined from (``source_file``/``source_row`` name the
    first)."""
    combined = pd.concat(frames, ignore_index=True)
    grouped = combined.groupby(TIMESTAMP, sort=True)
    joined = grouped.first()
    if len(frames) > 1 and SOURCE_FILE in combined.columns:
        lines = combined[SOURCE_FILE] + " line " + combined[SOURCE_ROW].astype("str")
        joined[ALSO_FROM] = [
            "; ".join(dict.fromkeys(where[1:])) for where in lines.groupby(combined[TIMESTAMP], sort=True).agg(list)
        ]
    return joined.reset_index()


def apply_labels(readings: pd.DataFrame, labels: LabelsConfig) -> pd.DataFrame:
    """Set ``label`` = 1 on rows inside a labelled range of their asset."""
    ranges = pd.read_csv(labels.path)
    missing = {"asset", "start", "end"} - set(ranges.columns)
    if missing:
        raise SourceFormatError(f"{labels.path}: missing column(s) {sorted(missing)} (need asset,start,end)")
    label = np.zeros(len(readings), dtype=np.int8)
    times = readings[TIMESTAMP]
    starts = pd.to_datetime(ranges["start"], utc=True)
    ends = pd.to_datetime(ranges["end"], utc=True)
    for asset, start, end in zip(ranges["asset"], starts, ends):
        inside = (readings[ASSET] == asset) & (times >= start) & (times <= end)
        label[inside.to_numpy()] = 1
    readings = readings.copy()
    readings[LABEL] = label
    return readings


def ingest(cfg: IngestConfig) -> pd.DataFrame:
    """Read all sources and return the readings frame, sorted by asset then time; its
    ``attrs["duplicate_timestamps"]`` (kept in its Parquet file) counts the repeated time
    stamps resolved (:meth:`DuplicateTally.summary`) for the validation summary."""
    duplicates = DuplicateTally(cfg.duplicate_rule)
    frames = [frame for source in cfg.sources for frame in _read_source(source, duplicates)]
    if cfg.snake_case_columns:
        keep = {TIMESTAMP, ASSET, LABEL, SOURCE_FILE, SOURCE_ROW, ALSO_FROM}
        frames = [f.rename(columns={c: snake_case(c) for c in f.columns if c not in keep}) for f in frames]
    by_asset: dict[str, list[pd.DataFrame]] = {}
    for frame in frames:
        by_asset.setdefault(str(frame[ASSET].iloc[0]), []).append(frame.drop(columns=[ASSET]))
    joined = [join_asset(parts).assign(**{ASSET: asset}) for asset, parts in sorted(by_asset.items())]
    readings = pd.concat(joined, ignore_index=True)
    meta = [TIMESTAMP, ASSET]
    sensors = sensor_columns(readings)
    readings = readings[meta + sensors + [c for c in (LABEL, SOURCE_FILE, SOURCE_ROW, ALSO_FROM) if c in readings.columns]]
    if ALSO_FROM in readings.columns:
        readings[ALSO_FROM] = readings[ALSO_FROM].fillna("").astype("str")
    readings[sensors] = readings[sensors].astype("float64")
    if cfg.labels is not None:
        readings = apply_labels(readings, cfg.labels)
    for source in cfg.sources:
        if isinstance(source, LiveStoreSource) and source.feedback:
            from components.sources.live_store import acknowledged_ranges, apply_feedback

            readings = apply_feedback(readings, acknowledged_ranges(str(source.store)))
    readings.attrs[DUPLICATES] = duplicates.summary()
    return readings
