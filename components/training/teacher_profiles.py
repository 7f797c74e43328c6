"""The teachers' settings: one pydantic model per teacher (architecture, training and
scoring parameters) and their named profiles (``fast``, ``paper``) in
``conf/<kind>.yaml``.

Free of Lightning on purpose: rebuilding a trained teacher to score or serve it
(:func:`components.models.store.build_network`) needs only these settings and torch, so
the threshold, evaluate and register stages and a served teacher do not import the
training framework (about 7 s per process on 2 cores).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from components.models.anomaly_transformer import AnomalyTransformer
from components.models.omnianomaly import OmniAnomaly

TEACHERS = ("anomaly_transformer", "omnianomaly")
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


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


class OmniAnomalyConfig(BaseModel):
    """Architecture, training and scoring parameters of OmniAnomaly; profiles live in
    ``conf/omnianomaly.yaml``."""

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

    def build_network(self, n_features: int) -> OmniAnomaly:
        """A fresh :class:`OmniAnomaly` with this architecture for ``n_features`` sensors."""
        return OmniAnomaly(n_features, self.z_dim, self.gru_hidden, self.dense_hidden, self.n_flows, self.std_eps)


CONFIGS: dict[str, type[BaseModel]] = {"anomaly_transformer": AnomalyTransformerConfig, "omnianomaly": OmniAnomalyConfig}


def teacher_config(kind: str, profile: str) -> BaseModel:
    """The named profile (``fast`` or ``paper``) of ``conf/<kind>.yaml``; a ValueError for
    an unknown teacher, a KeyError for an unknown profile."""
    if kind not in CONFIGS:
        raise ValueError(f"unknown teacher {kind!r}; known: {TEACHERS}")
    path = CONF_DIR / f"{kind}.yaml"
    profiles = yaml.safe_load(path.read_text())
    if profile not in profiles:
        raise KeyError(f"no {kind} profile {profile!r} in {path}; have {sorted(profiles)}")
    return CONFIGS[kind](**profiles[profile])


def teacher_settings(kind: str, hparams: dict) -> BaseModel:
    """``kind``'s settings from a saved model's ``hparams`` (its config as dumped)."""
    if kind not in CONFIGS:
        raise ValueError(f"unknown teacher {kind!r}; known: {TEACHERS}")
    return CONFIGS[kind](**hparams)
