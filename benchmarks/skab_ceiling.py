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

from components.benchmarks.skab import TRAIN_ROWS, list_experiments, pooled_rates  # noqa: E402

SMOOTH_ROWS = (1, 5, 10, 30)
QUANTILES = (0.95, 0.99, 1.0)
MULTIPLIERS = (1.0, 1.5)
FIXED = {"smooth": 1, "quantile": 1.0, "multiplier": 1.0}
DIRECTIONS = ("low", "high", "both")


def deviation(values: np.ndarray, direction: str, smooth: int) -> np.ndarray:
    """(rows,) trailing mean over ``smooth`` rows of the signed deviation from the first
    ``TRAIN_ROWS`` rows' mean, in their standard deviations."""
    train = values[:TRAIN_ROWS]
    z = (values - train.mean()) / (train.std() or 1.0)
    z = {"low": -z, "high": z, "both": np.abs(z)}[direction]
    return pd.Series(z).rolling(smooth, min_periods=1).mean().to_numpy()


def ceiling(data: str | Path, sensor: str, direction: str) -> dict:
    """The ``fixed`` rule's and the ``test_optimised`` grid's pooled F1/FAR/MAR on ``data``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"--direction must be one of {DIRECTIONS}, got {direction!r}")
    experiments = []
    for path in list_experiments(data):
        frame = pd.read_csv(path, sep=";")
        if sensor not in frame.columns:
            raise ValueError(f"{path}: no column {sensor!r} (columns: {list(frame.columns)})")
        experiments.append((frame[sensor].to_numpy(dtype=float), frame["anomaly"].to_numpy(dtype=np.int8)))
    grid = []
    for smooth, quantile, multiplier in itertools.product(SMOOTH_ROWS, QUANTILES, MULTIPLIERS):
        labels, preds = [], []
        for values, anomaly in experiments:
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
    for name in ("fixed", "test_optimised"):
        r = report[name]
        print(f"{name}: F1 {r['f1']:.3f}  FAR {r['far']:.1f} %  MAR {r['mar']:.1f} %  (smooth {r['smooth']}, q {r['quantile']}, x{r['multiplier']})")


if __name__ == "__main__":
    main()
