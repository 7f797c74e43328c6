"""The student's tail gate (components/models/tail_gate.py): ECOD's window score by
cumulative sums equals ECOD's own, the gate adds nothing below its level and exactly its
excess above it, and the contributions stay shares."""

from __future__ import annotations

import numpy as np
import pytest

from components.features.windows import gather_windows
from components.models.tail_gate import GateLevels, fit_tail, gated_scores, window_tails
from components.models.tail_probability import EcodModel

WINDOW = 6


@pytest.fixture(scope="module")
def tail() -> EcodModel:
    return fit_tail(np.random.default_rng(0).normal(size=(500, 3)), WINDOW, seed=1)


def test_window_tails_equal_ecod_on_the_gathered_windows_nan_where_a_value_is_not_finite(tail):
    values = np.random.default_rng(2).normal(size=(80, 3)) * 1.5
    values[40, 1] = np.nan
    starts = np.array([0, 3, 30, 35, 36, 60, 74])
    score, per_sensor = window_tails(tail, values, starts, WINDOW)
    want_score, want_sensor = tail.score_windows(gather_windows(values, starts, WINDOW))
    np.testing.assert_allclose(score, want_score, rtol=1e-12)
    np.testing.assert_allclose(per_sensor, want_sensor, rtol=1e-12)
    assert np.isnan(score).tolist() == [False, False, False, True, True, False, False]


def test_fit_tail_is_ecod_fitted_on_the_rows_for_the_window(tail):
    rows = np.random.default_rng(0).normal(size=(500, 3))
    windows = np.repeat(rows[:, None, :], WINDOW, axis=1)
    reference = EcodModel().fit(windows, seed=1)
    np.testing.assert_array_equal(tail.sorted_, reference.sorted_)
    assert tail.window == WINDOW and tail.n_sensors == 3
    with pytest.raises(ValueError, match="at least 2 finite training rows"):
        fit_tail(np.array([[0.0, np.nan], [1.0, 2.0]]), WINDOW, seed=0)


def test_gate_levels_are_the_calibration_quantiles():
    tail_scores, student_scores = np.arange(1.0, 101.0), np.linspace(-3.0, 7.0, 100)
    levels = GateLevels.from_scores(tail_scores, student_scores, 0.9)
    assert levels.tail_level == pytest.approx(np.quantile(tail_scores, 0.9))
    assert levels.student_level == pytest.approx(np.quantile(student_scores, 0.9))
    assert levels.student_floor == -3.0
    assert GateLevels.from_scores(tail_scores, student_scores + 10, 0.9).student_floor == 0.0
    with pytest.raises(ValueError, match="must be positive"):
        GateLevels.from_scores(np.zeros(10), student_scores, 0.9)
    with pytest.raises(ValueError, match=r"quantile must lie in \(0, 1\)"):
        GateLevels.from_scores(tail_scores, student_scores, 1.0)


def test_gated_scores_add_the_excess_over_the_tail_level_in_student_units():
    levels = GateLevels(quantile=0.99, tail_level=10.0, student_level=2.0, student_floor=-1.0)
    student = np.array([0.5, 0.5, 1.0, -2.0])
    tail = np.array([5.0, 10.0, 25.0, np.nan])
    student_errors = np.array([[1.0, 0.0], [1.0, 0.0], [3.0, 1.0], [1.0, 1.0]])
    tail_errors = np.array([[0.0, 5.0], [0.0, 10.0], [5.0, 20.0], [1.0, 1.0]])
    score, shares = gated_scores(student, student_errors, tail, tail_errors, levels)
    # below and at its level the tail adds nothing; above, (2 - (-1)) * (25 / 10 - 1) = 4.5
    np.testing.assert_allclose(score[:3], [0.5, 0.5, 1.0 + 4.5])
    assert np.isnan(score[3])
    np.testing.assert_allclose(shares[:2], [[1.0, 0.0], [1.0, 0.0]])
    weight = 4.5 / (4.5 + (1.0 + 1.0))  # the tail term's share of the score above the floor
    np.testing.assert_allclose(shares[2], (1 - weight) * np.array([0.75, 0.25]) + weight * np.array([0.2, 0.8]))
    np.testing.assert_allclose(shares[:3].sum(axis=1), 1.0)
