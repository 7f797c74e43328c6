"""The readings' time-axis rules, checked in pandas beside the Great Expectations suite.

Both rules are per asset and about the steps between time stamps, which no GX
expectation computes on the readings' own columns (a GX check would need the steps as
extra columns, which Data Docs then list as if they were sensors):

* **order** (rows quarantined): a row's time stamp must be later than every earlier
  row's of the same asset (in frame order): its *step*, the seconds since the latest
  earlier time stamp of the asset, must be > 0; a step of 0 is a duplicate, < 0 a row
  out of order. A row without a time stamp has no step (the GX suite's missing-value
  rule quarantines it).
* **sampling interval** (run stops): the median of an asset's positive steps must lie in
  ``ValidationConfig.interval_bounds()``.

Each rule reports itself in ``validation.json``'s ``expectations`` like a GX expectation
(``type`` :data:`ORDER_TYPE` or :data:`INTERVAL_TYPE`, ``rule``, ``column``, ``asset``,
``success``, ``observed_value``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from components.frames import ASSET, TIMESTAMP
from components.quality.config import ValidationConfig

RULE_ORDER = "timestamp_order"
RULE_INTERVAL = "sampling_interval"
ORDER_TYPE = "anomflow_timestamps_strictly_increase_per_asset"
INTERVAL_TYPE = "anomflow_median_sampling_interval_per_asset"


def time_steps(frame: pd.DataFrame) -> np.ndarray:
    """Per row (rows,): seconds since the latest earlier time stamp of its asset (frame
    order); NaN for an asset's first row and for a row without a time stamp. ``frame``
    needs a tz-aware ``timestamp`` and an ``asset`` column."""
    seconds = pd.Series((frame[TIMESTAMP] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype="float64"), index=frame.index)
    keys = frame[ASSET]
    previous = seconds.groupby(keys, sort=False, dropna=False).cummax()  # NaT rows are skipped by cummax
    previous = previous.groupby(keys, sort=False, dropna=False).shift(1)
    previous = previous.groupby(keys, sort=False, dropna=False).ffill()  # past a NaT row, the last valid maximum
    return (seconds - previous).to_numpy(dtype="float64")


@dataclass(frozen=True)
class OrderCheck:
    """Rows breaking the order rule: ``positions`` (frame positions) and their ``steps`` (s)."""

    positions: np.ndarray
    steps: np.ndarray
    element_count: int

    def report(self) -> dict:
        count = len(self.positions)
        return {
            "type": ORDER_TYPE, "rule": RULE_ORDER, "column": TIMESTAMP, "success": count == 0,
            "unexpected_count": count, "element_count": self.element_count,
            "unexpected_percent": 100.0 * count / self.element_count if self.element_count else 0.0,
        }


def check_order(steps: np.ndarray) -> OrderCheck:
    bad = np.flatnonzero(steps <= 0)  # NaN steps compare False
    return OrderCheck(bad, steps[bad], int(np.isfinite(steps).sum()))


def check_intervals(frame: pd.DataFrame, steps: np.ndarray, cfg: ValidationConfig) -> list[dict]:
    """The sampling-interval rule's report per asset with at least one positive step, in
    order of first appearance; ``observed_value``: the asset's median step (s)."""
    low, high = cfg.interval_bounds()
    positive = pd.Series(np.where(steps > 0, steps, np.nan), index=frame.index)
    medians = positive.groupby(frame[ASSET], sort=False).median().dropna()
    return [
        {
            "type": INTERVAL_TYPE, "rule": RULE_INTERVAL, "column": TIMESTAMP, "asset": str(asset),
            "success": bool(low <= median <= high), "observed_value": float(median), "min_value": low, "max_value": high,
        }
        for asset, median in medians.items()
    ]
