"""Training recipe for the Anomaly Transformer: the paper's one-step minimax, Adam.

Per batch, as the official solver: ``series_disc`` = AssDis with the prior detached,
``prior_disc`` = AssDis with the series detached (both averaged over batch and steps),
``loss1 = rec − k·series_disc`` (maximise phase: the series association is pushed away
from the prior), ``loss2 = rec + k·prior_disc`` (minimise phase: the prior is pulled
towards the series), then ``loss1.backward(retain_graph=True); loss2.backward()`` and one
Adam step. The learning rate of epoch e ≥ 1 is lr · lr_decay^(e−1) (official: 0.5).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from components.models.anomaly_transformer import AnomalyTransformer, association_discrepancy
from components.detectors.anomaly_transformer import AnomalyTransformerSettings


class AnomalyTransformerModule(pl.LightningModule):
    """Holds an :class:`AnomalyTransformer`; trains it with manual optimisation.

    Logs per epoch ``train_loss`` (= ``train_rec``, the reconstruction MSE),
    ``train_series_disc``, ``train_prior_disc`` and ``val_loss`` (reconstruction MSE on
    the validation windows). Batches are float32 tensors (batch, window, n_features).
    """

    def __init__(self, net: AnomalyTransformer, cfg: AnomalyTransformerSettings) -> None:
        super().__init__()
        self.net = net
        self.cfg = cfg
        self.automatic_optimization = False

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        reconstruction, series, prior, _ = self.net(batch)
        rec = torch.mean((reconstruction - batch) ** 2)
        series_disc = association_discrepancy(series, [p.detach() for p in prior]).mean()
        prior_disc = association_discrepancy([s.detach() for s in series], prior).mean()
        loss1 = rec - self.cfg.k * series_disc
        loss2 = rec + self.cfg.k * prior_disc

        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss1, retain_graph=True)
        self.manual_backward(loss2)
        optimizer.step()

        logged = {"train_loss": rec, "train_rec": rec, "train_series_disc": series_disc, "train_prior_disc": prior_disc}
        for name, value in logged.items():
            self.log(name, value.detach(), on_step=False, on_epoch=True, batch_size=batch.shape[0])

    def on_train_epoch_end(self) -> None:
        self.lr_schedulers().step()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        rec = torch.mean((self.net(batch)[0] - batch) ** 2)
        self.log("val_loss", rec, on_step=False, on_epoch=True, batch_size=batch.shape[0])

    def configure_optimizers(self) -> dict:
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.cfg.lr)
        decay = self.cfg.lr_decay
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: decay ** max(epoch - 1, 0))
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
