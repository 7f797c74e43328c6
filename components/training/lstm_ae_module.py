"""Training recipe for the LSTM autoencoder: MSE reconstruction, Adam."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from components.models.lstm_autoencoder import LstmAutoencoder


class LstmAeModule(pl.LightningModule):
    """Holds a :class:`LstmAutoencoder`; logs ``train_loss`` and ``val_loss`` per epoch."""

    def __init__(self, net: LstmAutoencoder, learning_rate: float) -> None:
        super().__init__()
        self.net = net
        self.learning_rate = learning_rate

    def _loss(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.mean((self.net(batch) - batch) ** 2)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=batch.shape[0])
        return loss

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), on_step=False, on_epoch=True, batch_size=batch.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.learning_rate)
