"""The threshold and metrics every benchmarked model is judged by, per series and pooled.

* Threshold: POT on the validation scores, ``set_levels(val, ThresholdConfig())["warning"]``
  (risk 1e-2; never fitted on test data). Point alarms: ``pred = score > threshold``.
* Event-level alarms (:mod:`components.scoring.alarms`): the rows flagged by the product's
  hysteresis rule, ``alarm``, with ``raise_after`` = ``clear_after`` the smallest of
  :data:`~components.scoring.alarms.RAISE_GRID` (up to 60 rows) that raises no alarm event
  on the validation rows (the series has no timestamps, so "no event on validation" stands
  in for the product's false-events-per-day budget). ``alarm_events_found`` (labelled
  events with an alarm row), ``alarm_false_events`` (alarm events touching no labelled
  row) and ``alarm_mean_delay_rows`` per series; ``alarm_f1`` etc. pooled.
* Metrics per series: ``vus_pr`` (TSB-AD, window 100), ``pr_auc``, ``roc_auc``, point
  ``precision``/``recall``/``f1`` at the threshold, and ``pa_f1`` = :func:`best_pa_f1`,
  the best point-adjusted F1 over a grid of *test-optimised* thresholds (inflated; an
  implementation check against the papers' tables only, never a headline).
* Aggregates per model (:func:`aggregate`): ``vus_pr``, ``pr_auc``, ``roc_auc`` = mean
  over series; ``f1`` (and ``precision``/``recall``) = point metrics of all series'
  predictions pooled; ``pa_f1`` = best PA-F1 on the pooled test scores after putting each
  series' scores in units of its own threshold, so that one multiplier sweeps every series
  at once: ``s / threshold`` — or, when a series' validation scores go below 0
  (OmniAnomaly's −log p can), ``(s − m) / (threshold − m)`` with ``m`` that series' lowest
  validation score; either way the threshold maps to 1 and the score order is kept.
  ``rows_per_s`` = test rows scored / seconds spent scoring them; ``train_s`` = total
  training seconds, ``epochs`` = total epochs run, ``train_s_per_epoch`` = their ratio.
* Several seeds (:func:`mean_over_seeds`): every number of a model (aggregate and per
  series) is the mean over the seeds, with ``<metric>_sd`` (sample standard deviation over
  seeds) and ``<metric>_by_seed`` for the quality metrics, and ``seeds`` = the seeds. On
  MSL one seed's mean VUS-PR moves by a few hundredths with the initialisation alone, so
  comparisons between neural models need more than one seed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

VUS_WINDOW = 100
QUALITY_METRICS = ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1")


def warning_threshold(val_scores: np.ndarray) -> tuple[float, str]:
    """(the POT warning level of ``val_scores``, the method that set it), the threshold
    every benchmarked model is flagged at."""
    from components.scoring.thresholds import ThresholdConfig, set_levels

    levels = set_levels(val_scores, ThresholdConfig())
    return levels["warning"], levels["details"]["warning"]["method"]


def evaluate_scores(val_scores: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> tuple[dict, dict]:
    """Threshold and metrics of one series, the same for every model (ours and the peers'):
    POT warning level on ``val_scores``, ``pred = scores > threshold``, and the test metrics
    of the module docstring. Returns (metrics, arrays ``labels``, ``scores``, ``pred``,
    ``units`` = scores in threshold units)."""
    from components.scoring.metrics import (
        best_pa_f1,
        point_metrics,
        pr_auc,
        roc_auc,
        vus_pr,
    )

    threshold, method = warning_threshold(val_scores)
    pred = (scores > threshold).astype(np.int8)
    rule = validation_alarm_rule(val_scores, threshold)
    alarm = alarm_rows(scores, threshold, rule)
    floor = min(0.0, float(np.min(val_scores)))
    scale = threshold - floor
    units = (scores - floor) / (scale if scale > 0 else 1.0)
    metrics = {
        "vus_pr": vus_pr(labels, scores, VUS_WINDOW),
        "pr_auc": pr_auc(labels, scores),
        "roc_auc": roc_auc(labels, scores),
        **{k: v for k, v in point_metrics(labels, pred).items() if k != "f2"},
        "pa_f1": best_pa_f1(labels, scores),
        "threshold": threshold,
        "threshold_method": method,
        "threshold_floor": floor,
        **{f"alarm_{k}": v for k, v in point_metrics(labels, alarm).items() if k in ("precision", "recall", "f1")},
        **series_events(labels, alarm),
        "raise_after": rule.raise_after,
    }
    return metrics, {"labels": labels, "scores": scores, "pred": pred, "units": units, "alarm": alarm}


def validation_alarm_rule(val_scores: np.ndarray, threshold: float):
    """The :class:`~components.scoring.alarms.AlarmRule` of one series: the smallest
    ``raise_after`` (= ``clear_after``) that raises no alarm event on ``val_scores``
    (normal rows) at ``threshold``; the largest tried when none does."""
    from components.scoring.alarms import AlarmConfig, choose_rule

    index = (np.asarray(val_scores) > threshold).astype(np.int8)
    # 1 s a row and a budget below one event over the validation span: no event allowed
    budget = 0.5 / (len(index) / 86_400.0)
    rule, _ = choose_rule(index, np.zeros(len(index)), 1.0, AlarmConfig(max_false_events_per_day=budget))
    return rule


def alarm_rows(scores: np.ndarray, threshold: float, rule) -> np.ndarray:
    """(rows,) int8 1 where the event-level alarm under ``rule`` is raised at ``threshold``."""
    from components.scoring.alarms import alarm_levels

    index = (np.asarray(scores) > threshold).astype(np.int8)
    return (alarm_levels(index, rule)[0] >= 1).astype(np.int8)


def series_events(labels: np.ndarray, alarm: np.ndarray) -> dict:
    """Event counts of one series' ``alarm`` rows (rows,) against its ``labels``:
    ``alarm_events_found``, ``alarm_false_events``, ``alarm_mean_delay_rows``, ``events``."""
    from components.scoring.alarms import event_metrics
    from components.scoring.metrics import events

    found = event_metrics(labels, alarm, np.zeros(len(alarm)), np.zeros(len(alarm), dtype=np.int8), 1.0)
    return {
        "events": len(events(np.asarray(labels).astype(bool))),
        "alarm_events_found": found["alarm_events_found"],
        "alarm_false_events": found["alarm_false_events"],
        "alarm_mean_delay_rows": found["alarm_mean_delay_rows"],
    }


def aggregate(per_channel: dict[str, dict], pooled: list[dict]) -> dict:
    """The model's aggregate numbers (see the module docstring) from its channels."""
    from components.scoring.metrics import best_pa_f1, point_metrics

    rows = list(per_channel.values())
    labels = np.concatenate([p["labels"] for p in pooled])
    pred = np.concatenate([p["pred"] for p in pooled])
    units = np.concatenate([p["units"] for p in pooled])
    point = point_metrics(labels, pred)
    alarm = point_metrics(labels, np.concatenate([p["alarm"] for p in pooled]))
    train_s = float(sum(r["train_s"] for r in rows))
    score_s = float(sum(r["score_s"] for r in rows))
    epochs = int(sum(r["epochs"] for r in rows))
    test_rows = int(sum(r["test_rows"] for r in rows))
    return {
        **{m: _nanmean([r[m] for r in rows]) for m in ("vus_pr", "pr_auc", "roc_auc")},
        "f1": point["f1"],
        "precision": point["precision"],
        "recall": point["recall"],
        "pa_f1": best_pa_f1(labels, units),
        "pa_f1_channel_mean": _nanmean([r["pa_f1"] for r in rows]),
        **alarm_totals(rows),
        "alarm_f1": alarm["f1"],
        "rows_per_s": test_rows / score_s if score_s > 0 else float("nan"),
        "train_s": train_s,
        "train_s_per_epoch": train_s / epochs if epochs else float("nan"),
        "epochs": epochs,
        "score_s": score_s,
        "test_rows": test_rows,
        "channels": len(rows),
    }


def alarm_totals(rows: list[dict]) -> dict:
    """Event-level alarm numbers summed over series (``rows``: per-series metrics): events,
    events found, false alarm events; the mean delay over the events found."""
    found = sum(r["alarm_events_found"] for r in rows)
    delays = sum(r["alarm_mean_delay_rows"] * r["alarm_events_found"] for r in rows if r["alarm_events_found"])
    return {
        "events": int(sum(r["events"] for r in rows)),
        "alarm_events_found": int(found),
        "alarm_false_events": int(sum(r["alarm_false_events"] for r in rows)),
        "alarm_mean_delay_rows": delays / found if found else float("nan"),
    }


def _nanmean(values: list[float]) -> float:
    """Mean of the finite ``values`` (None and NaN left out); NaN when none is."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def mean_over_seeds(runs: list[dict], key: str, seeds: Sequence[int]) -> dict:
    """``runs[i][key]`` (one metrics dict per seed) as one dict: numbers averaged over
    the seeds (NaN-aware), anything else from the first seed; with several seeds, also
    ``<metric>_sd`` (sample standard deviation) and ``<metric>_by_seed`` for the quality
    metrics, and ``seeds``."""
    records = [run[key] for run in runs]
    if len(records) == 1:
        return dict(records[0])
    merged = {}
    for name, first in records[0].items():
        values = [r.get(name) for r in records]
        numeric = isinstance(first, (int, float)) and not isinstance(first, bool)
        merged[name] = _nanmean(values) if numeric else first
        if numeric and name in QUALITY_METRICS:
            finite = [v for v in values if v is not None and np.isfinite(v)]
            merged[f"{name}_sd"] = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
            merged[f"{name}_by_seed"] = [None if v is None or not np.isfinite(v) else float(v) for v in values]
    merged["seeds"] = list(seeds)
    return merged
