"""The threshold stage: alarm levels from validation scores only (never test data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.frames import LABEL
from components.models.store import load_network
from components.scoring.series_scores import score_frame
from components.scoring.thresholds import save_thresholds, set_levels

THRESHOLDS_FILE = "thresholds.json"


def labelled_history(labels: np.ndarray, window: int) -> np.ndarray:
    """True where any of the ``window`` rows ending at a row is a labelled anomaly."""
    csum = np.concatenate([[0], np.cumsum(labels.astype(np.int64))])
    ends = np.arange(len(labels))
    return csum[ends + 1] - csum[np.maximum(ends - window + 1, 0)] > 0


def set_thresholds(cfg: PipelineConfig, prepared: PreparedData, model_dir: str | Path) -> dict:
    """Score the validation split and write ``<model_dir>/thresholds.json``."""
    net, spec = load_network(model_dir)
    val = prepared.splits["val"]
    scores = score_frame(net, spec, prepared.scaler, val).score
    labels = val[LABEL].to_numpy() if LABEL in val.columns else None
    if labels is not None and cfg.prepare.exclude_labelled_from_fit and cfg.threshold.method != "best_f1":
        keep = ~labelled_history(labels, spec.window)
        scores, labels = scores[keep], labels[keep]
    levels = set_levels(scores, cfg.threshold, val_labels=labels)
    save_thresholds(levels, Path(model_dir) / THRESHOLDS_FILE)
    return levels
