"""One score per row from a teacher network, the way its paper scores a test series.

* Anomaly Transformer (:func:`tiled_scores`): the per-step scores of non-overlapping
  windows tiling the series (rows 0..W−1, W..2W−1, …); a last partial tile is scored
  with the window that ends at the last row, keeping its last steps.
* OmniAnomaly (:func:`last_step_scores`): row t gets the last-step score of the stride-1
  window ending at t; rows before the first full window take that first window's
  per-step scores.

Input ``values`` are scaled rows (rows, features), float32; windows are scored
``SCORE_BATCH`` at a time under ``torch.inference_mode``.
"""

from __future__ import annotations

import numpy as np

SCORE_BATCH = 1024


def _per_step_scores(kind: str, net, cfg, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-step scores (len(starts), window) of the windows of ``values`` at ``starts``."""
    import torch

    from components.features.windows import gather_windows

    if kind == "anomaly_transformer":
        from components.models.anomaly_transformer import anomaly_scores

        def score(windows: torch.Tensor) -> torch.Tensor:
            return anomaly_scores(net, windows, temperature=cfg.temperature)
    elif kind == "omnianomaly":
        from components.models.omnianomaly import anomaly_scores

        def score(windows: torch.Tensor) -> torch.Tensor:
            return anomaly_scores(net, windows, n_samples=cfg.n_samples)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    net.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(starts), SCORE_BATCH):
            windows = torch.from_numpy(gather_windows(values, starts[i : i + SCORE_BATCH], cfg.window))
            out.append(score(windows).double().numpy())
    return np.concatenate(out)


def all_starts(n_rows: int, window: int, stride: int) -> np.ndarray:
    from components.features.windows import window_starts

    return window_starts(np.zeros(n_rows, dtype=np.int8), window, stride)


def tiled_scores(kind: str, net, cfg, values: np.ndarray) -> np.ndarray:
    """Anomaly Transformer protocol: per-step scores of non-overlapping windows tiling the
    rows; a last partial tile keeps the last steps of the window ending at the last row."""
    n, window = len(values), cfg.window
    if n < window:
        raise ValueError(f"{n} rows are fewer than one window of {window}")
    starts = all_starts(n, window, window)
    tail = n - (starts[-1] + window)
    if tail:
        starts = np.append(starts, n - window)
    per_step = _per_step_scores(kind, net, cfg, values, starts)
    if not tail:
        return per_step.reshape(-1)
    return np.concatenate([per_step[:-1].reshape(-1), per_step[-1, window - tail :]])


def last_step_scores(kind: str, net, cfg, values: np.ndarray) -> np.ndarray:
    """OmniAnomaly protocol: row t gets the last-step score of the stride-1 window ending at
    t; rows before the first full window take that window's per-step scores."""
    n, window = len(values), cfg.window
    if n < window:
        raise ValueError(f"{n} rows are fewer than one window of {window}")
    per_step = _per_step_scores(kind, net, cfg, values, all_starts(n, window, 1))
    return np.concatenate([per_step[0, : window - 1], per_step[:, -1]])


def score_rows(kind: str, net, cfg, values: np.ndarray, seed: int) -> np.ndarray:
    """One score per row of ``values`` (scaled, float32), the way ``kind``'s paper scores."""
    import torch

    torch.manual_seed(seed)  # OmniAnomaly samples the posterior
    if kind == "anomaly_transformer":
        return tiled_scores(kind, net, cfg, values)
    return last_step_scores(kind, net, cfg, values)
