"""The time-axis rules checked beside the GX suite (components/quality/time_axis.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.quality.config import ValidationConfig
from components.quality.time_axis import check_intervals, check_order, time_steps


def _frame(minutes: list[float | None], assets: list[str]) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01", tz="UTC")
    stamps = [start + pd.Timedelta(minutes=m) if m is not None else pd.NaT for m in minutes]
    return pd.DataFrame({"timestamp": pd.Series(stamps, dtype="datetime64[ns, UTC]"), "asset": assets})


def test_a_step_is_measured_from_the_latest_earlier_stamp_of_the_same_asset():
    # pump-1: 0, 5, 3, 4, (missing), 6; pump-2 interleaved: 0, 1
    frame = _frame([0, 0, 5, 1, 3, 4, None, 6], ["p1", "p2", "p1", "p2", "p1", "p1", "p1", "p1"])
    steps = time_steps(frame)
    np.testing.assert_array_equal(steps, [np.nan, np.nan, 300, 60, -120, -60, np.nan, 60])
    order = check_order(steps)
    assert order.positions.tolist() == [4, 5]  # 4 is later than 3 but not than 5: out of order too
    assert order.report()["unexpected_count"] == 2 and order.report()["element_count"] == 5


def test_the_interval_rule_takes_each_asset_s_median_positive_step():
    cfg = ValidationConfig(expected_interval_s=60, interval_tolerance=0.5)
    frame = _frame([0, 1, 2, 3, 0, 2, 4, 4], ["a"] * 4 + ["b"] * 4)
    reports = check_intervals(frame, time_steps(frame), cfg)
    assert [(r["asset"], r["observed_value"], r["success"]) for r in reports] == [("a", 60.0, True), ("b", 120.0, False)]
    assert (reports[1]["min_value"], reports[1]["max_value"]) == (30.0, 90.0)
