"""Training progress as plain lines, one per epoch and one every few seconds inside a long
epoch (:data:`components.progress.HEARTBEAT_S`), so a training that runs in a child
process or a log (the retrain flow's tasks, ``dvc repro``) never goes quiet:
``<name> epoch 3/20: train_loss 0.412 val_loss 0.398 (2.1 s)``."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from components.progress import HEARTBEAT_S


class EpochLines(Callback):
    """Prints ``name``'s progress to ``out`` (default: standard output, flushed per line):
    each epoch's logged losses and duration when it ends, and a ``batch i/n`` line whenever
    ``heartbeat_s`` seconds pass inside an epoch's training or validation loop."""

    def __init__(self, name: str, heartbeat_s: float = HEARTBEAT_S, out: TextIO | None = None) -> None:
        self.name, self.heartbeat_s, self.out = name, heartbeat_s, out
        self._epoch_start = self._last_line = 0.0

    def _say(self, message: str) -> None:
        print(message, file=self.out or sys.stdout, flush=True)
        self._last_line = time.monotonic()

    def _prefix(self, trainer: pl.Trainer) -> str:
        return f"{self.name} epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start = self._last_line = time.monotonic()

    def _heartbeat(self, trainer: pl.Trainer, stage: str, batch_idx: int, batches) -> None:
        if time.monotonic() - self._last_line >= self.heartbeat_s:
            total = int(batches) if isinstance(batches, (int, float)) and batches != float("inf") else "?"
            self._say(f"{self._prefix(trainer)}: {stage} batch {batch_idx + 1}/{total}")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        self._heartbeat(trainer, "training", batch_idx, trainer.num_training_batches)

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        batches = trainer.num_val_batches[dataloader_idx] if trainer.num_val_batches else "?"
        self._heartbeat(trainer, "validation", batch_idx, batches)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after the epoch's validation loop: every epoch metric is final here
        losses = " ".join(
            f"{name} {float(value):.4g}" for name, value in sorted(trainer.callback_metrics.items()) if name.startswith(("train_", "val_"))
        )
        self._say(f"{self._prefix(trainer)}: {losses} ({time.monotonic() - self._epoch_start:.1f} s)")

