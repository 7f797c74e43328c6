"""One Lightning fit loop for every model: CPU, seeded, early stopping on ``val_loss``,
per-epoch history kept for the loss-curve plot."""

from __future__ import annotations

import logging
import warnings

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, EarlyStopping
from pytorch_lightning.loggers import Logger

from components.training.fit_result import FitResult

_NOISE = (".*does not have many workers.*", ".*smaller than the logging interval.*", ".*LeafSpec.*", ".*litlogger.*")


class _History(Callback):
    """Per-epoch logged metrics (train_* and val_loss)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # runs after the epoch's validation loop, so every epoch metric is final here
        row = {"epoch": trainer.current_epoch}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train_", "val_"))})
        self.epochs.append(row)


def fit(module: pl.LightningModule, data: pl.LightningDataModule, *, max_epochs: int, patience: int, seed: int, logger: Logger | bool = False) -> FitResult:
    """Train ``module`` on ``data`` until ``val_loss`` stops improving for ``patience`` epochs."""
    import time

    for name in ("pytorch_lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    pl.seed_everything(seed, workers=True, verbose=False)
    history = _History()
    stopper = EarlyStopping(monitor="val_loss", patience=patience, mode="min")
    trainer = pl.Trainer(
        max_epochs=max_epochs, accelerator="cpu", devices=1, deterministic=True, logger=logger,
        callbacks=[stopper, history], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        for noise in _NOISE:
            warnings.filterwarnings("ignore", message=noise)
        trainer.fit(module, datamodule=data)
    best = float(stopper.best_score) if stopper.best_score is not None else float("nan")
    return FitResult(history.epochs, best, time.perf_counter() - start)
