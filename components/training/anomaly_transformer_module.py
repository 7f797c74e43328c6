"""Training recipe for the Anomaly Transformer: the paper's one-step minimax, Adam.

Per batch, as the official solver: ``series_disc`` = AssDis with the prior detached,
``prior_disc`` = AssDis with the series detached (both averaged over batch and steps),
``loss1 = rec − k·series_disc`` (maximise phase: the series association is pushed away
from the prior), ``loss2 = rec + k·prior_disc`` (minimise phase: the prior is pulled
towards the series), then ``loss1.backward(retain_graph=True); loss2.backward()`` and one
Adam step. The learning rate of epoch e ≥ 1 is lr · lr_decay^(e−1) (official: 0.5).
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field

from components.models.anomaly_transformer import AnomalyTransformer, association_discrepancy

PROFILES_PATH = Path(__file__).resolve().parents[2] / "conf" / "anomaly_transformer.yaml"


class AnomalyTransformerConfig(BaseModel):
    """Architecture and training settings; profiles live in ``conf/anomaly_transformer.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(gt=1, description="time steps per window")
    d_model: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    e_layers: int = Field(gt=0, description="encoder (anomaly-attention) layers")
    d_ff: int = Field(gt=0, description="feed-forward width")
    dropout: float = Field(ge=0.0, lt=1.0)
    k: float = Field(gt=0.0, description="weight of the association discrepancy in the minimax losses")
    lr: float = Field(gt=0.0)
    lr_decay: float = Field(0.5, gt=0.0, le=1.0, description="per-epoch learning-rate factor from the 2nd epoch on")
    temperature: float = Field(gt=0.0, description="softmax temperature of the anomaly score")
    max_epochs: int = Field(gt=0)
    batch_size: int = Field(gt=0)

    def build_network(self, n_features: int) -> AnomalyTransformer:
        """A freshly initialised network of this architecture for ``n_features`` sensors."""
        return AnomalyTransformer(n_features, self.d_model, self.n_heads, self.e_layers, self.d_ff, self.dropout)


def load_profile(name: str, path: Path = PROFILES_PATH) -> AnomalyTransformerConfig:
    """The named profile (``paper`` or ``fast``) of ``conf/anomaly_transformer.yaml``."""
    profiles = yaml.safe_load(path.read_text())
    if name not in profiles:
        raise KeyError(f"no Anomaly Transformer profile {name!r} in {path}; have {sorted(profiles)}")
    return AnomalyTransformerConfig(**profiles[name])


class AnomalyTransformerModule(pl.LightningModule):
    """Holds an :class:`AnomalyTransformer`; trains it with manual optimisation.

    Logs per epoch ``train_loss`` (= ``train_rec``, the reconstruction MSE),
    ``train_series_disc``, ``train_prior_disc`` and ``val_loss`` (reconstruction MSE on
    the validation windows). Batches are float32 tensors (batch, window, n_features).
    """

    def __init__(self, net: AnomalyTransformer, cfg: AnomalyTransformerConfig) -> None:
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
