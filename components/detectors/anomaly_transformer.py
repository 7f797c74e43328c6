"""Anomaly Transformer (Xu et al., ICLR 2022) as a teacher detector: settings
(``models.anomaly_transformer``, profiles in ``profiles/anomaly_transformer.yaml``) and
detector. Network, minimax losses and score: :mod:`components.models.anomaly_transformer`.

Causal score of a row: the paper's per-step score (softmax of −association discrepancy ×
reconstruction error) at the last step of the window ending at it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from components.detectors.teacher import TeacherDetector, TeacherSettings


class AnomalyTransformerSettings(TeacherSettings):
    """``models.anomaly_transformer``: architecture and training settings."""

    profile_kind: ClassVar[str] = "anomaly_transformer"

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


class AnomalyTransformerDetector(TeacherDetector):
    kind = "anomaly_transformer"
    Settings = AnomalyTransformerSettings
    paper_protocol = "tiled"

    @classmethod
    def network_from(cls, settings: AnomalyTransformerSettings, n_sensors: int):
        from components.models.anomaly_transformer import AnomalyTransformer

        return AnomalyTransformer(n_sensors, settings.d_model, settings.n_heads, settings.e_layers, settings.d_ff, settings.dropout)

    @classmethod
    def training_module(cls, net, settings: AnomalyTransformerSettings):
        from components.training.anomaly_transformer_module import AnomalyTransformerModule

        return AnomalyTransformerModule(net, settings)

    def per_step_scores(self, windows):
        from components.models.anomaly_transformer import anomaly_scores

        return anomaly_scores(self.model, windows, temperature=self.spec.hparams["temperature"])

    def last_step_reconstruction(self, windows):
        return self.model(windows)[0][:, -1, :]
