"""The train stage: fit one model (the served student, the LSTM autoencoder, a teacher or
a classic baseline), logged to a nested MLflow run, saved as plain files under
``<models>/<kind>/`` (model.json + weights or detector files, history.json,
fit_summary.json, mlflow_run.json). Networks early-stop on validation loss
(:mod:`components.training.network_fitters`, the only part that needs Lightning); the
student is distilled from the teachers already trained under ``<models>/``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.features.windows import fit_window_starts, gather_windows
from components.models.store import BASELINES, NETWORKS, ModelSpec, build_network, save_network
from components.registry.tracking import (
    RUN_FILE, RunIds, RunParams, failed_on_error, shared_parent_run, start_model_run, tracking_uri, using_tracking_uri,
)
from components.training.fit_result import FitResult

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

HISTORY_FILE = "history.json"
FIT_SUMMARY_FILE = "fit_summary.json"


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    run_ids: RunIds
    epochs: int
    best_val_loss: float
    train_s: float


def _fit_baseline(cfg: PipelineConfig, prepared: PreparedData, kind: str, logger: Logger | RunParams | None) -> tuple[object, ModelSpec, FitResult]:
    hparams = {"variance": cfg.baselines.pca_variance} if kind == "pca" else {"n_estimators": cfg.baselines.iforest_estimators}
    spec = ModelSpec(kind, prepared.sensors, cfg.prepare.window, hparams)
    train = prepared.splits["train"]
    starts = fit_window_starts(train, spec.window, cfg.train.train_stride, cfg.prepare.exclude_labelled_from_fit)
    if logger is not None:
        logger.log_hyperparams({**hparams, "window": spec.window, "train_stride": cfg.train.train_stride, "sensors": ",".join(spec.sensors)})
    start = time.perf_counter()
    detector = build_network(spec).fit(gather_windows(prepared.scaler.transform(train), starts, spec.window), seed=cfg.train.seed)
    return detector, spec, FitResult([], float("nan"), time.perf_counter() - start)


def _known(kind: str) -> None:
    if kind not in NETWORKS and kind not in BASELINES:
        raise ValueError(f"unknown model {kind!r}; choose one of {[*NETWORKS, *BASELINES]}")


def fit_model(cfg: PipelineConfig, prepared: PreparedData, kind: str, logger: Logger | RunParams | None = None) -> tuple[object, ModelSpec, FitResult]:
    """Fit ``kind`` on ``prepared`` (the student reads its teachers from ``<models>/``);
    returns the fitted network or detector, its spec and the fit history."""
    _known(kind)
    if kind in BASELINES:
        return _fit_baseline(cfg, prepared, kind, logger)
    from components.training.network_fitters import fit_network

    return fit_network(cfg, prepared, kind, logger)


def _run_logger(cfg: PipelineConfig, kind: str, uri: str, run_id: str) -> Logger | RunParams:
    """Lightning's MLflow logger for a network (params and per-epoch metrics), the plain
    params logger for a baseline (no epochs, and no need to import Lightning)."""
    if kind in BASELINES:
        return RunParams(uri, run_id)
    from pytorch_lightning.loggers import MLFlowLogger

    return MLFlowLogger(experiment_name=cfg.mlflow.experiment, tracking_uri=uri, run_id=run_id)


def train_model(
    cfg: PipelineConfig, prepared: PreparedData, kind: str = "student", parent_run_id: str | None = None,
    out_dir: Path | None = None, run_name: str | None = None,
) -> TrainResult:
    """Train ``kind`` on the prepared train windows into ``out_dir`` (default
    ``<models>/<kind>``), in an MLflow run ``run_name`` (default ``kind``) nested under
    ``parent_run_id`` (default: the pipeline's parent run)."""
    _known(kind)
    model_dir = out_dir or cfg.paths.models_dir() / kind
    model_dir.mkdir(parents=True, exist_ok=True)
    parent = parent_run_id or shared_parent_run(cfg)
    run_ids = RunIds(parent=parent, child=start_model_run(cfg.mlflow, parent, run_name or kind))
    run_ids.save(model_dir / RUN_FILE)
    uri = tracking_uri(cfg.mlflow)
    with failed_on_error(cfg.mlflow, run_ids.child):
        with using_tracking_uri(uri):
            net, spec, result = fit_model(cfg, prepared, kind, _run_logger(cfg, kind, uri, run_ids.child))
        save_network(net, spec, model_dir)
    mlflow.MlflowClient(uri).set_terminated(run_ids.child)  # Lightning ends its runs; a baseline's is ended here
    (model_dir / HISTORY_FILE).write_text(json.dumps(result.history, indent=2))
    summary = {"epochs": len(result.history), "best_val_loss": result.best_val_loss, "train_s": result.seconds}
    (model_dir / FIT_SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return TrainResult(model_dir, run_ids, len(result.history), result.best_val_loss, result.seconds)
