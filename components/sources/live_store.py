"""The live store as a training source (``kind: live_store``): the readings the watcher
saw, and the operators' verdicts on its alerts.

- Readings: every reading of the store that was not quarantined, one column per sensor
  (``source_file`` names the store, ``source_row`` is the reading's id).
- With ``feedback`` (the default): the time range of each alert acknowledged as
  *confirmed* (``started_at`` to ``ended_at``, or its last scored reading while it is
  open) is labelled a fault (``label`` 1: left out of the fit, counted in evaluation); the
  range of each alert acknowledged as a *false alarm* is marked ``normal_feedback``, so the
  split puts those rows in ``train`` and the next model learns them as normal.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from components.frames import ASSET, LABEL, NORMAL_FEEDBACK, SOURCE_FILE, SOURCE_ROW, TIMESTAMP
from components.sources.errors import SourceFormatError


def read_live_store(url: str) -> pd.DataFrame:
    """The store's readings that were not quarantined: timestamp, asset, sensors,
    source_file, source_row. SourceFormatError if it holds none."""
    from components.live.store import Store

    with Store(url) as store:
        rows = store.execute(
            "SELECT id, asset, ts, sensors FROM readings r WHERE NOT EXISTS "
            "(SELECT 1 FROM quarantine q WHERE q.reading_id = r.id) ORDER BY id"
        )
    if not rows:
        raise SourceFormatError(f"live store {url}: no readings to train on")
    ids, assets, times, sensors = zip(*rows)
    values = pd.DataFrame([s if isinstance(s, dict) else json.loads(s) for s in sensors])
    frame = pd.concat([pd.DataFrame({TIMESTAMP: pd.to_datetime(list(times), utc=True, format="ISO8601"), ASSET: list(assets)}),
                       values.apply(pd.to_numeric, errors="coerce")], axis=1)
    frame[SOURCE_FILE] = f"live store {url}"
    frame[SOURCE_ROW] = np.asarray(ids, dtype=np.int64)
    return frame


def acknowledged_ranges(url: str) -> pd.DataFrame:
    """Acknowledged alerts: asset, start, end (UTC), ack (``confirmed`` / ``false_alarm``);
    an open alert ends at its asset's last scored reading."""
    from components.live.store import Store

    with Store(url) as store:
        rows = store.execute(
            "SELECT a.asset, a.started_at, COALESCE(a.ended_at, (SELECT max(s.ts) FROM scores s WHERE s.asset = a.asset)), a.ack "
            "FROM alerts a WHERE a.ack IS NOT NULL ORDER BY a.id"
        )
    frame = pd.DataFrame(rows, columns=["asset", "start", "end", "ack"])
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def apply_feedback(readings: pd.DataFrame, ranges: pd.DataFrame) -> pd.DataFrame:
    """``label`` 1 inside confirmed ranges of the row's asset, ``normal_feedback`` 1 inside
    false-alarm ranges (module doc)."""
    readings = readings.copy()
    flags = {LABEL: "confirmed", NORMAL_FEEDBACK: "false_alarm"}
    for column, verdict in flags.items():
        flag = readings[column].to_numpy(dtype=np.int8).copy() if column in readings else np.zeros(len(readings), dtype=np.int8)
        for asset, start, end in ranges.loc[ranges["ack"] == verdict, ["asset", "start", "end"]].itertuples(index=False):
            inside = (readings[ASSET] == asset) & (readings[TIMESTAMP] >= start) & (readings[TIMESTAMP] <= end)
            flag[inside.to_numpy()] = 1
        readings[column] = flag
    return readings
