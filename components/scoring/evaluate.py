"""The evaluate stage: score the test split with every trained model, metrics at each
model's alarm threshold (set on validation data), a leaderboard and plots.

When the test split has no labelled anomalies, seeded synthetic anomalies are injected
into it (:mod:`components.features.injection`) and every model is evaluated on that
same copy; ``metrics.json`` then says ``"labels": "synthetic"``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.frames import ASSET, LABEL, SESSION, TIMESTAMP
from components.progress import heartbeat
from components.stages import model_dir as model_dir_of
from components.stages import thresholds_path
from components.detectors.registry import SERVED_KIND, load_detector
from components.scoring.metrics import evaluate_scores
from components.scoring.plots import plot_contributions, plot_leaderboard, plot_loss_curves, plot_score_timeline
from components.scoring.report_files import METRICS_DIR, write_curve_files, write_loss_file, write_metric_file
from components.scoring.alarms import AlarmRule, alarm_names, alarms_by_asset, event_metrics, level_index
from components.scoring.thresholds import LEVELS, classify_levels, load_thresholds, tracked_scores

METRICS_FILE = "metrics.json"
LEADERBOARD_FILE = "leaderboard.csv"
SCORES_FILE = "scores_test.parquet"
LOSS_CSV = "loss_curves.csv"
LEADERBOARD_PLOT = "leaderboard.png"
CONTRIBUTIONS_PLOT = "contributions.png"
TIMELINE_DIR = "timeline"
LEADERBOARD_COLUMNS = [
    "model", "vus_pr", "pr_auc", "vus_roc", "roc_auc", "precision", "recall", "f1", "f2", "pa_f1_point_adjusted",
    "events", "events_detected", "mean_delay_steps", "alarm_events_found", "alarm_false_events_per_asset_day",
    "alarm_mean_delay_rows", "raise_after", "clear_after", "rows_per_s", "train_s",
]


@dataclass(frozen=True)
class EvaluationSet:
    """The test split as every model sees it: ``scaled`` (rows, n_sensors), ``sessions``,
    ``assets`` and ``labels`` (rows,), ``labels_source`` "labelled" or "synthetic",
    ``interval_s`` seconds a row."""

    scaled: np.ndarray
    sessions: np.ndarray
    assets: np.ndarray
    labels: np.ndarray
    labels_source: str
    interval_s: float


def evaluation_set(cfg: PipelineConfig, prepared: PreparedData) -> EvaluationSet:
    """The scaled test split with its labels, or with seeded injected anomalies if it has none."""
    from components.features.injection import inject_anomalies

    test = prepared.splits["test"]
    scaled, sessions, assets = prepared.scaler.transform(test), test[SESSION].to_numpy(), test[ASSET].to_numpy()
    interval_s = float(cfg.prepare.times()[0])
    if LABEL in test.columns and test[LABEL].to_numpy().any():
        return EvaluationSet(scaled, sessions, assets, test[LABEL].to_numpy(dtype=np.int8), "labelled", interval_s)
    injected = inject_anomalies(scaled, sessions, seed=cfg.evaluate.injection_seed)
    return EvaluationSet(injected.values.astype(np.float32), sessions, assets, injected.labels, "synthetic", interval_s)


def _shown(value: float | None) -> str:
    """A metric to 3 decimals, or ``n/a`` where it is undefined (None)."""
    return "n/a" if value is None else f"{value:.3f}"


def _finite_or_none(metrics: dict) -> dict:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}


def evaluate_one(cfg: PipelineConfig, data: EvaluationSet, model_dir: Path, thresholds_file: Path) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """Metrics of one model on the test set (at its levels in ``thresholds_file``: point
    metrics of the rows over the alarm level, and event metrics of its alarms, raised and
    cleared by its alarm rule), its per-row scores (rows,), alarm level indices (rows,) and
    per-sensor contributions (rows, n_sensors)."""
    detector = load_detector(model_dir)
    thresholds = load_thresholds(thresholds_file)
    start = time.perf_counter()
    scored = detector.score(data.scaled, data.sessions)
    seconds = time.perf_counter() - start
    scores = scored.score
    scores, _ = tracked_scores(scores, data.assets, thresholds)  # dspot: residuals from each asset's reference at the end of validation
    fit_summary = json.loads((model_dir / "fit_summary.json").read_text())
    metrics: dict = {"model": detector.kind, "alarm_level": cfg.evaluate.alarm_level, "labels": data.labels_source}
    metrics.update(evaluate_scores(data.labels, scores, thresholds[cfg.evaluate.alarm_level], window=cfg.evaluate.vus_window))
    rule, index = AlarmRule.of(thresholds), level_index(scores, thresholds)
    alarm = alarms_by_asset(index, data.assets, rule)
    metrics.update(event_metrics(data.labels, alarm, data.assets, index, data.interval_s, level=LEVELS.index(cfg.evaluate.alarm_level)))
    metrics.update({"raise_after": rule.raise_after, "clear_after": rule.clear_after})
    metrics["rows_per_s"] = len(scores) / seconds
    metrics["epochs"] = fit_summary["epochs"]
    metrics["train_s"] = fit_summary["train_s"]
    return _finite_or_none(metrics), scores, alarm, scored.contributions


def evaluate_models(cfg: PipelineConfig, prepared: PreparedData) -> dict:
    """Write ``reports/metrics.json`` ({model: metrics}), ``reports/leaderboard.csv`` and
    its plot, ``reports/scores_test.parquet`` (the labels used and a score, level and alarm
    column per model), per model a score timeline (``reports/plots/timeline/``), its loss
    curves (networks) and the data files of :mod:`components.scoring.report_files`, and the
    served model's contribution heat map; return the metrics."""
    reports = cfg.paths.reports_dir()
    plots = reports / "plots"
    shutil.rmtree(plots, ignore_errors=True)  # no figure of a model left out of this config
    shutil.rmtree(reports / METRICS_DIR, ignore_errors=True)
    (plots / TIMELINE_DIR).mkdir(parents=True)
    data = evaluation_set(cfg, prepared)
    scored = prepared.splits["test"][[TIMESTAMP, ASSET, SESSION]].copy()
    scored[LABEL] = data.labels
    all_metrics, losses = {}, []
    for kind in cfg.model_kinds():
        model_dir, levels_file = model_dir_of(cfg, kind), thresholds_path(cfg, kind)
        if not levels_file.exists():
            raise FileNotFoundError(f"{levels_file} is missing: run `anomflow train --model {kind}` and `anomflow threshold` first")
        with heartbeat(f"evaluate {kind}: scoring the test split"):
            all_metrics[kind], scores, alarm, contributions = evaluate_one(cfg, data, model_dir, levels_file)
        print(f"evaluated {kind}: VUS-PR {_shown(all_metrics[kind]['vus_pr'])}, F1 {_shown(all_metrics[kind]['f1'])}, "
              f"{all_metrics[kind].get('alarm_events_found')}/{all_metrics[kind].get('events')} events alarmed", flush=True)
        thresholds = load_thresholds(levels_file)
        scored[f"score_{kind}"] = scores
        scored[f"level_{kind}"] = classify_levels(scores, thresholds)
        scored[f"alarm_{kind}"] = alarm_names(alarm)
        run = json.loads((model_dir / "mlflow_run.json").read_text())
        all_metrics[kind]["run_id"] = run["child"]
        history = json.loads((model_dir / "history.json").read_text())
        losses += [{"model": kind, **row} for row in history]
        with heartbeat(f"evaluate {kind}: plots"):
            _model_reports(reports, kind, scored, scores, thresholds, history, all_metrics[kind])
            if kind == SERVED_KIND:
                plot_contributions(scored, contributions, list(prepared.sensors), plots / CONTRIBUTIONS_PLOT)  # the sensors every model was fitted on
    scored.to_parquet(reports / SCORES_FILE, index=False)
    pd.DataFrame(losses).to_csv(reports / LOSS_CSV, index=False)
    board = pd.DataFrame([{"model": k, **m} for k, m in all_metrics.items()])
    board = board.reindex(columns=LEADERBOARD_COLUMNS).sort_values("vus_pr", ascending=False)
    board.to_csv(reports / LEADERBOARD_FILE, index=False)
    plot_leaderboard(board, plots / LEADERBOARD_PLOT)
    (reports / METRICS_FILE).write_text(json.dumps(all_metrics, indent=2))
    return all_metrics


def _model_reports(reports: Path, kind: str, scored: pd.DataFrame, scores: np.ndarray, thresholds: dict, history: list[dict], metrics: dict) -> None:
    """One model's timeline and loss plots and its DVC metric and plot files."""
    plot_score_timeline(scored.assign(score=scores), thresholds, reports / "plots" / TIMELINE_DIR / f"{kind}.png", kind)
    if history:
        plot_loss_curves(history, reports / "plots" / f"loss_curves_{kind}.png")
    write_loss_file(reports, kind, history)
    write_curve_files(reports, kind, scored[LABEL].to_numpy(), scores)
    write_metric_file(reports, kind, metrics)
