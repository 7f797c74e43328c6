"""Benchmark metrics over seeds."""

from __future__ import annotations

import numpy as np
import pytest

from components.benchmarks.series_metrics import mean_over_seeds


def test_one_seed_report_has_no_spread():
    one = mean_over_seeds([{"m": {"vus_pr": 0.5, "threshold_method": "pot"}}], "m", [7])
    assert one == {"vus_pr": 0.5, "threshold_method": "pot"}
    two = mean_over_seeds([{"m": {"vus_pr": 0.4, "epochs": 3, "threshold_method": "pot"}}, {"m": {"vus_pr": 0.6, "epochs": 5, "threshold_method": "pot"}}], "m", [7, 9])
    assert two["vus_pr"] == pytest.approx(0.5) and two["vus_pr_sd"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert two["vus_pr_by_seed"] == [0.4, 0.6] and two["epochs"] == 4 and two["seeds"] == [7, 9]
    assert "epochs_sd" not in two and two["threshold_method"] == "pot"
