"""The evaluate stage: score the test split with every trained model, metrics at each
model's alarm threshold (set on validation data), a leaderboard and plots."""

from __future__ import annotations

import json
import time
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

METRICS_FILE = "metrics.json"
LEADERBOARD_FILE = "leaderboard.csv"
SCORES_FILE = "scores_test.parquet"
LOSS_CSV = "loss_curves.csv"
LEADERBOARD_COLUMNS = ["model", "vus_pr", "pr_auc", "vus_roc", "roc_auc", "precision", "recall", "f1", "f2", "pa_f1_point_adjusted", "rows_per_s", "train_s"]


def _finite_or_none(metrics: dict) -> dict:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}


def evaluate_one(cfg: PipelineConfig, prepared: PreparedData, model_dir: Path) -> tuple[dict, np.ndarray]:
    """Metrics of one model on the test split and its per-row scores (rows,)."""
    net, spec = load_network(model_dir)
    thresholds = load_thresholds(model_dir / THRESHOLDS_FILE)
    test = prepared.splits["test"]
    start = time.perf_counter()
    scores = score_frame(net, spec, prepared.scaler, test).score
    seconds = time.perf_counter() - start
    fit_summary = json.loads((model_dir / "fit_summary.json").read_text())
    metrics: dict = {"model": spec.kind, "alarm_level": cfg.evaluate.alarm_level, "labelled": LABEL in test}
    if LABEL in test:
        metrics.update(evaluate_scores(test[LABEL].to_numpy(), scores, thresholds[cfg.evaluate.alarm_level], window=cfg.evaluate.vus_window))
    else:
        finite = scores[np.isfinite(scores)]
        metrics.update({"n": int(len(scores)), "n_unscored": int(len(scores) - len(finite)), "alarm_rate": float(np.mean(finite > thresholds[cfg.evaluate.alarm_level]))})
    metrics["rows_per_s"] = len(test) / seconds
    metrics["epochs"] = fit_summary["epochs"]
    metrics["train_s"] = fit_summary["train_s"]
    return _finite_or_none(metrics), scores


def evaluate_models(cfg: PipelineConfig, prepared: PreparedData) -> dict:
    """Write ``reports/metrics.json`` ({model: metrics}), ``reports/leaderboard.csv``,
    ``reports/scores_test.parquet`` (a score and level column per model), the loss
    curves of every model and the served model's score timeline; return the metrics."""
    reports = cfg.paths.reports_dir()
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    test = prepared.splits["test"]
    scored = test[[TIMESTAMP, ASSET, SESSION] + ([LABEL] if LABEL in test else [])].copy()
    all_metrics, losses = {}, []
    for kind in cfg.models():
        model_dir = cfg.paths.models_dir() / kind
        if not (model_dir / THRESHOLDS_FILE).exists():
            raise FileNotFoundError(f"{model_dir / THRESHOLDS_FILE} is missing: run `anomflow train --model {kind}` and `anomflow threshold` first")
        all_metrics[kind], scores = evaluate_one(cfg, prepared, model_dir)
        scored[f"score_{kind}"] = scores
        scored[f"level_{kind}"] = classify_levels(scores, load_thresholds(model_dir / THRESHOLDS_FILE))
        run = json.loads((model_dir / "mlflow_run.json").read_text())
        all_metrics[kind]["run_id"] = run["child"]
        history = json.loads((model_dir / "history.json").read_text())
        losses += [{"model": kind, **row} for row in history]
        plot_loss_curves(history, reports / "plots" / f"loss_curves_{kind}.png")
    scored.to_parquet(reports / SCORES_FILE, index=False)
    served = cfg.models()[0]
    timeline = scored.rename(columns={f"score_{served}": "score"})
    plot_score_timeline(timeline, load_thresholds(cfg.paths.models_dir() / served / THRESHOLDS_FILE), reports / "plots" / "score_timeline.png")
    pd.DataFrame(losses).to_csv(reports / LOSS_CSV, index=False)
    board = pd.DataFrame([{"model": k, **m} for k, m in all_metrics.items()])
    board = board.reindex(columns=[c for c in LEADERBOARD_COLUMNS if c in board.columns])
    board.sort_values("vus_pr" if "vus_pr" in board else "model", ascending=False).to_csv(reports / LEADERBOARD_FILE, index=False)
    (reports / METRICS_FILE).write_text(json.dumps(all_metrics, indent=2))
    return all_metrics
