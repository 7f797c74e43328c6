"""``anomflow replay``: recorded exports written into the live store's ``readings`` table as
if a plant were sending them, at ``speed`` × real time (0: as fast as it can).

Exports are read as ``anomflow score`` reads them (the project's export format; one
asset's files, e.g. one per Grafana panel, joined on time; each file's asset from the
project's ``asset_pattern`` or ``--asset``); several assets' readings are interleaved in
time order.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from components.frames import ASSET, META_COLUMNS, TIMESTAMP
from components.live.store import Store
from components.registry.request import DEFAULT_ASSET
from components.scoring.batch import join_on_time
from components.scoring.score_settings import ScoreSettings

Row = tuple[pd.Timestamp, str, dict]


def group_by_asset(paths: Sequence[Path], settings: ScoreSettings) -> dict[str, list[Path]]:
    """The exports grouped by the asset each belongs to (in the order given)."""
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(settings.asset_of([path]) or DEFAULT_ASSET, []).append(path)
    return groups


def asset_rows(asset: str, paths: Sequence[Path], settings: ScoreSettings) -> Iterator[Row]:
    """One asset's readings in time order: (time, asset, {sensor: value or None})."""
    for frame in join_on_time(paths, settings.export_format, duplicate_rule=settings.duplicate_rule):
        sensors = [c for c in frame.columns if c not in META_COLUMNS]
        names = frame[ASSET].astype(str).to_numpy() if ASSET in frame else None
        for i, (ts, values) in enumerate(zip(frame[TIMESTAMP], frame[sensors].itertuples(index=False, name=None))):
            yield ts, names[i] if names is not None else asset, {s: (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)) for s, v in zip(sensors, values)}


def replay(paths: Sequence[Path], store: Store, settings: ScoreSettings, speed: float = 0.0, batch_rows: int = 1000,
           on_batch: Callable[[int], None] | None = None, sleep: Callable[[float], None] = time.sleep,
           since: pd.Timestamp | None = None) -> int:
    """Write the exports' readings (from ``since`` on, if given) into ``store`` (module
    doc); returns how many. At ``speed`` > 0 a reading is inserted once ``(its time − the
    first time) / speed`` seconds have passed; at 0, in batches of ``batch_rows``.
    ``on_batch`` gets the running count after each insert."""
    groups = group_by_asset(paths, settings)
    merged = heapq.merge(*(asset_rows(a, p, settings) for a, p in groups.items()), key=lambda row: row[0])
    written, pending, start = 0, [], None
    for ts, asset, values in merged:
        if since is not None and ts < since:
            continue
        if speed > 0:
            start = start or (ts, time.monotonic())
            due = start[1] + (ts - start[0]).total_seconds() / speed
            if pending and due > time.monotonic():
                written += _flush(store, pending, on_batch, written)
                sleep(max(due - time.monotonic(), 0.0))
        pending.append((asset, ts, values))
        if len(pending) >= batch_rows:
            written += _flush(store, pending, on_batch, written)
    return written + _flush(store, pending, on_batch, written)


def _flush(store: Store, pending: list, on_batch: Callable[[int], None] | None, written: int) -> int:
    if not pending:
        return 0
    store.insert_readings(pending)
    count = len(pending)
    pending.clear()
    if on_batch is not None:
        on_batch(written + count)
    return count
