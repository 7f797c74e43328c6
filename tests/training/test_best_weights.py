"""Early stopping ends with the weights of the best validation epoch, not the last one."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from components.training.fit import fit

VAL_LOSSES = [3.0, 1.0, 2.0, 4.0, 5.0, 6.0]  # best at epoch 1, then worse: patience 2 stops after epoch 3


class _Counter(pl.LightningModule):
    """One weight that grows by 1 each epoch (one SGD step of loss −w at learning rate 1),
    and a validation loss that follows VAL_LOSSES whatever the weight."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch, batch_idx):
        return -self.w

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(VAL_LOSSES[self.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1.0)


class _OneBatch(pl.LightningDataModule):
    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)


def test_the_best_epoch_s_weights_are_restored_after_early_stopping():
    module = _Counter()
    result = fit(module, _OneBatch(), max_epochs=len(VAL_LOSSES), patience=2, seed=0)
    assert [row["epoch"] for row in result.history] == [0, 1, 2, 3]  # stopped 2 epochs after the best
    assert result.best_val_loss == 1.0
    assert float(module.w) == 2.0  # after epoch 1's step (the last epoch's weight is 4.0)
