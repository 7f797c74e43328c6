"""Distillation targets: rank normalisation, the teacher combination, the training set."""

import numpy as np
import pandas as pd
import pytest
import torch

from components.detectors.lstm_ae import LstmAeDetector
from components.detectors.student import DistillationSettings
from components.features.scaling import StandardScaler
from components.models.lstm_autoencoder import LstmAutoencoder
from components.models.store import ModelSpec
from components.training.distillation import combine_targets, distillation_set, rank_normalise


def test_rank_normalise_spans_0_to_1_keeps_nan_and_averages_ties():
    ranked = rank_normalise(np.array([3.0, np.nan, 1.0, 2.0, 2.0, 10.0]))
    assert np.isnan(ranked[1])
    np.testing.assert_allclose(ranked[[0, 2, 3, 4, 5]], [0.75, 0.0, 0.375, 0.375, 1.0])
    assert np.all(np.isnan(rank_normalise(np.array([np.nan, np.nan]))))


def test_combine_targets_weights_available_teachers_only():
    ranked = {"a": np.array([0.0, 1.0, np.nan, np.nan]), "b": np.array([1.0, 1.0, 0.5, np.nan])}
    combined = combine_targets(ranked, {"a": 3.0, "b": 1.0})
    np.testing.assert_allclose(combined[:3], [0.25, 1.0, 0.5])
    assert np.isnan(combined[3])


@pytest.fixture()
def split() -> tuple[pd.DataFrame, StandardScaler]:
    rng = np.random.default_rng(0)
    t = np.arange(1200)
    frame = pd.DataFrame({
        "session": np.repeat(["p1#0", "p1#1"], 600),
        "a": np.sin(t / 10) + 0.05 * rng.normal(size=t.size),
        "b": np.cos(t / 10) + 0.05 * rng.normal(size=t.size),
        "label": 0,
    })
    return frame, StandardScaler.fit(frame, ["a", "b"])


def test_distillation_set_adds_injected_copies_with_soft_targets(split):
    frame, scaler = split
    torch.manual_seed(0)
    teacher = LstmAeDetector(ModelSpec("lstm_ae", ["a", "b"], 20, {"hidden_size": 8, "latent_size": 4}), LstmAutoencoder(2, 8, 4).eval())
    made = distillation_set(frame, scaler, {"omnianomaly": teacher}, {"omnianomaly": 1.0}, DistillationSettings(events_per_1000=5), copies=2, seed=3)
    assert made.values.shape == (3600, 2) and made.values.dtype == np.float32
    np.testing.assert_array_equal(made.values[:1200], scaler.transform(frame))
    assert len(set(made.sessions)) == 6  # each copy's sessions are distinct: no window spans copies
    assert made.injected[:1200].sum() == 0 and made.injected[1200:].sum() > 0
    targets = made.targets
    assert np.isnan(targets[:19]).all() and np.isfinite(targets[19:600]).all()  # teacher window 20
    assert 0.0 <= np.nanmin(targets) < 0.01 and 0.99 < np.nanmax(targets) <= 1.0  # copies tie outside events
    injected = made.injected.astype(bool) & np.isfinite(targets)
    assert np.nanmean(targets[injected]) > np.nanmean(targets[~made.injected.astype(bool)]) + 0.1
    again = distillation_set(frame, scaler, {"omnianomaly": teacher}, {"omnianomaly": 1.0}, DistillationSettings(events_per_1000=5), copies=2, seed=3)
    np.testing.assert_array_equal(again.values, made.values)
    np.testing.assert_array_equal(made.clean, np.tile(made.values[:1200], (3, 1)))  # the rows before injection
    changed = np.any(made.values != made.clean, axis=1)
    assert changed[made.injected.astype(bool)].mean() > 0.9 and not changed[~made.injected.astype(bool)].any()


def test_distillation_set_without_teachers_has_no_targets(split):
    frame, scaler = split
    made = distillation_set(frame, scaler, {}, {}, DistillationSettings(), copies=1, seed=0)
    assert made.targets is None and made.values.shape == (2400, 2)


def test_normal_rows_target_zero_and_injected_rows_keep_their_teacher_rank(split):
    """Default ``normal_rows: zero``: rows neither injected nor labelled get target 0,
    injected and labelled rows the teachers' rank, exactly as ``teacher_rank`` gives
    every row."""
    frame, scaler = split
    frame = frame.assign(label=0)
    frame.loc[300:320, "label"] = 1
    torch.manual_seed(0)
    teacher = LstmAeDetector(ModelSpec("lstm_ae", ["a", "b"], 20, {"hidden_size": 8, "latent_size": 4}), LstmAutoencoder(2, 8, 4).eval())

    def made(normal_rows: str):
        cfg = DistillationSettings(events_per_1000=5, normal_rows=normal_rows)
        return distillation_set(frame, scaler, {"omnianomaly": teacher}, {"omnianomaly": 1.0}, cfg, copies=2, seed=3)

    zero, ranked = made("zero"), made("teacher_rank")
    graded = (zero.injected == 1) | (zero.labels == 1)
    scored = np.isfinite(ranked.targets)
    np.testing.assert_array_equal(np.isfinite(zero.targets), scored)  # no target where no teacher scored
    assert (zero.targets[scored & ~graded] == 0).all()
    assert (ranked.targets[scored & ~graded] > 0).mean() > 0.99
    np.testing.assert_array_equal(zero.targets[graded], ranked.targets[graded])
    assert graded[scored].sum() > 100
