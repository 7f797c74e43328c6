"""Where the watcher's readings come from (``watch.source``), other than writers of the
store's ``readings`` table (``kind: store``, the default):

- ``folder``: new CSV exports appearing in a folder (``glob``), read as ``anomflow score``
  reads exports; a file is taken once it was last modified ``settle_s`` ago (so a file
  still being written is not read half), and at most once: its rows and the record that
  it was read commit together.
- ``grafana_api``: Grafana's HTTP API polled every ``every_s`` with the project's client
  (:func:`~components.sources.grafana_api.query_grafana`) from just after the last time it
  gave (or ``start`` on the first poll) to now; the rows and that time commit together.

Each collector runs in the watcher's loop before a batch is scored, so what it inserts is
scored in the same pass. A file or a poll that fails is logged with the reason (a file:
recorded as failed, left in place) and the stream goes on.
"""

from __future__ import annotations

import glob as globbing
import logging
import time
from pathlib import Path
from typing import Protocol

import pandas as pd
from components.frames import META_COLUMNS, TIMESTAMP
from components.live.config import FolderSource, GrafanaPollSource, StoreSource
from components.live.replay import asset_rows
from components.live.store import Store
from components.scoring.score_settings import ScoreSettings
from components.sources.ingest import snake_case

log = logging.getLogger("anomflow.watch")


class Collector(Protocol):
    def collect(self, store: Store) -> int:
        """Insert what is new into ``store``'s readings; returns how many readings."""


class FolderCollector:
    """Takes new files matching ``source.glob`` (module doc)."""

    def __init__(self, source: FolderSource, settings: ScoreSettings) -> None:
        self.source, self.settings = source, settings

    def collect(self, store: Store) -> int:
        done = store.collected_keys("file:")
        count = 0
        for name in sorted(globbing.glob(self.source.glob)):
            path = Path(name).resolve()
            key = f"file:{path}"
            if key in done:
                continue
            if time.time() - path.stat().st_mtime < self.source.settle_s:
                continue  # perhaps still being written: taken on a later poll
            count += self._take(store, path, key)
        return count

    def _take(self, store: Store, path: Path, key: str) -> int:
        asset = self.source.asset or self.settings.asset_of([path]) or "default"
        try:
            rows = [(a, ts, values) for ts, a, values in asset_rows(asset, [path], self.settings)]
        except Exception as err:
            log.error("%s: not read (%s); left in place", path, err)
            store.insert_readings([], mark=(key, {"error": str(err)[:500]}))
            return 0
        store.insert_readings(rows, mark=(key, {"rows": len(rows)}))
        log.info("%s: %d readings of %s", path, len(rows), asset)
        return len(rows)


class GrafanaCollector:
    """Polls Grafana (module doc)."""

    def __init__(self, source: GrafanaPollSource) -> None:
        self.source = source
        self._next = 0.0

    def collect(self, store: Store) -> int:
        from components.sources.grafana_api import query_grafana

        if time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.source.every_s
        key = f"grafana:{self.source.url}:{self.source.asset}"
        last = store.collected_keys(key).get(key)
        start: str | int = int(pd.Timestamp(last).value // 1_000_000) + 1 if last else self.source.start
        try:
            frame = query_grafana(self.source.url, self.source.queries, time_from=start, time_to="now", token_env=self.source.token_env,
                                  timeout_s=self.source.timeout_s, interval_s=self.source.interval_s)
        except Exception as err:
            log.error("Grafana %s (%s): %s; next poll in %.0f s", self.source.url, self.source.asset, err, self.source.every_s)
            return 0
        frame = frame.groupby(TIMESTAMP, sort=True).mean(numeric_only=True).reset_index()  # refIds stacked: one row a time
        if last:
            frame = frame[frame[TIMESTAMP] > pd.Timestamp(last)]
        if frame.empty:
            return 0
        sensors = [c for c in frame.columns if c not in META_COLUMNS]
        rows = [(self.source.asset, ts, {snake_case(s): (None if pd.isna(v) else float(v)) for s, v in zip(sensors, values)})
                for ts, values in zip(frame[TIMESTAMP], frame[sensors].itertuples(index=False, name=None))]
        store.insert_readings(rows, mark=(key, frame[TIMESTAMP].iloc[-1].isoformat()))
        return len(rows)


def collector(source: StoreSource | FolderSource | GrafanaPollSource, settings: ScoreSettings) -> Collector | None:
    """The collector of ``source`` (None for ``store``: others write the readings)."""
    if isinstance(source, FolderSource):
        return FolderCollector(source, settings)
    if isinstance(source, GrafanaPollSource):
        return GrafanaCollector(source)
    return None
