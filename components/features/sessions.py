"""Resampling to a fixed interval and splitting each asset's series into sessions.

Rules (docs/architecture.md §2):
- a gap between consecutive readings longer than ``max_gap_s`` ends a session;
- within a session readings are averaged into ``interval_s`` bins (labels: max);
- a run of empty bins up to ``impute_limit_s`` long is filled by linear interpolation;
  a longer run also ends the session (those empty bins are not invented);
- session ids are ``"<asset>#<k>"``, k counting from 0 per asset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.frames import ASSET, LABEL, NORMAL_FEEDBACK, SESSION, TIMESTAMP, sensor_columns


def fill_short_runs(values: pd.DataFrame, max_steps: int) -> pd.DataFrame:
    """Linearly interpolate runs of at most ``max_steps`` missing values that have data
    on both sides; longer runs stay missing entirely (no partial filling)."""
    if max_steps <= 0:
        return values
    filled = values.interpolate(method="linear", limit_area="inside")
    out = values.copy()
    for column in values.columns:
        missing = values[column].isna()
        run_id = (missing != missing.shift()).cumsum()
        run_length = missing.groupby(run_id).transform("sum")
        short = missing & (run_length <= max_steps)
        out.loc[short, column] = filled.loc[short, column]
    return out


def _resample_session(part: pd.DataFrame, sensors: list[str], interval: str, impute_steps: int) -> pd.DataFrame:
    indexed = part.set_index(TIMESTAMP)
    out = indexed[sensors].resample(interval).mean()
    for flag in (LABEL, NORMAL_FEEDBACK):
        if flag in part.columns:
            out[flag] = indexed[flag].resample(interval).max()
    out[sensors] = fill_short_runs(out[sensors], impute_steps)
    return out.reset_index()


def resample_sessions(readings: pd.DataFrame, interval_s: int, max_gap_s: int, impute_limit_s: int) -> pd.DataFrame:
    """Regular, gap-aware series: columns timestamp, asset, session, sensors[, label].

    ``readings`` is a readings frame (any row order). Rows are returned sorted by asset,
    then time; bins left empty after imputation are dropped and split their session.
    """
    sensors = sensor_columns(readings)
    interval = f"{interval_s}s"
    impute_steps = impute_limit_s // interval_s
    pieces = []
    for asset, frame in readings.sort_values([ASSET, TIMESTAMP]).groupby(ASSET, sort=True):
        gaps = frame[TIMESTAMP].diff().dt.total_seconds().to_numpy()
        raw_session = np.cumsum(np.nan_to_num(gaps, nan=0.0) > max_gap_s)
        counter = 0
        for _, part in frame.groupby(raw_session, sort=True):
            regular = _resample_session(part, sensors, interval, impute_steps)
            complete = regular[sensors].notna().all(axis=1).to_numpy()
            # consecutive complete bins form one session; an incomplete bin breaks it
            breaks = np.cumsum(~complete)
            regular = regular[complete].copy()
            for _, sub in regular.groupby(breaks[complete], sort=True):
                sub = sub.copy()
                sub.insert(1, ASSET, asset)
                sub.insert(2, SESSION, f"{asset}#{counter}")
                counter += 1
                pieces.append(sub)
    out = pd.concat(pieces, ignore_index=True)
    for flag in (LABEL, NORMAL_FEEDBACK):
        if flag in out.columns:
            out[flag] = out[flag].fillna(0).astype("int8")
    return out
