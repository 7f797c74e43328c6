"""Alarm thresholds on anomaly scores, fitted on validation (normal) data only.

Scores are 1-D float arrays, shape ``(n,)``, in the detector's own units (larger means
more anomalous); NaN marks rows without enough history and is ignored when fitting.
Two alarm levels are produced, ``warning`` and ``critical`` (``critical >= warning``),
and a score raises a level when it is *strictly* greater than that level's threshold.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_EXCESSES = 10
"""Fewest peaks over the initial threshold for which a GPD fit is attempted."""

_GAMMA_ZERO = 1e-8
"""|shape| below this uses the exponential (gamma -> 0) limit of the POT quantile."""

LEVELS = ("normal", "warning", "critical")
INSUFFICIENT_HISTORY = "insufficient_history"
SENSOR_FAULT = "sensor_fault"


@dataclass(frozen=True)
class PotFit:
    """Result of :func:`pot_threshold`.

    ``threshold`` is z_q (score units), exceeded with probability ``risk`` under the fitted
    tail; ``t`` the initial threshold; ``gamma``/``sigma`` the GPD shape / scale (score
    units) of the excesses over ``t`` (None for the empirical fallback); ``n`` the number
    of finite scores and ``n_excess`` how many exceed ``t``. ``method`` is ``"pot"`` or
    ``"empirical-fallback"`` (the empirical ``1 - risk`` quantile), with ``reason`` saying why.
    """

    threshold: float
    t: float
    gamma: float | None
    sigma: float | None
    n: int
    n_excess: int
    risk: float
    method: Literal["pot", "empirical-fallback"] = "pot"
    reason: str | None = None


def _finite(scores: np.ndarray) -> np.ndarray:
    """The finite values of ``scores`` as a float64 1-D array; error if none are left."""
    values = np.asarray(scores, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("no finite scores to set a threshold on")
    return values


def pot_threshold(scores: np.ndarray, *, risk: float, init_quantile: float = 0.98) -> PotFit:
    """Peaks-Over-Threshold alarm threshold (Siffer et al., KDD 2017, "Anomaly detection in
    streams with extreme value theory").

    The initial threshold ``t`` is the empirical ``init_quantile`` of the finite scores; a
    generalised Pareto distribution is fitted by maximum likelihood to the excesses
    ``scores - t > 0`` (``scipy.stats.genpareto.fit`` with ``floc=0``); then, with ``n``
    scores and ``N_t`` excesses,
    ``z_q = t + sigma/gamma * ((q n / N_t) ** -gamma - 1)`` (gamma != 0) or
    ``z_q = t - sigma * ln(q n / N_t)`` (gamma ~ 0), for ``q = risk``.

    Falls back to the empirical ``1 - risk`` quantile when there are fewer than
    ``MIN_EXCESSES`` excesses, or when ``risk >= N_t / n`` (the requested tail is not
    beyond ``t``, e.g. because of heavy ties at the top).
    """
    if not 0.0 < risk < 1.0:
        raise ValueError(f"risk must be in (0, 1), got {risk}")
    if not 0.0 < init_quantile < 1.0:
        raise ValueError(f"init_quantile must be in (0, 1), got {init_quantile}")
    values = _finite(scores)
    n = int(values.size)
    t = float(np.quantile(values, init_quantile))
    excess = values[values > t] - t
    n_excess = int(excess.size)

    reason = None
    if n_excess < MIN_EXCESSES:
        reason = f"only {n_excess} excesses over t (< {MIN_EXCESSES})"
    elif risk * n / n_excess >= 1.0:
        reason = f"risk {risk} is not beyond the initial threshold (excess rate {n_excess / n:.4g})"
    if reason is not None:
        return PotFit(
            threshold=float(np.quantile(values, 1.0 - risk)), t=t, gamma=None, sigma=None,
            n=n, n_excess=n_excess, risk=risk, method="empirical-fallback", reason=reason,
        )

    from scipy.stats import genpareto  # here, not at the top: every stage's config imports this module

    gamma, _, sigma = genpareto.fit(excess, floc=0)
    ratio = risk * n / n_excess
    if abs(gamma) < _GAMMA_ZERO:
        z = t - sigma * np.log(ratio)
    else:
        z = t + sigma / gamma * (ratio ** (-gamma) - 1.0)
    return PotFit(threshold=float(z), t=t, gamma=float(gamma), sigma=float(sigma), n=n, n_excess=n_excess, risk=risk)


def percentile_threshold(scores: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation) of the finite scores."""
    return float(np.percentile(_finite(scores), q))


def best_fbeta_threshold(scores: np.ndarray, labels: np.ndarray, beta: float = 1.0) -> float:
    """Threshold maximising F-beta on labelled *validation* data (labels 0/1, shape ``(n,)``).

    Candidates are the distinct scores of ``sklearn.metrics.precision_recall_curve``, which
    predict ``score >= s``. Because alarms use ``score > threshold``, the returned value is
    the midpoint between the best ``s`` and the next lower validation score (every value in
    that gap gives the same validation F-beta), or just below ``s`` if ``s`` is the lowest.
    Rows with a non-finite score are dropped.
    """
    scores = np.asarray(scores, dtype=float).ravel()
    labels = np.asarray(labels).ravel().astype(int)
    keep = np.isfinite(scores)
    scores, labels = scores[keep], labels[keep]
    if np.unique(labels).size < 2:
        raise ValueError("best_fbeta_threshold needs both normal and anomalous labels")
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(labels, scores)
    b2 = beta**2
    denom = b2 * precision[:-1] + recall[:-1]
    fbeta = np.divide((1 + b2) * precision[:-1] * recall[:-1], denom, out=np.zeros_like(denom), where=denom > 0)
    best = float(cuts[int(np.argmax(fbeta))])
    below = scores[scores < best]
    return 0.5 * (best + float(below.max())) if below.size else float(np.nextafter(best, -np.inf))


class ThresholdConfig(BaseModel):
    """How alarm levels are set from validation scores (section ``threshold`` of the YAML).

    ``pot``: POT thresholds at risks ``warning_risk`` / ``critical_risk`` (probability that
    a normal score exceeds the level). ``dspot``: drifting POT (Siffer et al., KDD 2017,
    section 4.3): the levels apply to each score's residual from the mean of the asset's
    last ``dspot_depth`` scores below the warning level (:func:`score_residuals`), POT
    thresholds fitted on the validation residuals. ``percentile``: the ``warning_percentile`` /
    ``critical_percentile`` (0-100) of the validation scores. ``best_f1``: warning at the
    best F-``beta`` threshold on labelled validation data, critical at ``critical_percentile``
    of its normal-labelled scores.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["pot", "dspot", "percentile", "best_f1"] = "pot"
    warning_risk: float = Field(1e-2, gt=0, lt=1)
    critical_risk: float = Field(1e-3, gt=0, lt=1)
    init_quantile: float = Field(0.98, gt=0, lt=1)
    warning_percentile: float = Field(99.0, gt=0, lt=100)
    critical_percentile: float = Field(99.9, gt=0, le=100)
    beta: float = Field(1.0, gt=0)
    dspot_depth: int = Field(100, ge=2, description="dspot: scores the moving reference averages")

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdConfig:
        if not self.critical_risk < self.warning_risk:
            raise ValueError("need 0 < critical_risk < warning_risk < 1")
        if not self.warning_percentile < self.critical_percentile:
            raise ValueError("need warning_percentile < critical_percentile")
        if self.method in ("pot", "dspot") and self.warning_risk >= 1 - self.init_quantile:
            raise ValueError("POT needs warning_risk < 1 - init_quantile (the risk must lie beyond the initial threshold)")
        return self


def set_levels(
    val_scores: np.ndarray, cfg: ThresholdConfig, val_labels: np.ndarray | None = None, assets: np.ndarray | None = None,
) -> dict:
    """Warning/critical thresholds from *validation* scores (never test data; NaN for rows
    not to use).

    Returns the thresholds JSON ``{"warning", "critical", "method", "details", "n_scores"}``
    where ``details`` holds the fit parameters per level and ``n_scores`` counts the finite
    scores used. ``critical >= warning`` is guaranteed: should a fit give a lower critical
    threshold than the warning one (only possible with a fallback on one level), critical is
    raised to the warning value and ``details["critical_raised_to_warning"]`` is true.
    ``val_labels`` (0/1, same shape) is required for ``best_f1`` and ignored otherwise.
    ``dspot`` fits on the scores' residuals from each asset's reference (``assets``, rows
    of an asset in time order; one asset if None), all of them learned, and saves under
    ``reference`` its depth and each asset's reference at the end of validation.
    """
    scores = np.asarray(val_scores, dtype=float).ravel()
    reference = None
    if cfg.method == "dspot":
        assets = np.zeros(len(scores), dtype=np.int8) if assets is None else np.asarray(assets)
        reference = {"depth": cfg.dspot_depth, "states": {}}
        scores, reference["states"] = score_residuals(scores, assets, reference, learn=True)
    keep = np.isfinite(scores)
    details: dict = {}
    if cfg.method in ("pot", "dspot"):
        fits = {
            level: pot_threshold(scores, risk=risk, init_quantile=cfg.init_quantile)
            for level, risk in (("warning", cfg.warning_risk), ("critical", cfg.critical_risk))
        }
        levels = {level: fit.threshold for level, fit in fits.items()}
        details = {level: asdict(fit) for level, fit in fits.items()}
    elif cfg.method == "percentile":
        levels = {
            "warning": percentile_threshold(scores, cfg.warning_percentile),
            "critical": percentile_threshold(scores, cfg.critical_percentile),
        }
        details = {"warning": {"percentile": cfg.warning_percentile}, "critical": {"percentile": cfg.critical_percentile}}
    else:
        if val_labels is None:
            raise ValueError("threshold method best_f1 needs validation labels")
        labels = np.asarray(val_labels).ravel().astype(int)[keep]
        finite = scores[keep]
        levels = {
            "warning": best_fbeta_threshold(finite, labels, beta=cfg.beta),
            "critical": percentile_threshold(finite[labels == 0], cfg.critical_percentile),
        }
        details = {"warning": {"beta": cfg.beta}, "critical": {"percentile_of_normal": cfg.critical_percentile}}
    raised = levels["critical"] < levels["warning"]
    if raised:
        levels["critical"] = levels["warning"]
    details["critical_raised_to_warning"] = bool(raised)
    out = {
        "warning": float(levels["warning"]),
        "critical": float(levels["critical"]),
        "method": cfg.method,
        "details": details,
        "n_scores": int(keep.sum()),
    }
    if reference is not None:
        out["reference"] = reference
    return out


def score_residuals(
    scores: np.ndarray, assets: np.ndarray, reference: dict, states: dict | None = None, *, learn: bool = False,
    limit: float | None = None,
) -> tuple[np.ndarray, dict]:
    """DSPOT's scores (rows,): each score minus the mean of its asset's last
    ``reference["depth"]`` accepted scores (:func:`components.features.drift.follow`), and
    each asset's accepted scores after its last row. A score is accepted while its
    residual is at most ``limit`` (the warning level), every score with ``learn``; an
    asset starts from its accepted scores in ``states`` (None: in ``reference["states"]``),
    empty if it has none there. NaN scores stay NaN and change nothing."""
    from components.features.drift import StreamState, follow

    scores = np.asarray(scores, dtype=float)
    out = np.full(len(scores), np.nan)
    after: dict = {}
    limits = None if learn or limit is None else np.array([limit])
    for asset in dict.fromkeys(np.asarray(assets).tolist()):
        rows = np.flatnonzero(np.asarray(assets) == asset)
        start = (states if states is not None else reference["states"]).get(str(asset), [])
        residuals, state = follow(scores[rows, None], int(reference["depth"]), limits, StreamState([list(start)]), learn=np.full(len(rows), learn))
        out[rows], after[str(asset)] = residuals[:, 0], state.accepted[0]
    return out, after


def tracked_scores(scores: np.ndarray, assets: np.ndarray, thresholds: dict, states: dict | None = None) -> tuple[np.ndarray, dict]:
    """The scores the levels of ``thresholds`` apply to: for ``dspot`` thresholds their
    residuals (:func:`score_residuals`, from ``states``, None: the saved references), the
    scores themselves otherwise; and each asset's reference after its rows."""
    if thresholds.get("method") != "dspot":
        return np.asarray(scores, dtype=float), {}
    return score_residuals(scores, assets, thresholds["reference"], states, limit=thresholds["warning"])


def save_thresholds(thresholds: dict, path: str | Path) -> None:
    """Write the thresholds dict from :func:`set_levels` as JSON."""
    Path(path).write_text(json.dumps(thresholds, indent=2))


def load_thresholds(path: str | Path) -> dict:
    """Read a thresholds JSON written by :func:`save_thresholds`."""
    return json.loads(Path(path).read_text())


def classify_levels(scores: np.ndarray, thresholds: dict) -> np.ndarray:
    """Alarm level per score, shape ``(n,)`` of str: ``normal``, ``warning`` (score >
    warning), ``critical`` (score > critical); NaN scores give ``insufficient_history``."""
    scores = np.asarray(scores, dtype=float)
    index = (scores > thresholds["warning"]).astype(int) + (scores > thresholds["critical"]).astype(int)
    index[np.isnan(scores)] = len(LEVELS)
    return np.asarray((*LEVELS, INSUFFICIENT_HISTORY))[index]
