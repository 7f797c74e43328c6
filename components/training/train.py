"""The train stage: fit the LSTM autoencoder with early stopping, logged to MLflow."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping
from pytorch_lightning.loggers import MLFlowLogger

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.models.lstm_autoencoder import LstmAutoencoder
from components.models.store import ModelSpec, save_network
from components.scoring.series_scores import sensor_error_scale
from components.registry.tracking import RunIds, start_model_run, start_pipeline_run, tracking_uri
from components.training.datamodule import WindowDataModule
from components.training.lstm_ae_module import LstmAeModule

MODEL_NAME = "lstm_ae"
RUN_FILE = "mlflow_run.json"
HISTORY_FILE = "history.json"


class _History(Callback):
    """Per-epoch losses, kept for the loss-curve plot."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # runs after the epoch's validation loop, so both losses are final here
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch}
        row.update({k: float(metrics[k]) for k in ("train_loss", "val_loss") if k in metrics})
        self.epochs.append(row)


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    run_ids: RunIds
    epochs: int
    best_val_loss: float


def train_lstm_ae(cfg: PipelineConfig, prepared: PreparedData, parent_run_id: str | None = None) -> TrainResult:
    """Train on ``prepared`` train windows, early-stop on validation loss, save to
    ``<models>/lstm_ae/`` (weights.pt, model.json, history.json, mlflow_run.json)."""
    model_dir = cfg.paths.models_dir() / MODEL_NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.train.num_threads)
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)

    parent = parent_run_id or start_pipeline_run(cfg.mlflow, "pipeline", {"anomflow.entry": "train"})
    run_ids = RunIds(parent=parent, child=start_model_run(cfg.mlflow, parent, MODEL_NAME))
    run_ids.save(model_dir / RUN_FILE)

    spec = ModelSpec(MODEL_NAME, prepared.sensors, cfg.prepare.window, cfg.model.hidden_size, cfg.model.latent_size, cfg.model.num_layers)
    net = LstmAutoencoder(len(spec.sensors), spec.hidden_size, spec.latent_size, spec.num_layers)
    module = LstmAeModule(net, cfg.train.learning_rate)
    data = WindowDataModule(
        prepared, cfg.prepare.window, cfg.train.batch_size, cfg.train.train_stride,
        cfg.prepare.exclude_labelled_from_fit, cfg.train.seed,
    )
    logger = MLFlowLogger(experiment_name=cfg.mlflow.experiment, tracking_uri=tracking_uri(cfg.mlflow), run_id=run_ids.child)
    logger.log_hyperparams({**cfg.model.model_dump(), **cfg.train.model_dump(), "window": cfg.prepare.window, "sensors": ",".join(spec.sensors)})
    history = _History()
    stopper = EarlyStopping(monitor="val_loss", patience=cfg.train.patience, mode="min")
    trainer = pl.Trainer(
        max_epochs=cfg.train.max_epochs, accelerator="cpu", devices=1, deterministic=True,
        logger=logger, callbacks=[stopper, history], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        for noise in (".*does not have many workers.*", ".*smaller than the logging interval.*", ".*LeafSpec.*"):
            warnings.filterwarnings("ignore", message=noise)
        trainer.fit(module, datamodule=data)

    train = prepared.splits["train"]
    scale = sensor_error_scale(net, prepared.scaler.transform(train), train["session"].to_numpy(), spec.window, cfg.train.train_stride)
    spec = replace(spec, error_scale=[float(v) for v in scale])
    save_network(net, spec, model_dir)
    (model_dir / HISTORY_FILE).write_text(json.dumps(history.epochs, indent=2))
    best = float(stopper.best_score) if stopper.best_score is not None else float("nan")
    return TrainResult(model_dir, run_ids, len(history.epochs), best)
