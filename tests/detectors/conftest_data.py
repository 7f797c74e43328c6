"""A tiny prepared data set and small settings for every detector kind, shared by the
detector tests (fits in seconds on 2 cores)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.benchmarks.protocol import arrays_as_prepared
from components.features.scaling import StandardScaler

SENSORS = ["x0", "x1", "x2"]

_NETWORK = {"max_epochs": 1, "batch_size": 64, "train_stride": 4, "num_threads": 1}
_TEACHER = {"max_epochs": 1, "batch_size": 64, "train_stride": 4, "num_threads": 1}
SMALL_SETTINGS: dict[str, dict] = {
    "student": {
        "window": 17, "channels": [4, 8, 8], "bottleneck": 8, "latent": 4, **_NETWORK,
        "distillation": {"teacher_weights": {}, "injected_copies": 1},
    },
    "lstm_ae": {"window": 8, "hidden_size": 8, "latent_size": 4, **_NETWORK},
    "anomaly_transformer": {"window": 8, "d_model": 8, "n_heads": 2, "e_layers": 1, "d_ff": 16, **_TEACHER},
    "omnianomaly": {"window": 8, "z_dim": 2, "gru_hidden": 8, "dense_hidden": 8, "n_flows": 1, "n_samples": 2, **_TEACHER},
    "pca": {"window": 8, "variance": 0.9, "train_stride": 2},
    "iforest": {"window": 8, "n_estimators": 10, "train_stride": 2},
    "kmeans_ad": {"window": 8, "n_clusters": 4, "train_stride": 2},
    "copod": {"window": 8, "train_stride": 1},
    "ecod": {"window": 8, "train_stride": 1},
}

# Kinds whose score samples (OmniAnomaly's posterior): one scoring call draws its samples
# for all the windows it scores, so a row's score moves (by the sampling noise) when a
# call scores a different set of windows; the same call on the same input is exact.
SAMPLED_KINDS = {"omnianomaly"}


def plant_like(rows: int, seed: int) -> np.ndarray:
    """Three correlated, noisy sensors (rows, 3) in raw units."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)[:, None]
    drivers = np.concatenate([np.sin(t / 9.0), np.cos(t / 23.0)], axis=1)
    mix = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.8]])
    return 10.0 + 3.0 * (drivers @ mix) + 0.2 * rng.standard_normal((rows, 3))


def tiny_prepared():
    """One-session train (400 rows), val (160) and test (200, a few labelled) splits."""
    train, val, test = plant_like(400, 0), plant_like(160, 1), plant_like(200, 2)
    labels = np.zeros(len(test), dtype=np.int8)
    test[120:125, 1] += 5.0
    labels[120:125] = 1
    scaler = StandardScaler.fit(pd.DataFrame(train, columns=SENSORS), SENSORS)
    return arrays_as_prepared(train, val, test, labels, scaler)
