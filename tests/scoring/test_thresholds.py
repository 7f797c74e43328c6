"""Alarm thresholds: POT against closed forms, the fallback, levels and their JSON."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import genpareto

from components.scoring.thresholds import (
    INSUFFICIENT_HISTORY,
    PotFit,
    ThresholdConfig,
    best_fbeta_threshold,
    classify_levels,
    load_thresholds,
    percentile_threshold,
    pot_threshold,
    save_thresholds,
    set_levels,
)


@pytest.mark.parametrize("risk", [1e-3, 1e-4])
def test_pot_on_exponential_matches_closed_form(risk: float) -> None:
    """Excesses of an exponential are exponential: gamma ~ 0, sigma = 1/lambda and the
    threshold at risk q is -ln(q)/lambda."""
    lam = 0.5
    scores = np.random.default_rng(11).exponential(1 / lam, size=200_000)
    fit = pot_threshold(scores, risk=risk)
    assert fit.method == "pot"
    assert abs(fit.gamma) < 0.05
    assert fit.sigma == pytest.approx(1 / lam, rel=0.05)
    assert fit.threshold == pytest.approx(-np.log(risk) / lam, rel=0.03)
    assert fit.n == 200_000 and fit.n_excess == pytest.approx(0.02 * 200_000, abs=1)


def test_pot_recovers_gpd_shape() -> None:
    shape, scale = 0.3, 1.5
    scores = genpareto.rvs(shape, scale=scale, size=200_000, random_state=np.random.default_rng(5))
    fit = pot_threshold(scores, risk=1e-4)
    assert fit.gamma == pytest.approx(shape, abs=0.08)
    assert fit.threshold == pytest.approx(genpareto.ppf(1 - 1e-4, shape, scale=scale), rel=0.1)


def test_pot_ignores_nan() -> None:
    scores = np.random.default_rng(2).exponential(size=20_000)
    with_nan = np.concatenate([scores, np.full(500, np.nan)])
    assert pot_threshold(with_nan, risk=1e-3) == pot_threshold(scores, risk=1e-3)


def test_pot_falls_back_with_few_excesses() -> None:
    scores = np.random.default_rng(4).normal(size=300)  # 2% of 300 = 6 excesses
    fit = pot_threshold(scores, risk=0.01)
    assert fit.method == "empirical-fallback" and fit.gamma is None and "excesses" in fit.reason
    assert fit.n_excess < 10
    assert fit.threshold == pytest.approx(np.quantile(scores, 0.99))


def test_percentile_and_best_fbeta() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.95, 0.35, np.nan])
    labels = np.array([0, 0, 0, 0, 1, 1, 0, 1])
    assert percentile_threshold(scores, 50) == pytest.approx(0.35)
    threshold = best_fbeta_threshold(scores, labels)
    assert threshold == pytest.approx((0.9 + 0.4) / 2)
    assert ((scores[:7] > threshold) == labels[:7].astype(bool)).all()


def test_config_validation() -> None:
    ThresholdConfig()
    with pytest.raises(ValidationError):
        ThresholdConfig(warning_risk=1e-3, critical_risk=1e-2)
    with pytest.raises(ValidationError):
        ThresholdConfig(warning_percentile=99.9, critical_percentile=99.0)
    with pytest.raises(ValidationError):
        ThresholdConfig(warning_risk=0.05, init_quantile=0.98)
    with pytest.raises(ValidationError):
        ThresholdConfig(method="mad")


@pytest.mark.parametrize("method", ["pot", "percentile", "best_f1"])
def test_set_levels_orders_levels_and_round_trips(method: str, tmp_path) -> None:
    rng = np.random.default_rng(8)
    scores = rng.gamma(2.0, size=20_000)
    labels = np.zeros(scores.size, int)
    labels[:100] = 1
    scores[:100] += 8
    scores[-10:] = np.nan
    levels = set_levels(scores, ThresholdConfig(method=method), val_labels=labels)
    assert levels["method"] == method and levels["n_scores"] == scores.size - 10
    assert levels["warning"] < levels["critical"]
    assert levels["details"]["critical_raised_to_warning"] is False
    save_thresholds(levels, tmp_path / "thresholds.json")
    assert load_thresholds(tmp_path / "thresholds.json") == levels


def test_set_levels_never_inverts_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the two levels' fits came out inverted, critical is raised to warning and flagged."""
    import components.scoring.thresholds as thresholds

    def inverted(scores, *, risk, init_quantile):
        return PotFit(threshold=risk * 1000, t=0.0, gamma=0.1, sigma=1.0, n=100, n_excess=10, risk=risk)

    monkeypatch.setattr(thresholds, "pot_threshold", inverted)
    levels = set_levels(np.arange(100.0), ThresholdConfig())
    assert levels["warning"] == levels["critical"] == pytest.approx(10.0)
    assert levels["details"]["critical_raised_to_warning"] is True


def test_best_f1_needs_labels() -> None:
    with pytest.raises(ValueError, match="labels"):
        set_levels(np.arange(100.0), ThresholdConfig(method="best_f1"))


def test_classify_levels_strict_and_nan() -> None:
    levels = classify_levels(np.array([0.5, 1.0, 1.5, 2.0, 2.5, np.nan]), {"warning": 1.0, "critical": 2.0})
    assert levels.tolist() == ["normal", "normal", "warning", "warning", "critical", INSUFFICIENT_HISTORY]
