"""Teachers' per-row benchmark scores laid out as their papers score a test series
(:meth:`components.detectors.teacher.TeacherDetector.benchmark_scores`)."""

from __future__ import annotations

import numpy as np

from components.detectors.anomaly_transformer import AnomalyTransformerDetector
from components.detectors.omnianomaly import OmniAnomalyDetector
from components.models.store import ModelSpec


def _detector(cls, per_step):
    """A ``cls`` detector with a window of 4 whose per-step scores are ``per_step(values, starts)``."""
    detector = cls(ModelSpec(cls.kind, ["x0"], 4, {}), model=None)
    detector._per_step_at = per_step
    return detector


def test_scoring_layouts():
    def step_index(values, starts):  # the per-step score is the row index it sees (feature 0)
        return np.stack([values[s : s + 4, 0] for s in starts]).astype(float)

    values = np.arange(10, dtype=np.float32)[:, None]
    # tiles 0-3, 4-7, then the last 2 rows from the window 6-9: every row scored once, by itself
    assert _detector(AnomalyTransformerDetector, step_index).benchmark_scores(values, 0).tolist() == list(range(10))
    # last step of the window ending at t; rows 0-2 from the first window
    assert _detector(OmniAnomalyDetector, step_index).benchmark_scores(values, 0).tolist() == list(range(10))

    def position(values, starts):  # a layout that distinguishes the two: score = row index within its window
        return np.tile(np.arange(4, dtype=float), (len(starts), 1))

    assert _detector(AnomalyTransformerDetector, position).benchmark_scores(values, 0).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 2, 3]
    assert _detector(OmniAnomalyDetector, position).benchmark_scores(values, 0).tolist() == [0, 1, 2] + [3] * 7
