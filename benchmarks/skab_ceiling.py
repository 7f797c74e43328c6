"""How far can a detector get on SKAB's leaderboard protocol when it is *told* which
sensor carries the faults and in which direction? A ceiling for the README, not a model.

Usage (from the project root):
    .venv/bin/python benchmarks/skab_ceiling.py --data ../shared/datasets/skab \
        --sensor "Volume Flow RateRMS" --direction low

Per experiment file, with :mod:`components.benchmarks.skab`'s split (first 400 rows
train, the rest test): the one sensor's deviation from its training mean in training
standard deviations, signed so that the named ``direction`` is positive (``low``: a drop
scores high; ``both``: the absolute deviation), averaged over the trailing ``smooth`` rows
(causal), and flagged above ``multiplier`` × the ``quantile`` of the training rows'
values. Pooled F1, FAR and MAR (%) over all files, as the benchmark reports them.

Two results, labelled differently on purpose:

* ``fixed``: one rule chosen before looking at any test row (no smoothing, flag above the
  largest training value);
* ``test_optimised``: the best pooled F1 over a small grid of smoothing windows,
  quantiles and multipliers, chosen *on the test rows*: an upper bound of what this
  single-sensor rule reaches, not a result.

A third, *untold* rule (``untold`` in the JSON) knows no sensor: every sensor's deviation
from its training mean (|z|, trailing mean over ``smooth`` rows) is divided by the
largest such deviation that the same sensor reached on training rows ``fit_rows`` … 399
when its mean and standard deviation came from rows 0 … ``fit_rows`` − 1 only: a
forward-validation scale, large for a sensor that drifted within its training rows.
The row's score is the largest of those ratios over sensors; it is flagged above
``multiplier``. Reported: the rule fixed in advance (no smoothing, fit on 200 rows,
multiplier 1), the best of its grid chosen on the test rows, and for each grid point the
pooled per-file best-threshold F1 of :func:`components.benchmarks.skab.best_threshold_pred`
(free, and with every file's FAR within 10 %): how good its *ranking* is, apart from
its threshold. All but ``fixed`` are upper bounds, not results.

A fourth, *tracking* rule (``tracking`` in the JSON) also knows no sensor, and follows
drift the way DSPOT does (:mod:`benchmarks.research_lib.drift_tracking`): each sensor is
compared with the mean of its last ``depth`` *accepted* values, a value being accepted only
while the sensor's residual stays under ``multiplier`` × its largest training residual, so
a slow drift moves the reference along while a fault freezes it. A row scores the largest
residual / threshold over sensors and is flagged above 1. Reported: the
best of its grid chosen on the test rows (an upper bound), per-file best-threshold bounds
per grid point, and ``leave_one_file_out``: every file scored at the grid point with the
best pooled F1 on the *other* files, so no file's labels choose its own settings (an
honest estimate of the tuned rule).

Writes reports/benchmarks/skab_ceiling.json (``--out``) with every grid point.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.research_lib.drift_tracking import track  # noqa: E402
from components.benchmarks.skab import (  # noqa: E402
    NON_SENSOR, TRAIN_ROWS, list_experiments, pooled_rates, threshold_bounds,
)

SMOOTH_ROWS = (1, 5, 10, 30)
QUANTILES = (0.95, 0.99, 1.0)
MULTIPLIERS = (1.0, 1.5)
FIXED = {"smooth": 1, "quantile": 1.0, "multiplier": 1.0}
DIRECTIONS = ("low", "high", "both")
UNTOLD_SMOOTH_ROWS = (1, 10, 30)
UNTOLD_FIT_ROWS = (200, 300)
UNTOLD_MULTIPLIERS = (1.0, 1.5, 2.0, 3.0)
UNTOLD_FIXED = {"smooth": 1, "fit_rows": 200, "multiplier": 1.0}
TRACKING_DEPTHS = (30, 100, 200)
TRACKING_SMOOTH_ROWS = (1, 5, 10, 20)
TRACKING_MULTIPLIERS = (1.0, 1.25, 1.5, 2.0)


def deviation(values: np.ndarray, direction: str, smooth: int) -> np.ndarray:
    """(rows,) trailing mean over ``smooth`` rows of the signed deviation from the first
    ``TRAIN_ROWS`` rows' mean, in their standard deviations."""
    train = values[:TRAIN_ROWS]
    z = (values - train.mean()) / (train.std() or 1.0)
    z = {"low": -z, "high": z, "both": np.abs(z)}[direction]
    return pd.Series(z).rolling(smooth, min_periods=1).mean().to_numpy()


def _trailing_abs_z(values: np.ndarray, rows: int, smooth: int) -> np.ndarray:
    """(rows_total, sensors) |z| against the first ``rows`` rows' mean and std, trailing
    mean over ``smooth`` rows."""
    reference = values[:rows]
    std = reference.std(axis=0)
    z = (values - reference.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return np.abs(pd.DataFrame(z).rolling(smooth, min_periods=1).mean().to_numpy())


def drift_normalised_score(values: np.ndarray, smooth: int, fit_rows: int) -> np.ndarray:
    """(rows,) the untold rule's score of one experiment's ``values`` (rows, sensors):
    max over sensors of |z| (training mean and std, trailing mean over ``smooth`` rows)
    divided by the sensor's forward-validation scale (the largest |z| on training rows
    ``fit_rows`` … 399 with mean and std from rows 0 … ``fit_rows`` − 1)."""
    if not 0 < fit_rows < TRAIN_ROWS:
        raise ValueError(f"fit_rows must be in (0, {TRAIN_ROWS}), got {fit_rows}")
    deviation = _trailing_abs_z(values, TRAIN_ROWS, smooth)
    forward = _trailing_abs_z(values[:TRAIN_ROWS], fit_rows, smooth)[fit_rows:].max(axis=0)
    return (deviation / np.maximum(forward, 1e-9)).max(axis=1)


def untold(experiments: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """The untold rule on (all sensors (rows, sensors), labels (rows,)) experiments: its
    ``fixed`` and ``test_optimised`` results, and the best-threshold bounds per grid point."""
    grid, bounds = [], []
    for smooth, fit_rows in itertools.product(UNTOLD_SMOOTH_ROWS, UNTOLD_FIT_ROWS):
        scores = [drift_normalised_score(values, smooth, fit_rows)[TRAIN_ROWS:] for values, _ in experiments]
        labels = [anomaly[TRAIN_ROWS:] for _, anomaly in experiments]
        pooled = np.concatenate(labels)
        for multiplier in UNTOLD_MULTIPLIERS:
            rates = pooled_rates(pooled, np.concatenate([s > multiplier for s in scores]))
            grid.append({"smooth": smooth, "fit_rows": fit_rows, "multiplier": multiplier, **{k: rates[k] for k in ("f1", "far", "mar")}})
        bounds.append({"smooth": smooth, "fit_rows": fit_rows, **threshold_bounds(labels, scores)})
    return {
        "fixed": next(g for g in grid if all(g[k] == v for k, v in UNTOLD_FIXED.items())),
        "test_optimised": max(grid, key=lambda g: g["f1"]),
        "best_threshold": max(bounds, key=lambda b: b["f1_best_threshold"]),
        "grid": grid,
        "bounds": bounds,
    }


def drift_tracking_score(values: np.ndarray, depth: int, smooth: int, multiplier: float) -> np.ndarray:
    """(test rows,) the tracking rule's score of one experiment's ``values`` (rows,
    sensors): max over sensors of |residual| / threshold of
    :func:`benchmarks.research_lib.drift_tracking.track`, flagged above 1."""
    tracked = track(values, TRAIN_ROWS, depth, smooth, multiplier)
    return (np.abs(tracked.residuals[TRAIN_ROWS:]) / tracked.thresholds).max(axis=1)


def tracking(experiments: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """The tracking rule on (all sensors (rows, sensors), labels (rows,)) experiments: its
    grid, ``test_optimised`` and ``leave_one_file_out`` results and per-point bounds."""
    labels = [anomaly[TRAIN_ROWS:] for _, anomaly in experiments]
    points = list(itertools.product(TRACKING_DEPTHS, TRACKING_SMOOTH_ROWS, TRACKING_MULTIPLIERS))
    scores = {p: [drift_tracking_score(values, *p) for values, _ in experiments] for p in points}

    def rates(point: tuple, files: list[int]) -> dict[str, float]:
        return pooled_rates(np.concatenate([labels[i] for i in files]), np.concatenate([scores[point][i] > 1 for i in files]))

    every = list(range(len(experiments)))
    grid = [{"depth": d, "smooth": s, "multiplier": m, **{k: rates((d, s, m), every)[k] for k in ("f1", "far", "mar")}} for d, s, m in points]
    chosen = [max(points, key=lambda p: rates(p, [j for j in every if j != i])["f1"]) for i in every]
    held_out = pooled_rates(np.concatenate(labels), np.concatenate([scores[p][i] > 1 for i, p in enumerate(chosen)]))
    bounds = [{"depth": d, "smooth": s, "multiplier": m, **threshold_bounds(labels, scores[(d, s, m)])} for d, s, m in points]
    return {
        "test_optimised": max(grid, key=lambda g: g["f1"]),
        "leave_one_file_out": {
            **{k: held_out[k] for k in ("f1", "far", "mar")},
            "chosen": [dict(zip(("depth", "smooth", "multiplier"), p)) for p in chosen],
        },
        "best_threshold": max(bounds, key=lambda b: b["f1_best_threshold_far10"]),
        "grid": grid,
        "bounds": bounds,
    }


def ceiling(data: str | Path, sensor: str, direction: str) -> dict:
    """The ``fixed`` rule's and the ``test_optimised`` grid's pooled F1/FAR/MAR on ``data``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"--direction must be one of {DIRECTIONS}, got {direction!r}")
    experiments = []
    for path in list_experiments(data):
        frame = pd.read_csv(path, sep=";")
        if sensor not in frame.columns:
            raise ValueError(f"{path}: no column {sensor!r} (columns: {list(frame.columns)})")
        sensors = [c for c in frame.columns if c not in NON_SENSOR]
        experiments.append((frame[sensor].to_numpy(dtype=float), frame["anomaly"].to_numpy(dtype=np.int8), frame[sensors].to_numpy(dtype=float)))
    grid = []
    for smooth, quantile, multiplier in itertools.product(SMOOTH_ROWS, QUANTILES, MULTIPLIERS):
        labels, preds = [], []
        for values, anomaly, _ in experiments:
            score = deviation(values, direction, smooth)
            threshold = multiplier * np.quantile(score[:TRAIN_ROWS], quantile)
            labels.append(anomaly[TRAIN_ROWS:])
            preds.append(score[TRAIN_ROWS:] > threshold)
        rates = pooled_rates(np.concatenate(labels), np.concatenate(preds))
        grid.append({"smooth": smooth, "quantile": quantile, "multiplier": multiplier, **{k: rates[k] for k in ("f1", "far", "mar")}})
    fixed = next(g for g in grid if all(g[k] == v for k, v in FIXED.items()))
    return {
        "sensor": sensor,
        "direction": direction,
        "files": len(experiments),
        "fixed": fixed,
        "test_optimised": max(grid, key=lambda g: g["f1"]),
        "grid": grid,
        "untold": untold([(every, anomaly) for _, anomaly, every in experiments]),
        "tracking": tracking([(every, anomaly) for _, anomaly, every in experiments]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder laid out like SKAB's data/")
    parser.add_argument("--sensor", default="Volume Flow RateRMS")
    parser.add_argument("--direction", default="low", choices=DIRECTIONS)
    parser.add_argument("--out", default="reports/benchmarks/skab_ceiling.json")
    args = parser.parse_args()
    report = ceiling(args.data, args.sensor, args.direction)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    for line in summary(report):
        print(line)


def summary(report: dict) -> list[str]:
    """One line per reported result of :func:`ceiling`: its rates and settings."""
    untold, tracking = report["untold"], report["tracking"]
    results = [
        *((f"told {n}", report[n], ("smooth", "quantile", "multiplier"), "") for n in ("fixed", "test_optimised")),
        *((f"untold {n}", untold[n], ("smooth", "fit_rows", "multiplier"), "") for n in ("fixed", "test_optimised")),
        ("untold per-file best thresholds", untold["best_threshold"], ("smooth", "fit_rows"), "_best_threshold"),
        ("untold per-file best thresholds, FAR <= 10 %", untold["best_threshold"], ("smooth", "fit_rows"), "_best_threshold_far10"),
        *((f"tracking {n}", tracking[n], (), "") for n in ("leave_one_file_out", "test_optimised")),
        ("tracking per-file best thresholds", tracking["best_threshold"], ("depth", "smooth", "multiplier"), "_best_threshold"),
        ("tracking per-file best thresholds, FAR <= 10 %", tracking["best_threshold"], ("depth", "smooth", "multiplier"), "_best_threshold_far10"),
    ]
    return [
        f"{label}: F1 {r['f1' + suffix]:.3f}  FAR {r['far' + suffix]:.1f} %  MAR {r['mar' + suffix]:.1f} %"
        + (f"  ({', '.join(f'{k} {r[k]}' for k in keys)})" if keys else "")
        for label, r, keys, suffix in results
    ]

if __name__ == "__main__":
    main()
