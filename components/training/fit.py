"""One Lightning fit loop for every model: CPU, seeded, early stopping on ``val_loss``
with the weights of the best epoch restored at the end, per-epoch history kept for the
loss-curve plot."""

from __future__ import annotations

import logging
import sys
import warnings

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, EarlyStopping, RichProgressBar
from pytorch_lightning.loggers import Logger, MLFlowLogger

from components.training.fit_result import FitResult
from components.training.progress import EpochLines

_NOISE = (".*does not have many workers.*", ".*smaller than the logging interval.*", ".*LeafSpec.*", ".*litlogger.*")


class EpochStepLogger(MLFlowLogger):
    """Lightning's MLflow logger with every epoch-level metric logged at step = the epoch
    (0-based), so MLflow's charts plot losses per epoch, not per optimiser step."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        epoch = metrics.get("epoch")
        super().log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step=int(epoch) if epoch is not None else step)


class _History(Callback):
    """Per-epoch logged metrics (train_* and val_loss)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # runs after the epoch's validation loop, so every epoch metric is final here
        row = {"epoch": trainer.current_epoch}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train_", "val_"))})
        self.epochs.append(row)


class _BestWeights(Callback):
    """Keeps a copy of the weights of the epoch with the lowest ``val_loss`` and puts them
    back when fitting ends: early stopping ends ``patience`` epochs after the best one,
    and those last epochs' weights are worse on validation by definition. In memory (a
    state dict), as Lightning's checkpointing would write files for it."""

    def __init__(self) -> None:
        self.best_loss = float("inf")
        self.best_epoch: int | None = None
        self.state: dict | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None and float(loss) < self.best_loss:
            self.best_loss, self.best_epoch = float(loss), trainer.current_epoch
            self.state = {name: tensor.detach().clone() for name, tensor in pl_module.state_dict().items()}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.state is not None:
            pl_module.load_state_dict(self.state)


def progress_callbacks(progress: str | None, terminal: bool) -> list[Callback]:
    """What shows a fit's progress: nothing without a ``progress`` name; else a line per
    epoch (:class:`~components.training.progress.EpochLines`), and in a terminal also
    Lightning's rich progress bar over each epoch's batches."""
    if not progress:
        return []
    return [EpochLines(progress), *([RichProgressBar(leave=True)] if terminal else [])]


def fit(
    module: pl.LightningModule, data: pl.LightningDataModule, *, max_epochs: int, patience: int, seed: int,
    logger: Logger | bool = False, progress: str | None = None,
) -> FitResult:
    """Train ``module`` on ``data`` until ``val_loss`` stops improving for ``patience``
    epochs; ``module`` ends with the weights of its lowest ``val_loss`` epoch. With
    ``progress`` (a name), each epoch prints a line under that name, with a progress bar
    in a terminal (:func:`progress_callbacks`)."""
    import time

    for name in ("pytorch_lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    pl.seed_everything(seed, workers=True, verbose=False)
    history = _History()
    bars = progress_callbacks(progress, terminal=sys.stdout.isatty())
    stopper = EarlyStopping(monitor="val_loss", patience=patience, mode="min")
    trainer = pl.Trainer(
        max_epochs=max_epochs, accelerator="cpu", devices=1, deterministic=True, logger=logger,
        callbacks=[stopper, history, _BestWeights(), *bars], enable_checkpointing=False, enable_progress_bar=any(isinstance(c, RichProgressBar) for c in bars),
        enable_model_summary=False, num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        for noise in _NOISE:
            warnings.filterwarnings("ignore", message=noise)
        trainer.fit(module, datamodule=data)
    best = float(stopper.best_score) if stopper.best_score is not None else float("nan")
    return FitResult(history.epochs, best, time.perf_counter() - start)
