"""The evaluate stage: score the test split, metrics at the alarm threshold, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.frames import ASSET, LABEL, SESSION, TIMESTAMP
from components.models.store import load_network
from components.scoring.metrics import evaluate_scores
from components.scoring.plots import plot_loss_curves, plot_score_timeline
from components.scoring.series_scores import score_frame
from components.scoring.threshold_stage import THRESHOLDS_FILE
from components.scoring.thresholds import classify_levels, load_thresholds
from components.training.train import HISTORY_FILE

METRICS_FILE = "metrics.json"
SCORES_FILE = "scores_test.parquet"
LOSS_CSV = "loss_curves.csv"


def evaluate_model(cfg: PipelineConfig, prepared: PreparedData, model_dir: str | Path) -> dict:
    """Write ``reports/metrics.json``, ``reports/scores_test.parquet`` and plots; return metrics.

    Point metrics use the ``evaluate.alarm_level`` threshold from validation data.
    """
    model_dir = Path(model_dir)
    reports = cfg.paths.reports_dir()
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    net, spec = load_network(model_dir)
    thresholds = load_thresholds(model_dir / THRESHOLDS_FILE)
    test = prepared.splits["test"]
    scores = score_frame(net, spec, prepared.scaler, test).score

    scored = test[[TIMESTAMP, ASSET, SESSION] + ([LABEL] if LABEL in test else [])].copy()
    scored["score"] = scores
    scored["level"] = classify_levels(scores, thresholds)
    scored.to_parquet(reports / SCORES_FILE, index=False)

    metrics: dict = {"model": spec.kind, "alarm_level": cfg.evaluate.alarm_level, "labelled": LABEL in test}
    if LABEL in test:
        threshold = thresholds[cfg.evaluate.alarm_level]
        metrics.update(evaluate_scores(test[LABEL].to_numpy(), scores, threshold, window=cfg.evaluate.vus_window))
    else:
        finite = scores[np.isfinite(scores)]
        metrics.update({"n": int(len(scores)), "n_unscored": int(len(scores) - len(finite)), "alarm_rate": float(np.mean(finite > thresholds[cfg.evaluate.alarm_level]))})
    metrics = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}
    (reports / METRICS_FILE).write_text(json.dumps(metrics, indent=2))

    history = json.loads((model_dir / HISTORY_FILE).read_text())
    pd.DataFrame(history).to_csv(reports / LOSS_CSV, index=False)
    plot_score_timeline(scored, thresholds, reports / "plots" / "score_timeline.png")
    plot_loss_curves(history, reports / "plots" / "loss_curves.png")
    return metrics
