"""The student's tail gate: ECOD's tail score joins the student's score only where a
window is rarer than its calibration windows make likely (issue 31, "its own score
weighting"; the study: ``benchmarks/student_weighting.py``).

A window's tail score ``e`` is ECOD's (:class:`~components.models.tail_probability.EcodModel`,
fitted on the training rows): the sum of its rows' per-sensor outlyingness. With
``level_e`` and ``level_s`` the ``quantile`` of the tail and student scores on the
calibration windows (the student's training and validation windows) and
``floor_s = min(0, lowest calibration student score)``, the gated score of a window with
student score ``s`` is::

    s + (level_s − floor_s) · max(0, e / level_e − 1)

i.e. in units of each score's calibration level, ``s`` plus ECOD's excess over its own
level. Below its level ECOD adds nothing, so the student's ranking of ordinary windows is
untouched; a reading far out in one sensor's tails (which the student, trained to
reconstruct, may smooth over) raises the score at once. The study measured this form with
POT warning levels on validation rows in place of the calibration quantiles: on MSL
(seed 7) VUS-PR 0.448 against the student's 0.407 and ECOD's 0.435, on the demo plant
0.351 against 0.352.

Per-row outlyingness is computed once per scoring batch and summed over each window with
a cumulative sum (O(rows · sensors), not O(rows · window · sensors)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from components.models.tail_probability import EcodModel


@dataclass(frozen=True)
class GateLevels:
    """The calibration levels of :func:`gated_scores` (module doc): ``tail_level`` (> 0)
    of the tail score and ``student_level``, ``student_floor`` of the student's score,
    the levels at ``quantile`` of the calibration windows."""

    quantile: float
    tail_level: float
    student_level: float
    student_floor: float

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_scores(cls, tail_scores: np.ndarray, student_scores: np.ndarray, quantile: float) -> "GateLevels":
        """Levels from the tail and student scores (windows,) of the calibration windows."""
        if not 0 < quantile < 1:
            raise ValueError(f"the gate's quantile must lie in (0, 1), got {quantile}")
        tail_level = float(np.quantile(tail_scores, quantile))
        if not tail_level > 0:
            raise ValueError(f"the tail score's calibration level must be positive, got {tail_level}")
        return cls(quantile, tail_level, float(np.quantile(student_scores, quantile)), float(min(0.0, np.min(student_scores))))


def fit_tail(train_rows: np.ndarray, window: int, seed: int, fit_sample: int = 20_000) -> EcodModel:
    """ECOD's per-sensor tails from the training readings (rows, n_sensors), scaled."""
    return EcodModel(fit_sample).fit_rows(train_rows, window, seed)


def window_tails(tail: EcodModel, scaled: np.ndarray, starts: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(score (batch,), per-sensor sums (batch, n_sensors)) of ECOD on the windows of
    ``scaled`` (rows, n_sensors) starting at ``starts`` (sorted or not); NaN for a window
    holding a non-finite value."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return np.empty(0), np.empty((0, scaled.shape[1]))
    low, high = int(starts.min()), int(starts.max()) + window
    rows = np.asarray(scaled[low:high], dtype=np.float64)
    finite = np.isfinite(rows).all(axis=1)
    outlying = tail.outlyingness(np.where(finite[:, None], rows, 0.0))
    outlying[~finite] = 0.0
    summed = np.vstack([np.zeros((1, rows.shape[1])), np.cumsum(outlying, axis=0)])
    bad = np.concatenate([[0], np.cumsum(~finite)])
    first, last = starts - low, starts - low + window
    per_sensor = summed[last] - summed[first]
    per_sensor[bad[last] > bad[first]] = np.nan
    return per_sensor.sum(axis=1), per_sensor


def gated_scores(
    student: np.ndarray, student_errors: np.ndarray, tail: np.ndarray, tail_errors: np.ndarray, levels: GateLevels,
) -> tuple[np.ndarray, np.ndarray]:
    """(score (batch,), contributions (batch, n_sensors), rows summing to 1) of the gated
    score (module doc) from the student's and the tail's window scores and per-sensor
    errors. A sensor's contribution mixes its share of each part's errors, weighted by the
    tail term's share of the score above the student's floor."""
    term = (levels.student_level - levels.student_floor) * np.maximum(0.0, tail / levels.tail_level - 1.0)
    above_floor = np.maximum(student - levels.student_floor, 0.0)
    total = above_floor + term
    weight = np.divide(term, total, out=np.zeros_like(term), where=total > 0)[:, None]
    return student + term, (1.0 - weight) * _shares(student_errors) + weight * _shares(tail_errors)


def _shares(errors: np.ndarray) -> np.ndarray:
    total = errors.sum(axis=1, keepdims=True)
    return errors / np.where(total > 0, total, 1.0)
