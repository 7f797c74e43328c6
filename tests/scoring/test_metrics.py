"""Metrics against the golden values in ``shared/testdata/metrics_golden.json`` (computed
with unmodified TSB-AD 1.5 / vus 0.0.6 / tadpak 0.3.3 / sklearn), plus small hand cases."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from components.scoring.metrics import (
    best_pa_f1,
    detection_delays,
    evaluate_scores,
    events,
    pa_f1_at,
    point_adjust,
    point_metrics,
    pr_auc,
    roc_auc,
    vus_pr,
    vus_roc,
)

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "metrics_golden.json"
TOL = 1e-9


def _cases() -> list[dict]:
    if not GOLDEN.is_file():
        return []
    return json.loads(GOLDEN.read_text())["cases"]


CASES = _cases()
needs_golden = pytest.mark.skipif(not CASES, reason=f"golden metrics file not found at {GOLDEN} (it lives beside the project)")
golden = pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])


def _arrays(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.asarray(case["scores"], dtype=float)
    labels = np.asarray(case["labels"], dtype=int)
    return labels, scores, (scores > case["threshold"]).astype(int)


def _close(got: float, expected: float | None) -> bool:
    return math.isnan(got) if expected is None else abs(got - expected) <= TOL


@needs_golden
@golden
def test_point_metrics_at_threshold(case: dict) -> None:
    labels, _, pred = _arrays(case)
    assert int(pred.sum()) == case["expected"]["thr.n_predicted"]
    got = point_metrics(labels, pred)
    for key in ("precision", "recall", "f1", "f2"):
        assert _close(got[key], case["expected"][f"thr.{key}"]), key


@needs_golden
@golden
def test_point_adjusted_at_threshold(case: dict) -> None:
    labels, _, pred = _arrays(case)
    adjusted = point_metrics(labels, point_adjust(labels, pred))
    for key in ("precision", "recall", "f1"):
        assert _close(adjusted[key], case["expected"][f"thr.pa_{key}"]), key
    assert _close(pa_f1_at(labels, pred), case["expected"]["thr.pa_f1"])


@needs_golden
@golden
def test_auc_roc_and_pr(case: dict) -> None:
    labels, scores, _ = _arrays(case)
    assert _close(roc_auc(labels, scores), case["expected"]["AUC-ROC"])
    assert _close(pr_auc(labels, scores), case["expected"]["AUC-PR"])


@needs_golden
@golden
def test_best_pa_f1_on_tsbad_grid(case: dict) -> None:
    """Textbook adjustment = ``tadpak_pak_on_tsbad_grid.PA-F1``; TSB-AD's ``PA-F1`` agrees
    whenever its index-0 quirk cannot apply (no event starting at index 0)."""
    labels, scores, _ = _arrays(case)
    got = best_pa_f1(labels, scores)
    assert _close(got, case["expected"]["tadpak_pak_on_tsbad_grid.PA-F1"])
    if labels[0] == 0:
        assert _close(got, case["expected"]["PA-F1"])


@needs_golden
@golden
def test_vus(case: dict) -> None:
    labels, scores, _ = _arrays(case)
    expected = case["expected"]
    assert _close(vus_roc(labels, scores, window=100), expected["VUS-ROC"])
    assert _close(vus_pr(labels, scores, window=100), expected["VUS-PR"])
    assert _close(vus_roc(labels, scores, window=100), expected["vus_pkg.VUS_ROC@w100"])
    assert _close(vus_pr(labels, scores, window=100), expected["vus_pkg.VUS_PR@w100"])
    assert _close(vus_roc(labels, scores, window=20), expected["VUS-ROC@w20"])
    assert _close(vus_pr(labels, scores, window=20), expected["VUS-PR@w20"])


@needs_golden
def test_vus_is_fast_on_n5000() -> None:
    case = next(c for c in CASES if c["n"] == 5000)
    labels, scores, _ = _arrays(case)
    start = time.perf_counter()
    vus_pr(labels, scores, window=100)
    assert time.perf_counter() - start < 1.0


def test_events_and_point_adjust_edges() -> None:
    labels = np.array([1, 1, 0, 0, 1, 1, 1, 0, 1])
    pred = np.array([0, 1, 0, 1, 0, 0, 0, 0, 1])
    assert events(labels).tolist() == [[0, 1], [4, 6], [8, 8]]
    # textbook rule back-fills index 0; a missed event stays missed; false alarms stay
    assert point_adjust(labels, pred).tolist() == [1, 1, 0, 1, 0, 0, 0, 0, 1]
    assert events(np.zeros(5)).shape == (0, 2)


def test_detection_delays() -> None:
    labels = np.array([0, 1, 1, 1, 0, 1, 1, 0, 1])
    pred = np.array([1, 0, 0, 1, 0, 0, 0, 1, 1])
    assert detection_delays(labels, pred) == [2, None, 0]


def test_one_class_gives_nan_not_error() -> None:
    scores = np.linspace(0, 1, 50)
    for labels in (np.zeros(50, int), np.ones(50, int)):
        for metric in (roc_auc, pr_auc, vus_roc, vus_pr):
            assert math.isnan(metric(labels, scores))


def test_evaluate_scores_drops_unscored_rows() -> None:
    rng = np.random.default_rng(3)
    labels = np.zeros(600, int)
    labels[300:320] = 1
    scores = rng.normal(size=600) + 4 * labels
    scores[:50] = np.nan
    got = evaluate_scores(labels, scores, threshold=2.5, window=20)
    assert got["n"] == 600 and got["n_unscored"] == 50 and got["n_anomalous"] == 20
    assert got["n_predicted"] == int(np.sum(scores[50:] > 2.5))
    expected = point_metrics(labels[50:], scores[50:] > 2.5)
    assert all(got[k] == expected[k] for k in expected)
    assert got["roc_auc"] == roc_auc(labels[50:], scores[50:])
    assert got["vus_pr"] == vus_pr(labels[50:], scores[50:], window=20)
    assert got["pa_f1_point_adjusted"] >= got["f1"]
    assert "pa_f1" not in got
