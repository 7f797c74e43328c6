"""Window k-means (KMeansAD as in TSB-AD, Liu & Paparrizos, NeurIPS 2024 Datasets and
Benchmarks, adapted there from TimeEval): the best-ranked method on TSB-AD's multivariate
SMAP and MSL subsets.

Each window ``(window, n_sensors)`` is flattened sensor by sensor (TSB-AD's order),
z-normalised over all its values (mean and standard deviation with ``ddof=1``, as TSB-AD's
``normalize=True`` default), and scored by its Euclidean distance to the nearest of the
``n_clusters`` centres that scikit-learn's ``KMeans`` (k-means++, ``n_init="auto"``,
``random_state`` = the seed) fits on the training windows. A window's per-sensor errors
are its squared residuals from that centre summed over the window's rows (they add up to
the squared score).

Deviations from TSB-AD: it fits on the series it scores (unsupervised) and maps window
scores to points by averaging every window that covers a point, which uses later rows;
here the centres come from training windows only and a row's score is the window ending
at it (causal, as served). A window whose values are all equal (standard deviation 0) is
only centred (TSB-AD divides by zero). Fitting keeps at most ``fit_sample`` training
windows, drawn with the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.models.baselines import _WindowModel, _check_fit_windows, _check_windows, _read, _write


def znormalised_flat(windows: np.ndarray) -> np.ndarray:
    """(n, window, n_sensors) → (n, n_sensors * window): each window flattened sensor by
    sensor and z-normalised over all its values (ddof=1; only centred where constant)."""
    n, w, s = windows.shape
    flat = np.ascontiguousarray(windows.transpose(0, 2, 1), dtype=np.float64).reshape(n, s * w)
    centred = flat - flat.mean(axis=1, keepdims=True)
    std = centred.std(axis=1, ddof=1, keepdims=True)
    return centred / np.where(std > 0, std, 1.0)


class WindowKMeansModel(_WindowModel):
    """KMeansAD: distance of the z-normalised window to its nearest k-means centre.
    After :meth:`fit` / :meth:`load`: ``centres_`` (k, n_sensors * window)."""

    kind = "kmeans_ad"

    def __init__(self, n_clusters: int = 10, fit_sample: int = 50_000) -> None:
        for name, value in (("n_clusters", n_clusters), ("fit_sample", fit_sample)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        self.n_clusters, self.fit_sample = int(n_clusters), int(fit_sample)
        self.window: int | None = None
        self.n_sensors: int | None = None
        self.seed: int | None = None
        self.centres_: np.ndarray | None = None

    def hparams(self) -> dict:
        return {"n_clusters": self.n_clusters, "fit_sample": self.fit_sample}

    def fit(self, windows: np.ndarray, seed: int = 0) -> "WindowKMeansModel":
        windows = _check_fit_windows(windows, min_windows=self.n_clusters)
        _, w, s = windows.shape
        if len(windows) > self.fit_sample:
            windows = windows[np.sort(np.random.default_rng(seed).choice(len(windows), self.fit_sample, replace=False))]
        from sklearn.cluster import KMeans

        kmeans = KMeans(n_clusters=self.n_clusters, n_init="auto", random_state=seed).fit(znormalised_flat(windows))
        self._set(kmeans.cluster_centers_, w, s, seed)
        return self

    def _set(self, centres: np.ndarray, window: int, n_sensors: int, seed) -> None:
        if centres.shape != (self.n_clusters, window * n_sensors):
            raise ValueError(f"saved k-means centres {centres.shape} do not match {self.n_clusters} clusters of {window} x {n_sensors}")
        self.centres_ = np.ascontiguousarray(centres, dtype=np.float64)
        self.window, self.n_sensors, self.seed = int(window), int(n_sensors), seed

    def score_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """score (n,) = Euclidean distance to the nearest centre; errors (n, n_sensors) =
        squared residuals from it per sensor. NaN for windows holding non-finite values."""
        w, s = self._require_fitted()
        windows = _check_windows(windows, (w, s))
        n = len(windows)
        with np.errstate(invalid="ignore"):
            flat = znormalised_flat(windows)
        # squared distances without the window's own norm, which does not change the argmin
        partial = (self.centres_**2).sum(axis=1)[None, :] - 2.0 * flat @ self.centres_.T
        nearest = np.argmin(np.nan_to_num(partial, nan=np.inf), axis=1)
        residual = flat - self.centres_[nearest]
        errors = (residual**2).reshape(n, s, w).sum(axis=2)
        return np.sqrt(errors.sum(axis=1)), errors

    def save(self, directory: Path) -> None:
        """``kmeans_ad.json`` (hyper-parameters, shapes, seed) + ``kmeans_ad.npz`` (centres)."""
        w, s = self._require_fitted()
        _write(directory, self.kind, {"hparams": self.hparams(), "window": w, "n_sensors": s, "seed": self.seed}, {"centres": self.centres_})

    @classmethod
    def load(cls, directory: Path) -> "WindowKMeansModel":
        meta, arrays = _read(directory, cls.kind)
        model = cls(**meta["hparams"])
        model._set(arrays["centres"], meta["window"], meta["n_sensors"], meta["seed"])
        return model
