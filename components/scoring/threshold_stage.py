"""The threshold stage: alarm levels and the alarm rule from validation scores only
(never test data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.config import PipelineConfig
from components.detectors.registry import load_detector
from components.features.prepare import PreparedData
from components.frames import ASSET, LABEL
from components.scoring.alarms import choose_rule, level_index
from components.scoring.thresholds import save_thresholds, set_levels, tracked_scores


def labelled_history(labels: np.ndarray, window: int) -> np.ndarray:
    """True where any of the ``window`` rows ending at a row is a labelled anomaly."""
    csum = np.concatenate([[0], np.cumsum(labels.astype(np.int64))])
    ends = np.arange(len(labels))
    return csum[ends + 1] - csum[np.maximum(ends - window + 1, 0)] > 0


def set_thresholds(cfg: PipelineConfig, prepared: PreparedData, model_dir: str | Path, out: str | Path) -> dict:
    """Score the validation split with the model saved in ``model_dir`` and write its
    alarm levels and, under ``alarm``, its alarm rule (:func:`~components.scoring.alarms.choose_rule`,
    rows near a labelled anomaly not counted) to ``out`` (JSON)."""
    detector = load_detector(model_dir)
    val = prepared.splits["val"]
    scores = detector.score_frame(prepared.scaler, val).score
    labels = val[LABEL].to_numpy() if LABEL in val.columns else None
    keep = np.ones(len(scores), dtype=bool)
    if labels is not None and cfg.prepare.exclude_labelled_from_fit and cfg.threshold.method != "best_f1":
        keep = ~labelled_history(labels, detector.window)
    assets = val[ASSET].to_numpy() if ASSET in val.columns else np.zeros(len(val), dtype=np.int8)
    scores = np.where(keep, scores, np.nan)
    levels = set_levels(scores, cfg.threshold, val_labels=labels, assets=assets)
    index = level_index(tracked_scores(scores, assets, levels, states={})[0], levels)  # as served from a fresh reference
    levels["alarm"] = choose_rule(index, assets, cfg.prepare.times()[0], cfg.alarm)[1]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_thresholds(levels, Path(out))
    return levels
