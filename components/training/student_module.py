"""Training recipe for the multi-task student: denoising reconstruction + next-step
forecast + (with distillation) soft-target classification, Adam.

A batch is the windows ``x`` (batch, window, n_sensors), or a dict with ``windows`` and
optionally ``clean`` (batch, window, n_sensors): the same rows before anomalies were
injected (default: ``x`` itself), and ``targets`` (batch, window): soft targets in
[0, 1] (NaN where no teacher scored the row).

- the network sees ``x + ε``, ε ~ N(0, input_noise²) during training only;
- ``reconstruction`` = MSE of the reconstructed last ``steps`` rows against the *clean*
  rows: without the Gaussian noise and without injected anomalies, so the network
  learns to reconstruct normal behaviour even from an anomalous input (a denoising
  autoencoder whose corruption includes the injected anomalies);
- ``forecast`` = MSE of the next-step forecasts against the clean rows 1 … steps−1;
- ``classification`` = binary cross-entropy of the step logits against the soft targets
  (rows with a target only);
- ``loss`` = reconstruction + forecast + classification_weight · classification.

Every component is logged per epoch as ``train_<name>`` / ``val_<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from components.models.student import MtlStudent


class StudentModule(pl.LightningModule):
    def __init__(self, net: MtlStudent, learning_rate: float, input_noise: float, classification_weight: float) -> None:
        super().__init__()
        self.net = net
        self.learning_rate = learning_rate
        self.input_noise = input_noise
        self.classification_weight = classification_weight

    def losses(self, batch: torch.Tensor | Mapping[str, torch.Tensor], noisy: bool) -> dict[str, torch.Tensor]:
        windows, extras = (batch["windows"], batch) if isinstance(batch, Mapping) else (batch, {})
        targets = extras.get("targets")
        first = self.net.receptive_field - 1
        clean = extras.get("clean", windows)[:, first:]
        inputs = windows + self.input_noise * torch.randn_like(windows) if noisy and self.input_noise > 0 else windows
        out = self.net(inputs)
        parts = {
            "reconstruction": F.mse_loss(out.reconstruction, clean),
            "forecast": F.mse_loss(out.forecast, clean[:, 1:]),
        }
        loss = parts["reconstruction"] + parts["forecast"]
        if targets is not None:
            soft = targets[:, first:]
            known = torch.isfinite(soft)
            if known.any():
                parts["classification"] = F.binary_cross_entropy_with_logits(out.logits[known], soft[known])
                loss = loss + self.classification_weight * parts["classification"]
        parts["loss"] = loss
        return parts

    def _log_all(self, prefix: str, parts: dict[str, torch.Tensor], batch_size: int) -> None:
        for name, value in parts.items():
            self.log(f"{prefix}_{name}", value, on_step=False, on_epoch=True, batch_size=batch_size)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        parts = self.losses(batch, noisy=True)
        self._log_all("train", parts, _batch_size(batch))
        return parts["loss"]

    def validation_step(self, batch, batch_idx: int) -> None:
        self._log_all("val", self.losses(batch, noisy=False), _batch_size(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.learning_rate)


def _batch_size(batch) -> int:
    return (batch["windows"] if isinstance(batch, Mapping) else batch).shape[0]
