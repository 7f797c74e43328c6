"""Per-row anomaly scores for a regular, sessionised series.

Every model scores the same way so thresholds, evaluation and serving agree: the score
of row t is the model's error at the *last* step of the window that ends at t (causal:
only rows up to t are used). Rows with fewer than ``window − 1`` earlier rows in their
session get NaN (reported as ``insufficient_history`` when served).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from components.features.scaling import StandardScaler
from components.features.windows import gather_windows, window_starts
from components.frames import SESSION
from components.models.lstm_autoencoder import LstmAutoencoder


@dataclass(frozen=True)
class SeriesScores:
    """``score``: (rows,) mean squared error over sensors, NaN without full history.
    ``contributions``: (rows, n_sensors) each sensor's share of that error (rows sum to 1)."""

    score: np.ndarray
    contributions: np.ndarray


def score_series(
    model: LstmAutoencoder, scaled: np.ndarray, sessions: np.ndarray, window: int, batch_size: int = 4096
) -> SeriesScores:
    """Score every row of ``scaled`` (rows, n_sensors) given its ``sessions`` ids."""
    n, f = scaled.shape
    score = np.full(n, np.nan)
    contributions = np.full((n, f), np.nan)
    starts = window_starts(sessions, window, 1)
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(starts), batch_size):
            chunk = starts[i : i + batch_size]
            windows = torch.from_numpy(gather_windows(scaled, chunk, window))
            last_error = model.step_errors(windows)[:, -1, :].double().numpy()
            rows = chunk + window - 1
            score[rows] = last_error.mean(axis=1)
            total = last_error.sum(axis=1, keepdims=True)
            contributions[rows] = last_error / np.where(total > 0, total, 1.0)
    return SeriesScores(score, contributions)


def score_frame(model: LstmAutoencoder, scaler: StandardScaler, frame: pd.DataFrame, window: int) -> SeriesScores:
    """Score a regular, sessionised frame (columns ``session`` + the scaler's sensors)."""
    return score_series(model, scaler.transform(frame), frame[SESSION].to_numpy(), window)
