"""The train stage: fit one model (the served LSTM autoencoder or a teacher) with early
stopping, logged to a nested MLflow run, saved as plain files under ``<models>/<kind>/``
(weights.pt, model.json, history.json, fit_summary.json, mlflow_run.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import MLFlowLogger

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.models.store import ModelSpec, build_network, save_network
from components.registry.tracking import RunIds, shared_parent_run, start_model_run, tracking_uri, using_tracking_uri
from components.scoring.series_scores import sensor_error_scale
from components.training.datamodule import WindowDataModule, fit_window_starts
from components.training.fit import FitResult, fit
from components.training.lstm_ae_module import LstmAeModule
from components.training.teachers import TEACHERS, fit_teacher, teacher_config

RUN_FILE = "mlflow_run.json"
HISTORY_FILE = "history.json"
FIT_SUMMARY_FILE = "fit_summary.json"


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    run_ids: RunIds
    epochs: int
    best_val_loss: float
    train_s: float


def _fit_lstm_ae(cfg: PipelineConfig, prepared: PreparedData, logger: MLFlowLogger) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    torch.set_num_threads(cfg.train.num_threads)
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
    spec = ModelSpec("lstm_ae", prepared.sensors, cfg.prepare.window, cfg.model.model_dump())
    net = build_network(spec)
    data = WindowDataModule.from_prepared(
        prepared, cfg.prepare.window, cfg.train.batch_size, cfg.train.train_stride,
        cfg.prepare.exclude_labelled_from_fit, cfg.train.seed,
    )
    logger.log_hyperparams({**cfg.model.model_dump(), **cfg.train.model_dump(), "window": cfg.prepare.window, "sensors": ",".join(spec.sensors)})
    result = fit(LstmAeModule(net, cfg.train.learning_rate), data, max_epochs=cfg.train.max_epochs, patience=cfg.train.patience, seed=cfg.train.seed, logger=logger)
    train = prepared.splits["train"]
    scale = sensor_error_scale(net, prepared.scaler.transform(train), train["session"].to_numpy(), spec.window, cfg.train.train_stride)
    return net, replace(spec, error_scale=[float(v) for v in scale]), result


def _fit_teacher(cfg: PipelineConfig, prepared: PreparedData, kind: str, logger: MLFlowLogger) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    torch.set_num_threads(cfg.teachers.num_threads)
    tcfg = teacher_config(kind, cfg.teachers.profile)
    if cfg.teachers.max_epochs is not None:
        tcfg = tcfg.model_copy(update={"max_epochs": min(tcfg.max_epochs, cfg.teachers.max_epochs)})
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
    spec = ModelSpec(kind, prepared.sensors, tcfg.window, tcfg.model_dump())
    net = build_network(spec)
    values = {name: prepared.scaler.transform(prepared.splits[name]) for name in ("train", "val")}
    starts = {
        name: fit_window_starts(prepared.splits[name], tcfg.window, cfg.teachers.train_stride, cfg.prepare.exclude_labelled_from_fit)
        for name in ("train", "val")
    }
    logger.log_hyperparams({**tcfg.model_dump(), "profile": cfg.teachers.profile, "train_stride": cfg.teachers.train_stride, "sensors": ",".join(spec.sensors)})
    result = fit_teacher(kind, tcfg, net, values, starts, seed=cfg.train.seed, patience=cfg.teachers.patience, logger=logger)
    return net, spec, result


def train_model(cfg: PipelineConfig, prepared: PreparedData, kind: str = "lstm_ae", parent_run_id: str | None = None) -> TrainResult:
    """Train ``kind`` on the prepared train windows, early-stop on validation loss."""
    if kind != "lstm_ae" and kind not in TEACHERS:
        raise ValueError(f"unknown model {kind!r}; choose lstm_ae or one of {TEACHERS}")
    model_dir = cfg.paths.models_dir() / kind
    model_dir.mkdir(parents=True, exist_ok=True)
    parent = parent_run_id or shared_parent_run(cfg.mlflow, cfg.paths.artifacts_dir())
    run_ids = RunIds(parent=parent, child=start_model_run(cfg.mlflow, parent, kind))
    run_ids.save(model_dir / RUN_FILE)
    uri = tracking_uri(cfg.mlflow)
    with using_tracking_uri(uri):
        logger = MLFlowLogger(experiment_name=cfg.mlflow.experiment, tracking_uri=uri, run_id=run_ids.child)
        fitter = _fit_lstm_ae if kind == "lstm_ae" else lambda c, p, lg: _fit_teacher(c, p, kind, lg)
        net, spec, result = fitter(cfg, prepared, logger)
    save_network(net, spec, model_dir)
    (model_dir / HISTORY_FILE).write_text(json.dumps(result.history, indent=2))
    summary = {"epochs": len(result.history), "best_val_loss": result.best_val_loss, "train_s": result.seconds}
    (model_dir / FIT_SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return TrainResult(model_dir, run_ids, len(result.history), result.best_val_loss, result.seconds)
