"""Save and load a trained network as plain files: ``weights.pt`` (a state dict, loaded
with ``weights_only=True``) and ``model.json`` (architecture, window, sensor order)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from components.models.lstm_autoencoder import LstmAutoencoder

WEIGHTS_FILE = "weights.pt"
SPEC_FILE = "model.json"


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild the network and feed it."""

    kind: str
    sensors: list[str]
    window: int
    hidden_size: int
    latent_size: int
    num_layers: int
    error_scale: list[float] | None = None  # per-sensor training MSE, see scoring.series_scores


def build_network(spec: ModelSpec) -> LstmAutoencoder:
    if spec.kind != "lstm_ae":
        raise ValueError(f"unknown model kind {spec.kind!r}")
    return LstmAutoencoder(len(spec.sensors), spec.hidden_size, spec.latent_size, spec.num_layers)


def save_network(net: torch.nn.Module, spec: ModelSpec, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), directory / WEIGHTS_FILE)
    (directory / SPEC_FILE).write_text(json.dumps(asdict(spec), indent=2))


def load_network(directory: str | Path) -> tuple[LstmAutoencoder, ModelSpec]:
    directory = Path(directory)
    spec = ModelSpec(**json.loads((directory / SPEC_FILE).read_text()))
    net = build_network(spec)
    net.load_state_dict(torch.load(directory / WEIGHTS_FILE, weights_only=True))
    net.eval()
    return net, spec
