"""The train stage: fit one model through its detector (:mod:`components.detectors`),
logged to a nested MLflow run, saved as plain files under ``<models>/<kind>/``
(model.json + parameter files, history.json, fit_summary.json, mlflow_run.json). A model
that learns from others (the student from its teachers) gets them loaded from
``<models>/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow

from components.config import PipelineConfig
from components.detectors.base import Detector, FitContext
from components.detectors.registry import detector_class, load_detector
from components.features.prepare import PreparedData
from components.models.store import SPEC_FILE
from components.registry.tracking import (
    RUN_FILE, RunIds, failed_on_error, shared_parent_run, start_model_run, tracking_uri, using_tracking_uri,
)
from components.training.fit_result import FitResult
from components.training.model_folders import written_whole

HISTORY_FILE = "history.json"
FIT_SUMMARY_FILE = "fit_summary.json"


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    run_ids: RunIds
    epochs: int
    best_val_loss: float
    train_s: float


def trained_inputs(cfg: PipelineConfig, kind: str) -> dict[str, Detector]:
    """The fitted models ``kind`` learns from, loaded from ``<models>/``."""
    inputs = {}
    for other in cfg.learns_from(kind):
        directory = cfg.paths.models_dir() / other
        if not (directory / SPEC_FILE).exists():
            raise FileNotFoundError(f"{kind} learns from {other} but {directory} has no trained model: run `anomflow train --model {other}` first")
        inputs[other] = load_detector(directory)
    return inputs


def fit_model(
    cfg: PipelineConfig, prepared: PreparedData, kind: str, logger=None, trained: dict[str, Detector] | None = None,
    progress: bool = False,
) -> tuple[Detector, FitResult]:
    """Fit ``kind`` with its settings in ``cfg`` on ``prepared``; the models it learns
    from are ``trained`` or, by default, read from ``<models>/``. With ``progress``, a
    network prints a line per epoch."""
    context = FitContext(
        seed=cfg.seed, exclude_labelled=cfg.prepare.exclude_labelled_from_fit, logger=logger,
        trained=trained if trained is not None else trained_inputs(cfg, kind), progress=kind if progress else None,
    )
    return detector_class(kind).fit(cfg.settings_of(kind), prepared, context)


def train_model(
    cfg: PipelineConfig, prepared: PreparedData, kind: str, parent_run_id: str | None = None,
    out_dir: Path | None = None, run_name: str | None = None,
) -> TrainResult:
    """Train ``kind`` on the prepared train windows into ``out_dir`` (default
    ``<models>/<kind>``), in an MLflow run ``run_name`` (default ``kind``) nested under
    ``parent_run_id`` (default: the pipeline's parent run). The folder is replaced only
    once every file is written: a run that fails or is stopped leaves the model that was
    there before."""
    detector_cls = detector_class(kind)
    cfg.settings_of(kind)
    model_dir = out_dir or cfg.paths.models_dir() / kind
    parent = parent_run_id or shared_parent_run(cfg)
    run_ids = RunIds(parent=parent, child=start_model_run(cfg.mlflow, parent, run_name or kind))
    uri = tracking_uri(cfg.mlflow)
    with written_whole(model_dir) as partial, failed_on_error(cfg.mlflow, run_ids.child):
        run_ids.save(partial / RUN_FILE)
        with using_tracking_uri(uri):
            print(f"training {kind}", flush=True)
            detector, result = fit_model(cfg, prepared, kind, detector_cls.run_logger(cfg.mlflow.experiment, uri, run_ids.child), progress=True)
        detector.save(partial)
        (partial / HISTORY_FILE).write_text(json.dumps(result.history, indent=2))
        summary = {"epochs": len(result.history), "best_val_loss": result.best_val_loss, "train_s": result.seconds}
        (partial / FIT_SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    mlflow.MlflowClient(uri).set_terminated(run_ids.child)  # Lightning ends its runs; a baseline's is ended here
    epochs = f"{len(result.history)} epochs, best val_loss {result.best_val_loss:.4g}, " if result.history else ""
    print(f"trained {kind}: {epochs}{result.seconds:.1f} s", flush=True)
    return TrainResult(model_dir, run_ids, len(result.history), result.best_val_loss, result.seconds)
