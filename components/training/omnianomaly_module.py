"""Training recipe for OmniAnomaly: single-sample SGVB on −ELBO per step, Adam, gradient
clipping; settings (and their profiles): :mod:`components.detectors.omnianomaly`.

Gradients are clipped per parameter tensor to norm ``grad_clip``, as the official code
does (``tf.clip_by_norm`` on each gradient), not by the global norm. The official
learning-rate annealing (×0.5 every 40 epochs) never triggers within the paper's
epochs and is left out.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from components.models.omnianomaly import OmniAnomaly
from components.detectors.omnianomaly import OmniAnomalySettings


class OmniAnomalyModule(pl.LightningModule):
    """Holds an :class:`OmniAnomaly`; batches are float32 (batch, window, n_features).

    Logs per epoch ``train_loss`` (−ELBO), ``train_rec`` (−log p(x|z)), ``train_kl``
    (log q(z|x) − log p(z)) and ``val_loss`` (−ELBO), all in nats per time step."""

    def __init__(self, net: OmniAnomaly, cfg: OmniAnomalySettings) -> None:
        super().__init__()
        self.net = net
        self.cfg = cfg

    def _terms(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(batch)
        return out.reconstruction.mean(), out.kl.mean()

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        rec, kl = self._terms(batch)
        loss = rec + kl
        metrics = {"train_loss": loss, "train_rec": rec, "train_kl": kl}
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=batch.shape[0])
        return loss

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        rec, kl = self._terms(batch)
        self.log("val_loss", rec + kl, on_step=False, on_epoch=True, batch_size=batch.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.cfg.lr)

    def configure_gradient_clipping(
        self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        for param in self.net.parameters():
            if param.grad is not None:
                torch.nn.utils.clip_grad_norm_(param, self.cfg.grad_clip)
