"""Distillation ablations in one command: the student trained without distillation,
from each teacher alone and from both, each thresholded on validation data and
evaluated on the same test set, side by side (``reports/ablations.csv`` / ``.json``)."""

from __future__ import annotations

import json

import mlflow
import pandas as pd

from components.config import PipelineConfig
from components.detectors.registry import SERVED_KIND
from components.features.prepare import PreparedData
from components.registry.tracking import failed_on_error, start_pipeline_run, tracking_uri
from components.scoring.evaluate import evaluation_set, evaluate_one
from components.scoring.threshold_stage import set_thresholds
from components.training.train import train_model

ABLATIONS_CSV = "ablations.csv"
ABLATIONS_JSON = "ablations.json"
COLUMNS = ["variant", "teachers", "vus_pr", "pr_auc", "vus_roc", "roc_auc", "f1", "events_detected", "events", "rows_per_s", "train_s"]


def ablation_variants(cfg: PipelineConfig) -> dict[str, dict[str, float]]:
    """Variant name → teacher weights: none, each configured teacher alone, all of them."""
    student = cfg.settings_of(SERVED_KIND)
    teachers = [t for t in student.distillation.teacher_weights if t in cfg.model_kinds()]
    variants: dict[str, dict[str, float]] = {"no_distillation": {}}
    for teacher in teachers:
        variants[f"{teacher}_only"] = {teacher: 1.0}
    if len(teachers) > 1:
        configured = {t: student.distillation.teacher_weights[t] for t in cfg.learns_from(SERVED_KIND)}
        variants["all_teachers"] = configured if len(configured) == len(teachers) else {t: 1.0 for t in teachers}
    return variants


def _with_teachers(cfg: PipelineConfig, weights: dict[str, float]) -> PipelineConfig:
    distillation = cfg.settings_of(SERVED_KIND).distillation.model_copy(update={"teacher_weights": weights})
    return cfg.with_settings(SERVED_KIND, distillation=distillation)


def run_ablation(cfg: PipelineConfig, prepared: PreparedData) -> pd.DataFrame:
    """Train, threshold and evaluate every variant under ``<models>/ablations/<variant>``,
    each logged as a run nested under one ``ablation`` parent run; write the reports."""
    parent = start_pipeline_run(cfg, "ablation", {"anomflow.entry": "ablation"})
    with failed_on_error(cfg.mlflow, parent):
        table = _ablate(cfg, prepared, parent)
    mlflow.MlflowClient(tracking_uri(cfg.mlflow)).set_terminated(parent)
    return table


def _ablate(cfg: PipelineConfig, prepared: PreparedData, parent: str) -> pd.DataFrame:
    data = evaluation_set(cfg, prepared)
    rows, details = [], {}
    for variant, weights in ablation_variants(cfg).items():
        vcfg = _with_teachers(cfg, weights)
        out = cfg.paths.models_dir() / "ablations" / variant
        train_model(vcfg, prepared, SERVED_KIND, parent_run_id=parent, out_dir=out, run_name=f"{SERVED_KIND}[{variant}]")
        set_thresholds(vcfg, prepared, out, out / "thresholds.json")
        metrics, *_ = evaluate_one(vcfg, data, out, out / "thresholds.json")
        details[variant] = {"teacher_weights": weights, **metrics}
        rows.append({"variant": variant, "teachers": "+".join(weights) or "none", **metrics})
    reports = cfg.paths.reports_dir()
    reports.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table.to_csv(reports / ABLATIONS_CSV, index=False)
    (reports / ABLATIONS_JSON).write_text(json.dumps(details, indent=2))
    client = mlflow.MlflowClient(tracking_uri(cfg.mlflow))
    for path in (reports / ABLATIONS_CSV, reports / ABLATIONS_JSON):
        client.log_artifact(parent, str(path), artifact_path="ablations")
    return table
