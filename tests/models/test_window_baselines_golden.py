"""KMeansAD, COPOD and ECOD against their reference implementations: golden values from
TSB-AD 1.5's KMeansAD and PyOD 3.6.7's COPOD / ECOD on fixed inputs
(``golden_baselines.json``, written by ``benchmarks/peers/golden_baselines.py``), and the
properties the detectors add (window sums, causality, saved files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from components.models.tail_probability import CopodModel, EcodModel
from components.models.window_kmeans import WindowKMeansModel

GOLDEN = json.loads((Path(__file__).parent / "golden_baselines.json").read_text())
TRAIN, NEW = np.asarray(GOLDEN["train"]), np.asarray(GOLDEN["new"])


def _windows(series: np.ndarray, window: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(series, window, axis=0).transpose(0, 2, 1)


@pytest.mark.parametrize(("model_class", "key"), [(CopodModel, "copod_one_row"), (EcodModel, "ecod_one_row")])
def test_a_row_scores_as_pyod_scores_it_alone_after_fitting_on_the_training_rows(model_class, key):
    model = model_class().fit(TRAIN[:, None, :])
    scores, errors = model.score_windows(NEW[:, None, :])
    np.testing.assert_allclose(scores, GOLDEN[key], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(errors.sum(axis=1), scores, rtol=1e-12)


def test_the_tail_detectors_differ_where_copod_averages_the_two_tails():
    copod = CopodModel().fit(TRAIN[:, None, :]).score_windows(NEW[:, None, :])[0]
    ecod = EcodModel().fit(TRAIN[:, None, :]).score_windows(NEW[:, None, :])[0]
    assert np.all(ecod >= copod - 1e-12) and np.any(ecod > copod + 1e-6)


@pytest.mark.parametrize("model_class", [CopodModel, EcodModel])
def test_a_window_scores_the_sum_of_its_rows_and_a_non_finite_window_scores_nan(model_class):
    rows = model_class().fit(TRAIN[:, None, :])
    windowed = model_class().fit(_windows(TRAIN, 5))  # fits on each window's last row: rows 4…
    one_row = model_class().fit(TRAIN[4:, None, :])
    windows = _windows(NEW, 5)
    expected = one_row.score_windows(NEW[:, None, :])[0]
    np.testing.assert_allclose(windowed.score_windows(windows)[0], np.convolve(expected, np.ones(5), "valid"), rtol=1e-12)
    assert rows.sorted_.shape == (300, 3)
    broken = windows.copy()
    broken[2, 1, 0] = np.nan
    score, errors = windowed.score_windows(broken)
    assert np.isnan(score[2]) and np.isnan(errors[2]).all() and np.isfinite(np.delete(score, 2)).all()


def test_values_beyond_every_training_value_get_the_smallest_tail_probability():
    model = CopodModel().fit(TRAIN[:, None, :])
    u_left, u_right = model.tails(np.array([[-1e9, 1e9, 1e9], [1e9, -1e9, -1e9]]))
    largest = -np.log(1 / 301)
    np.testing.assert_allclose(u_left[0, 0], largest)
    np.testing.assert_allclose(u_right[0, 1:], largest)
    np.testing.assert_allclose(u_right[1, 0], largest)


def test_kmeans_ad_window_distances_match_tsb_ad():
    golden = GOLDEN["kmeans_ad"]
    model = WindowKMeansModel(n_clusters=golden["n_clusters"]).fit(_windows(TRAIN, golden["window"]), seed=golden["seed"])
    score, errors = model.score_windows(_windows(NEW, golden["window"]))
    np.testing.assert_allclose(score, golden["window_distances"], rtol=1e-9)
    np.testing.assert_allclose(errors.sum(axis=1), score**2, rtol=1e-9)


def test_kmeans_ad_ignores_a_window_s_level_and_scale_but_not_its_shape():
    model = WindowKMeansModel(n_clusters=4).fit(_windows(TRAIN, 5), seed=0)
    windows = _windows(NEW, 5)
    np.testing.assert_allclose(model.score_windows(3.0 * windows + 7.0)[0], model.score_windows(windows)[0], rtol=1e-9)
    flat = np.full((1, 5, 3), 2.0)
    assert np.isfinite(model.score_windows(flat)[0]).all()


@pytest.mark.parametrize("model", [CopodModel(), EcodModel(fit_sample=100), WindowKMeansModel(n_clusters=3, fit_sample=200)], ids=["copod", "ecod", "kmeans_ad"])
def test_saved_arrays_load_to_the_same_scores(model, tmp_path):
    model.fit(_windows(TRAIN, 5), seed=1)
    model.save(tmp_path)
    loaded = type(model).load(tmp_path)
    windows = _windows(NEW, 5)
    np.testing.assert_array_equal(loaded.score_windows(windows)[0], model.score_windows(windows)[0])
