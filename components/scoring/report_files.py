"""The evaluate stage's per-model data files, laid out for ``dvc metrics show`` and
``dvc plots show`` (one file per model, so each tool shows a row or a plot per model):

* ``reports/metrics/<model>.json``: the model's numeric test metrics (strings, ids and
  missing values left out; point-adjusted F1 keeps its ``_point_adjusted`` name);
* ``reports/plots/loss/<model>.csv``: ``epoch, train_loss, val_loss`` of a network;
* ``reports/plots/roc/<model>.csv``: ``fpr, tpr`` and ``reports/plots/pr/<model>.csv``:
  ``recall, precision`` on the test split, at most :data:`CURVE_POINTS` points each.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

METRICS_DIR = "metrics"
LOSS_DIR = Path("plots") / "loss"
ROC_DIR = Path("plots") / "roc"
PR_DIR = Path("plots") / "pr"
CURVE_POINTS = 300


def numeric_metrics(metrics: dict) -> dict[str, float]:
    """The finite numbers of ``metrics`` (booleans and strings left out)."""
    return {
        key: value for key, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


def write_metric_file(reports: Path, kind: str, metrics: dict) -> Path:
    path = reports / METRICS_DIR / f"{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(numeric_metrics(metrics), indent=2))
    return path


def write_loss_file(reports: Path, kind: str, history: list[dict]) -> Path | None:
    """The network's losses per epoch; None (nothing written) for a model without epochs."""
    if not history:
        return None
    path = reports / LOSS_DIR / f"{kind}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(history).reindex(columns=["epoch", "train_loss", "val_loss"]).to_csv(path, index=False)
    return path


def _thinned(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """At most ``points`` rows, evenly spaced, first and last kept."""
    if len(frame) <= points:
        return frame
    return frame.iloc[np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))]


def write_curve_files(reports: Path, kind: str, labels: np.ndarray, scores: np.ndarray, points: int = CURVE_POINTS) -> list[Path]:
    """ROC and precision-recall curves of the rows with a score; nothing where the labels
    hold one class only (no curve exists)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    scored = np.isfinite(scores)
    y, s = np.asarray(labels)[scored] > 0, np.asarray(scores)[scored]
    if np.unique(y).size < 2:
        return []
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    written = []
    for folder, frame in (
        (ROC_DIR, pd.DataFrame({"fpr": fpr, "tpr": tpr})),
        (PR_DIR, pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})),
    ):
        path = reports / folder / f"{kind}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        _thinned(frame, points).to_csv(path, index=False, float_format="%.6g")
        written.append(path)
    return written
