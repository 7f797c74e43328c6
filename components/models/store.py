"""Save and load a trained model as plain files: ``model.json`` (kind, hyper-parameters,
window, sensor order, score calibration) plus, for networks, ``weights.pt`` (a state
dict, loaded with ``weights_only=True``) or, for the classic baselines, their own
pickle-free files (:mod:`components.models.baselines`). torch is imported only for
networks, so a process that fits or scores a baseline does without it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

WEIGHTS_FILE = "weights.pt"
SPEC_FILE = "model.json"
NETWORKS = ("student", "lstm_ae", "anomaly_transformer", "omnianomaly")
BASELINES = ("pca", "iforest")
KINDS = NETWORKS + BASELINES


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild the network and feed it.

    ``hparams`` are the keyword arguments of the kind's network or detector;
    ``error_scale`` (n_sensors,) is the per-sensor training error used to normalise
    reconstruction scores (lstm_ae); ``calibration`` is the student's
    :class:`~components.models.student.ScoreCalibration` as a dict.
    """

    kind: str
    sensors: list[str]
    window: int
    hparams: dict = field(default_factory=dict)
    error_scale: list[float] | None = None
    calibration: dict | None = None


def build_network(spec: ModelSpec):
    """A freshly initialised network (or unfitted baseline detector) for ``spec``."""
    n = len(spec.sensors)
    if spec.kind == "student":
        from components.models.student import MtlStudent

        return MtlStudent(n, **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.hparams.items()})
    if spec.kind in BASELINES:
        from components.models.baselines import build_baseline

        return build_baseline(spec.kind, spec.hparams)
    if spec.kind == "lstm_ae":
        from components.models.lstm_autoencoder import LstmAutoencoder

        return LstmAutoencoder(n, **spec.hparams)
    if spec.kind in ("anomaly_transformer", "omnianomaly"):
        from components.training.teacher_profiles import teacher_settings

        return teacher_settings(spec.kind, spec.hparams).build_network(n)
    raise ValueError(f"unknown model kind {spec.kind!r}; known: {KINDS}")


def save_network(net, spec: ModelSpec, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if spec.kind in BASELINES:
        net.save(directory)
    else:
        import torch

        torch.save(net.state_dict(), directory / WEIGHTS_FILE)
    (directory / SPEC_FILE).write_text(json.dumps(asdict(spec), indent=2))


def load_network(directory: str | Path) -> tuple[nn.Module, ModelSpec]:
    directory = Path(directory)
    spec = ModelSpec(**json.loads((directory / SPEC_FILE).read_text()))
    if spec.kind in BASELINES:
        from components.models.baselines import load_baseline

        return load_baseline(spec.kind, directory), spec
    import torch

    net = build_network(spec)
    net.load_state_dict(torch.load(directory / WEIGHTS_FILE, weights_only=True))
    net.eval()
    return net, spec
