"""Every registered detector kind through the one interface: fit on a tiny prepared data
set, causal per-row scores (NaN exactly without a full window of history in the row's
session), per-sensor contributions summing to 1, and plain-file save → load that scores
identically, with nothing pickled."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from components.detectors.base import Detector, FitContext, SeriesScores
from components.detectors.registry import KINDS, detector_class, load_detector
from components.frames import SESSION
from components.models.store import SPEC_FILE, ModelSpec
from tests.detectors.conftest_data import SAMPLED_KINDS, SENSORS, SMALL_SETTINGS, tiny_prepared

ALLOWED_SUFFIXES = {".json", ".pt", ".npz"}


@pytest.fixture(scope="module")
def prepared():
    return tiny_prepared()


@pytest.fixture(scope="module")
def fitted(prepared) -> dict:
    """kind → (detector, fit result), each fitted once for the module."""
    import torch

    threads = torch.get_num_threads()
    out = {}
    try:
        for kind in KINDS:
            cls = detector_class(kind)
            out[kind] = cls.fit(cls.Settings(**SMALL_SETTINGS[kind]), prepared, FitContext(seed=3))
    finally:
        torch.set_num_threads(threads)
    return out


def _test_values(prepared) -> tuple[np.ndarray, np.ndarray]:
    test = prepared.splits["test"]
    return prepared.scaler.transform(test), test[SESSION].to_numpy()


def test_small_settings_cover_every_registered_kind():
    assert set(SMALL_SETTINGS) == set(KINDS), "add small settings for a new detector kind"


@pytest.mark.parametrize("kind", KINDS)
def test_fit_gives_a_detector_of_its_kind_with_its_settings(kind, fitted):
    detector, result = fitted[kind]
    settings = SMALL_SETTINGS[kind]
    assert type(detector) is detector_class(kind) and isinstance(detector, Detector)
    assert detector.spec.kind == kind and detector.window == settings["window"]
    assert detector.sensors == SENSORS
    assert len(result.history) <= settings.get("max_epochs", 0)  # baselines train no epochs
    assert result.seconds >= 0


@pytest.mark.parametrize("kind", KINDS)
def test_score_is_nan_exactly_without_a_full_window_and_finite_after(kind, fitted, prepared):
    detector, _ = fitted[kind]
    values, sessions = _test_values(prepared)
    window = detector.window
    scores = detector.score(values, sessions)
    assert isinstance(scores, SeriesScores)
    assert scores.score.shape == (len(values),) and scores.contributions.shape == (len(values), len(SENSORS))
    assert np.isnan(scores.score[: window - 1]).all()
    assert np.isfinite(scores.score[window - 1 :]).all()
    assert np.isnan(scores.contributions[: window - 1]).all()

    # a second session restarts the history: its first window − 1 rows have no score either
    split = 100
    two = np.where(np.arange(len(values)) < split, "a", "b")
    again = detector.score(values, two).score
    expected_nan = np.zeros(len(values), dtype=bool)
    expected_nan[: window - 1] = True
    expected_nan[split : split + window - 1] = True
    np.testing.assert_array_equal(np.isnan(again), expected_nan)
    rtol = 0.1 if kind in SAMPLED_KINDS else 1e-5  # the first session scores as before, the second did not leak into it
    np.testing.assert_allclose(again[window - 1 : split], scores.score[window - 1 : split], rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_contributions_are_non_negative_shares_summing_to_one(kind, fitted, prepared):
    detector, _ = fitted[kind]
    values, sessions = _test_values(prepared)
    contributions = detector.score(values, sessions).contributions[detector.window - 1 :]
    assert np.isfinite(contributions).all() and (contributions >= 0).all()
    np.testing.assert_allclose(contributions.sum(axis=1), 1.0, rtol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_scores_are_causal(kind, fitted, prepared):
    """Changing rows from ``t`` on leaves every score before ``t`` as it was."""
    detector, _ = fitted[kind]
    values, sessions = _test_values(prepared)
    changed = values.copy()
    changed[150:] += 3.0
    before, after = detector.score(values, sessions).score, detector.score(changed, sessions).score
    np.testing.assert_allclose(after[:150], before[:150], rtol=1e-5, atol=1e-7, equal_nan=True)
    assert not np.allclose(after[150:], before[150:])


@pytest.mark.parametrize("kind", KINDS)
def test_scoring_is_reproducible(kind, fitted, prepared):
    detector, _ = fitted[kind]
    values, sessions = _test_values(prepared)
    np.testing.assert_array_equal(detector.score(values, sessions).score, detector.score(values, sessions).score)


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_scores_identically_from_plain_files(kind, fitted, prepared, tmp_path, monkeypatch):
    detector, _ = fitted[kind]
    detector.save(tmp_path)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert SPEC_FILE in {p.name for p in files}
    assert ModelSpec(**json.loads((tmp_path / SPEC_FILE).read_text())) == detector.spec
    assert {p.suffix for p in files} <= ALLOWED_SUFFIXES, [p.name for p in files]  # no .pkl, .joblib, .pickle
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                assert all(name.endswith(".npy") for name in archive.namelist())
            with np.load(path, allow_pickle=False) as arrays:  # refuses object arrays
                assert all(arrays[name].dtype != object for name in arrays.files)

    import torch

    real_load, loads = torch.load, []

    def recording_load(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    loaded = load_detector(tmp_path)
    assert all(weights_only is True for weights_only in loads)  # never unpickles arbitrary objects
    assert len(loads) == sum(p.suffix == ".pt" for p in files)
    assert type(loaded) is type(detector) and loaded.spec == detector.spec

    values, sessions = _test_values(prepared)
    want, got = detector.score(values, sessions), loaded.score(values, sessions)
    np.testing.assert_array_equal(got.score, want.score)
    np.testing.assert_array_equal(got.contributions, want.contributions)
    np.testing.assert_array_equal(loaded.benchmark_scores(values, seed=0), detector.benchmark_scores(values, seed=0))


@pytest.mark.parametrize("kind", KINDS)
def test_score_frame_scales_the_raw_frame(kind, fitted, prepared):
    detector, _ = fitted[kind]
    test = prepared.splits["test"]
    values, sessions = _test_values(prepared)
    np.testing.assert_array_equal(detector.score_frame(prepared.scaler, test).score, detector.score(values, sessions).score)


@pytest.mark.parametrize("kind", KINDS)
def test_benchmark_scores_give_one_finite_score_per_row(kind, fitted, prepared):
    detector, _ = fitted[kind]
    values, _ = _test_values(prepared)
    scores = detector.benchmark_scores(values, seed=0)
    assert scores.shape == (len(values),) and np.isfinite(scores).all()


def test_a_directory_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"holds no saved model \\(missing {SPEC_FILE}\\)"):
        load_detector(tmp_path)


def test_a_detector_refuses_a_spec_of_another_kind(fitted):
    detector, _ = fitted["pca"]
    other = ModelSpec("iforest", SENSORS, detector.window, {})
    with pytest.raises(ValueError, match="holds 'pca' models, not 'iforest'"):
        type(detector)(other, detector.model)
