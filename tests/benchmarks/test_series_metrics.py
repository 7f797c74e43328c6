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


def test_event_level_alarms_follow_the_rule_chosen_on_validation():
    from components.benchmarks.series_metrics import aggregate, evaluate_scores, validation_alarm_rule

    rng = np.random.default_rng(0)
    val = rng.normal(0, 1, 2000)
    val[500:503] = 50.0  # a 3-row excursion on normal rows: the rule must outlast it
    threshold = 10.0
    rule = validation_alarm_rule(val, threshold)
    assert rule.raise_after == 4 and rule.clear_after == 4

    test = rng.normal(0, 1, 600)
    labels = np.zeros(600, dtype=np.int8)
    labels[100:150] = 1
    test[100:150] = 50.0  # a lasting fault
    test[400:402] = 50.0  # a 2-row blip on normal rows
    metrics, arrays = evaluate_scores(val, test, labels)
    assert metrics["raise_after"] == rule.raise_after == validation_alarm_rule(val, metrics["threshold"]).raise_after
    assert metrics["events"] == 1 and metrics["alarm_events_found"] == 1 and metrics["alarm_false_events"] == 0
    assert metrics["alarm_mean_delay_rows"] == rule.raise_after - 1
    assert arrays["pred"][400:402].all() and not arrays["alarm"][400:410].any()
    held = 150 + rule.clear_after - 1  # the row where clear_after rows below have passed
    assert arrays["alarm"][103:held].all() and not arrays["alarm"][held]
    totals = aggregate({"a": {**metrics, "train_s": 1, "score_s": 1, "epochs": 1, "test_rows": 600}}, [arrays])
    assert totals["alarm_events_found"] == 1 and totals["alarm_false_events"] == 0 and 0 < totals["alarm_f1"] <= 1
