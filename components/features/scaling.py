"""Per-sensor standard scaling, fitted on the training split only, stored as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

_MIN_STD = 1e-8


@dataclass(frozen=True)
class StandardScaler:
    """z = (x − mean) / std per sensor; a constant sensor gets std 1 (it maps to 0)."""

    sensors: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, frame: pd.DataFrame, sensors: list[str]) -> "StandardScaler":
        values = frame[sensors].to_numpy(dtype=np.float64)
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0)
        std = np.where(std < _MIN_STD, 1.0, std)
        return cls(tuple(sensors), tuple(map(float, mean)), tuple(map(float, std)))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Scaled sensor values, shape (rows, n_sensors), float32."""
        values = frame[list(self.sensors)].to_numpy(dtype=np.float64)
        return ((values - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled values (rows, n_sensors) back to original units, float64."""
        return np.asarray(scaled, dtype=np.float64) * np.asarray(self.std) + np.asarray(self.mean)

    def save(self, path: str | Path) -> None:
        payload = {"kind": "standard", "sensors": list(self.sensors), "mean": list(self.mean), "std": list(self.std)}
        Path(path).write_text(json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "StandardScaler":
        payload = json.loads(Path(path).read_text())
        return cls(tuple(payload["sensors"]), tuple(payload["mean"]), tuple(payload["std"]))
