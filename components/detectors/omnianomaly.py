"""OmniAnomaly (Su et al., KDD 2019) as a teacher detector: settings
(``models.omnianomaly``, profiles in ``profiles/omnianomaly.yaml``) and detector.
Network and score: :mod:`components.models.omnianomaly`.

Causal score of a row: −log p(x_t | z) at the last step of the window ending at it,
averaged over ``n_samples`` posterior samples (the paper scores the last point of each
window); contributions from the posterior-mean reconstruction of that row.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from components.detectors.teacher import TeacherDetector, TeacherSettings


class OmniAnomalySettings(TeacherSettings):
    """``models.omnianomaly``: architecture, training and scoring settings."""

    profile_kind: ClassVar[str] = "omnianomaly"

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


class OmniAnomalyDetector(TeacherDetector):
    kind = "omnianomaly"
    Settings = OmniAnomalySettings
    paper_protocol = "last_step"

    @classmethod
    def network_from(cls, settings: OmniAnomalySettings, n_sensors: int):
        from components.models.omnianomaly import OmniAnomaly

        return OmniAnomaly(n_sensors, settings.z_dim, settings.gru_hidden, settings.dense_hidden, settings.n_flows, settings.std_eps)

    @classmethod
    def training_module(cls, net, settings: OmniAnomalySettings):
        from components.training.omnianomaly_module import OmniAnomalyModule

        return OmniAnomalyModule(net, settings)

    def per_step_scores(self, windows):
        from components.models.omnianomaly import anomaly_scores

        return anomaly_scores(self.model, windows, n_samples=self.spec.hparams.get("n_samples", 1))

    def last_step_reconstruction(self, windows):
        return self.model(windows, 1).x_mean[0][:, -1, :]
