"""Teachers' per-row scores laid out as their papers score a test series."""

from __future__ import annotations

import numpy as np

import components.benchmarks.paper_scoring as paper_scoring
from components.benchmarks.paper_scoring import last_step_scores, tiled_scores


class _StepIndex:
    """A fake detector whose per-step score is the row index it sees (feature 0)."""

    window = 4
    temperature = n_samples = 1


def test_scoring_layouts(monkeypatch):
    def per_step(kind, net, cfg, values, starts):
        return np.stack([values[s : s + cfg.window, 0] for s in starts]).astype(float)

    monkeypatch.setattr(paper_scoring, "_per_step_scores", per_step)
    values = np.arange(10, dtype=np.float32)[:, None]
    # tiles 0-3, 4-7, then the last 2 rows from the window 6-9: every row scored once, by itself
    assert tiled_scores("anomaly_transformer", None, _StepIndex, values).tolist() == list(range(10))
    # last step of the window ending at t; rows 0-2 from the first window
    assert last_step_scores("omnianomaly", None, _StepIndex, values).tolist() == list(range(10))

    # a layout that distinguishes the two: score = row index within its window
    def position(kind, net, cfg, values, starts):
        return np.tile(np.arange(cfg.window, dtype=float), (len(starts), 1))

    monkeypatch.setattr(paper_scoring, "_per_step_scores", position)
    assert tiled_scores("anomaly_transformer", None, _StepIndex, values).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 2, 3]
    assert last_step_scores("omnianomaly", None, _StepIndex, values).tolist() == [0, 1, 2] + [3] * 7
