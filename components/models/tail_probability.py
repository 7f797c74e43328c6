"""Tail-probability detectors on windows: COPOD (Li et al., ICDM 2020, "COPOD:
Copula-Based Outlier Detection") and ECOD (Li et al., TKDE 2022, "ECOD: Unsupervised
Outlier Detection Using Empirical Cumulative Distribution Functions").

Both score a reading by how far out in its sensor's empirical tails it lies. Per sensor
``j`` with ``n`` training values, for a value ``x``:

* left tail ``U_l = −log F_l(x)``, ``F_l(x) = (#{train ≤ x} + 1) / (n + 1)``;
* right tail ``U_r = −log F_r(x)``, ``F_r(x) = (#{train ≥ x} + 1) / (n + 1)``;
* skewness-corrected tail ``U_s = −U_l·sign(b − 1) + U_r·sign(b + 1)`` with ``b`` the
  sign of the sensor's training skewness (``scipy.stats.skew``): the left tail for a
  left-skewed sensor, the right for a right-skewed one, both for a symmetric one;
* outlyingness: COPOD ``max(U_s, (U_l + U_r) / 2)``, ECOD ``max(U_l, U_r, U_s)``.

A reading's score is the sum of its sensors' outlyingness, a window's the sum over its
rows (the papers' score of the flattened window, each lag having its sensor's
distribution); a window's per-sensor errors are each sensor's sum over the window.

Deviations from PyOD (whose ``decision_function`` is the reference implementation):
PyOD ranks new rows together with the training rows and with each other (the empirical
CDFs and skewness of training + new rows); here the distributions are the training
rows' alone, so a row's score does not depend on the rows scored with it (what causal,
streaming scoring needs). The ``+ 1`` in ``F`` is the new value itself: a row scores
exactly as PyOD's ``decision_function`` scores that one row after ``fit`` on the
training rows, as long as adding it does not flip a sensor's skewness sign (tested
against PyOD's values). A sensor constant in training has skewness 0 here (PyOD: NaN
scores for every row). Fitting keeps at most ``fit_sample`` training rows (drawn with
the seed), which bounds the model file and the smallest tail probability to
1 / (``fit_sample`` + 1).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from components.models.baselines import _WindowModel, _check_fit_windows, _check_windows, _read, _write


class TailProbabilityModel(_WindowModel, ABC):
    """Empirical tail probabilities per sensor (the module doc); a subclass says how the
    left, right and skewness-corrected tails combine (:meth:`outlyingness`)."""

    kind: str

    def __init__(self, fit_sample: int = 20_000) -> None:
        if int(fit_sample) != fit_sample or fit_sample < 2:
            raise ValueError(f"fit_sample must be an integer of at least 2, got {fit_sample}")
        self.fit_sample = int(fit_sample)
        self.window: int | None = None
        self.n_sensors: int | None = None
        self.seed: int | None = None
        self.sorted_: np.ndarray | None = None  # (n, n_sensors) each sensor's training values, ascending
        self.skew_sign_: np.ndarray | None = None  # (n_sensors,) in {-1, 0, 1}

    def hparams(self) -> dict:
        return {"fit_sample": self.fit_sample}

    def fit(self, windows: np.ndarray, seed: int = 0) -> "TailProbabilityModel":
        """Fit on the last row of each window (with windows every row, every training row
        that has a full window of history)."""
        windows = _check_fit_windows(windows, min_windows=2)
        return self.fit_rows(windows[:, -1, :], windows.shape[1], seed)

    def fit_rows(self, rows: np.ndarray, window: int, seed: int = 0) -> "TailProbabilityModel":
        """Fit on training readings ``rows`` (n, n_sensors), finite, n ≥ 2; ``window``: rows
        per scored window."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or len(rows) < 2 or not np.isfinite(rows).all():
            raise ValueError(f"need at least 2 finite training rows (n, n_sensors), got shape {rows.shape}")
        w, s = int(window), rows.shape[1]
        if len(rows) > self.fit_sample:
            rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), self.fit_sample, replace=False))]
        self._set(np.sort(rows, axis=0), _skew_sign(rows), w, s, seed)
        return self

    def _set(self, sorted_values: np.ndarray, skew_sign: np.ndarray, window: int, n_sensors: int, seed) -> None:
        if sorted_values.ndim != 2 or sorted_values.shape[1] != n_sensors or skew_sign.shape != (n_sensors,):
            raise ValueError(f"saved {self.kind} arrays do not match {n_sensors} sensors")
        self.sorted_, self.skew_sign_ = np.ascontiguousarray(sorted_values, dtype=np.float64), skew_sign.astype(np.float64)
        n = len(self.sorted_)
        self._columns = np.ascontiguousarray(self.sorted_.T)  # (n_sensors, n): each sensor's values contiguous for the searches
        self._neg_log = -np.log((np.arange(n + 1) + 1.0) / (n + 1.0))  # U of a count k of training values: −log((k + 1) / (n + 1))
        self.window, self.n_sensors, self.seed = int(window), int(n_sensors), seed

    def tails(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(U_l, U_r), each shaped like ``values`` (rows, n_sensors): −log of the left and
        right empirical tail probabilities of each reading (module doc). The counts are
        binary searches in each sensor's sorted training values, their −log a table lookup."""
        n = self._columns.shape[1]
        columns = np.ascontiguousarray(np.asarray(values, dtype=np.float64).T)
        left, right = np.empty(columns.shape, dtype=np.int64), np.empty(columns.shape, dtype=np.int64)
        for j, training in enumerate(self._columns):
            left[j] = np.searchsorted(training, columns[j], side="right")
            right[j] = n - np.searchsorted(training, columns[j], side="left")
        return self._neg_log[left].T, self._neg_log[right].T

    def skew_corrected(self, u_left: np.ndarray, u_right: np.ndarray) -> np.ndarray:
        b = self.skew_sign_
        return -u_left * np.sign(b - 1.0) + u_right * np.sign(b + 1.0)

    @abstractmethod
    def outlyingness(self, values: np.ndarray) -> np.ndarray:
        """Per reading and sensor (rows, n_sensors): how far out in the tails it lies."""

    def score_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """score (n,) = the window's summed outlyingness; errors (n, n_sensors) = each
        sensor's sum over the window. NaN for windows holding non-finite values."""
        w, s = self._require_fitted()
        windows = _check_windows(windows, (w, s))
        n = len(windows)
        values = windows.reshape(n * w, s).astype(np.float64)
        errors = self.outlyingness(values).reshape(n, w, s).sum(axis=1)
        bad = ~np.isfinite(windows).all(axis=(1, 2))
        errors[bad] = np.nan
        return errors.sum(axis=1), errors

    def save(self, directory: Path) -> None:
        """``<kind>.json`` (hyper-parameters, shapes, seed) + ``<kind>.npz`` (sorted training
        values, skewness signs)."""
        w, s = self._require_fitted()
        meta = {"hparams": self.hparams(), "window": w, "n_sensors": s, "seed": self.seed}
        _write(directory, self.kind, meta, {"sorted": self.sorted_, "skew_sign": self.skew_sign_})

    @classmethod
    def load(cls, directory: Path) -> "TailProbabilityModel":
        meta, arrays = _read(directory, cls.kind)
        model = cls(**meta["hparams"])
        model._set(arrays["sorted"], arrays["skew_sign"], meta["window"], meta["n_sensors"], meta["seed"])
        return model


def _skew_sign(rows: np.ndarray) -> np.ndarray:
    """Sign of each column's sample skewness (rows, n) → (n,); 0 for a constant column."""
    from scipy.stats import skew

    centred = rows - rows.mean(axis=0)
    constant = ~(np.abs(centred).max(axis=0) > 0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's "precision loss" on nearly constant columns (MSL's)
        sign = np.sign(skew(rows, axis=0))
    return np.where(constant | ~np.isfinite(sign), 0.0, sign)


class CopodModel(TailProbabilityModel):
    """COPOD: outlyingness ``max(U_s, (U_l + U_r) / 2)`` (module doc)."""

    kind = "copod"

    def outlyingness(self, values: np.ndarray) -> np.ndarray:
        u_left, u_right = self.tails(values)
        return np.maximum(self.skew_corrected(u_left, u_right), (u_left + u_right) / 2.0)


class EcodModel(TailProbabilityModel):
    """ECOD: outlyingness ``max(U_l, U_r, U_s)`` (module doc)."""

    kind = "ecod"

    def outlyingness(self, values: np.ndarray) -> np.ndarray:
        u_left, u_right = self.tails(values)
        return np.maximum(np.maximum(u_left, u_right), self.skew_corrected(u_left, u_right))
