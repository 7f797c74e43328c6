"""Training recipe for OmniAnomaly: single-sample SGVB on −ELBO per step, Adam, gradient
clipping; configuration profiles from ``conf/omnianomaly.yaml``.

Gradients are clipped per parameter tensor to norm ``grad_clip``, as the official code
does (``tf.clip_by_norm`` on each gradient), not by the global norm. The official
learning-rate annealing (×0.5 every 40 epochs) never triggers within the paper's
epochs and is left out.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field

from components.models.omnianomaly import OmniAnomaly

PROFILES_PATH = Path(__file__).resolve().parents[2] / "conf" / "omnianomaly.yaml"


class OmniAnomalyConfig(BaseModel):
    """Architecture, training and scoring parameters of OmniAnomaly."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(100, gt=1, description="window length, steps")
    z_dim: int = Field(3, gt=0)
    gru_hidden: int = Field(500, gt=0, description="GRU units, inference and generative nets")
    dense_hidden: int = Field(500, gt=0, description="units of each of the two hidden dense layers")
    n_flows: int = Field(20, ge=0, description="planar flow layers on the posterior")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    batch_size: int = Field(50, gt=0)
    max_epochs: int = Field(20, gt=0)
    n_samples: int = Field(1, gt=0, description="posterior samples L averaged in the anomaly score")
    grad_clip: float = Field(10.0, gt=0, description="per-tensor gradient norm limit")
    std_eps: float = Field(1e-4, gt=0, description="added to every softplus std")


def load_profile(name: str) -> OmniAnomalyConfig:
    """The profile ``name`` (``paper`` or ``fast``) of ``conf/omnianomaly.yaml``."""
    profiles = yaml.safe_load(PROFILES_PATH.read_text())
    if name not in profiles:
        raise KeyError(f"no OmniAnomaly profile {name!r} in {PROFILES_PATH}; have {sorted(profiles)}")
    return OmniAnomalyConfig(**profiles[name])


def build_network(cfg: OmniAnomalyConfig, n_features: int) -> OmniAnomaly:
    """A fresh :class:`OmniAnomaly` with ``cfg``'s architecture."""
    return OmniAnomaly(n_features, cfg.z_dim, cfg.gru_hidden, cfg.dense_hidden, cfg.n_flows, cfg.std_eps)


class OmniAnomalyModule(pl.LightningModule):
    """Holds an :class:`OmniAnomaly`; batches are float32 (batch, window, n_features).

    Logs per epoch ``train_loss`` (−ELBO), ``train_rec`` (−log p(x|z)), ``train_kl``
    (log q(z|x) − log p(z)) and ``val_loss`` (−ELBO), all in nats per time step."""

    def __init__(self, net: OmniAnomaly, cfg: OmniAnomalyConfig) -> None:
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
