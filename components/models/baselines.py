"""Classic window-based anomaly-detection baselines that sit in the leaderboard beside
the neural models: PCA reconstruction and Isolation Forest (scikit-learn's ``PCA`` and
``IsolationForest``).

Both take windows ``(n_windows, window, n_sensors)`` of standard-scaled readings (row t
of a series is scored from the window that ends at t), flatten each window to
``window * n_sensors`` features and return, per window, a score (higher = more
anomalous) and per-sensor errors ``(n_windows, n_sensors)`` (non-negative; they name the
sensors that drive the score):

- :class:`PcaModel`: score = mean squared residual of the flattened window after
  projecting it on the leading principal components and back; errors = each sensor's
  mean squared residual over the window.
- :class:`IsolationForestModel`: score = ``-IsolationForest.score_samples`` =
  2^(−E[h(x)] / c(ψ)) (Liu, Ting & Zhou, ICDM 2008), in (0, 1]; errors = squared
  deviation of the window's last row from each sensor's training mean.

Persistence, without pickle or joblib (a project rule): every detector writes
``<kind>.json`` (hyper-parameters, shapes, seed) and ``<kind>.npz`` (numeric arrays
only, written with ``np.savez`` and read with ``allow_pickle=False``).

- PCA stores the training mean and the kept components.
- Isolation Forest takes option (a): the fitted trees are exported (children_left,
  children_right, feature, threshold, n_node_samples of every tree, concatenated, with
  per-tree node offsets) and ``score_samples`` is re-implemented in vectorised numpy:
  every window walks all trees at once, one tree level per step; the leaf reached adds
  depth(leaf) + c(n_node_samples(leaf)) − 1 (sklearn's node depths count the root as 1;
  c(n) = 2(ln(n − 1) + γ) − 2(n − 1)/n, c(2) = 1, c(≤1) = 0, the leaf-size correction)
  and the sum over trees is divided by n_trees · c(max_samples_). Inputs are compared
  as float32 against float64 thresholds and the per-tree path lengths are summed in tree
  order, exactly as sklearn does, so the loaded forest matches sklearn's
  ``score_samples`` to rounding (tests check 1e-9). Loading is just reading arrays — no
  refit. Non-finite values are refused at fit; at scoring a window with a non-finite
  value gets a NaN score and NaN errors (sklearn would route it down the trees).

Fitting subsamples to ``fit_sample`` windows (Isolation Forest only) with
``np.random.default_rng(seed)``; sklearn's ``random_state`` is ``seed``. PCA keeps the
smallest number of components whose explained variance reaches ``variance``, capped by
``max_components`` and by ``n_features − 1`` so that there is always a residual; it is
fitted in float64 with ``svd_solver="full"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_CHUNK = 4096  # windows a PCA scores at once (bounds temporary memory)
_FOREST_CHUNK = 25_600  # (window, tree) pairs an Isolation Forest walks at once: cache-sized


def _check_windows(windows: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``windows`` as an ndarray of rank 3; with ``shape``, its (window, n_sensors) must match."""
    windows = np.asarray(windows)
    if windows.ndim != 3:
        raise ValueError(f"windows must have shape (n_windows, window, n_sensors); got rank {windows.ndim} with shape {windows.shape}")
    if shape is not None and tuple(windows.shape[1:]) != tuple(shape):
        (w, s), (gw, gs) = shape, windows.shape[1:]
        what = "sensor count" if gs != s else "window length"
        raise ValueError(f"{what} mismatch: the detector was fitted on windows of {w} rows x {s} sensors, got {gw} rows x {gs} sensors")
    return windows


def _check_fit_windows(windows: np.ndarray, min_windows: int) -> np.ndarray:
    windows = _check_windows(windows)
    if len(windows) < min_windows:
        raise ValueError(f"need at least {min_windows} windows to fit, got {len(windows)}")
    if windows.shape[1] * windows.shape[2] < 2:
        raise ValueError(f"a window must hold at least 2 values, got shape {windows.shape[1:]}")
    if not np.isfinite(windows).all():
        raise ValueError("windows to fit contain NaN or infinite values")
    return windows


def _write(directory: Path, kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / f"{kind}.npz", **arrays)
    (directory / f"{kind}.json").write_text(json.dumps({"kind": kind, **meta}, indent=2))


def _read(directory: Path, kind: str) -> tuple[dict, dict[str, np.ndarray]]:
    directory = Path(directory)
    meta_file, array_file = directory / f"{kind}.json", directory / f"{kind}.npz"
    for path in (meta_file, array_file):
        if not path.exists():
            raise FileNotFoundError(f"{directory} holds no saved {kind} detector (missing {path.name})")
    meta = json.loads(meta_file.read_text())
    if meta.get("kind") != kind:
        raise ValueError(f"{meta_file} describes a {meta.get('kind')!r} detector, not {kind!r}")
    with np.load(array_file, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return meta, arrays


class _WindowModel:
    kind: str
    window: int | None
    n_sensors: int | None

    def _require_fitted(self) -> tuple[int, int]:
        if self.window is None or self.n_sensors is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load() first")
        return self.window, self.n_sensors

    def eval(self):
        """No-op, so callers may treat a detector like a torch module in eval mode."""
        return self


class PcaModel(_WindowModel):
    """PCA reconstruction of the flattened window (``window * n_sensors`` features).

    Keeps the smallest number of components whose cumulative explained-variance ratio
    reaches ``variance``, at most ``max_components`` and at most ``n_features − 1``.
    After :meth:`fit`: ``mean_`` (n_features,), ``components_`` (k, n_features),
    ``explained_variance_ratio_`` (all components of the full fit), ``n_components_``.
    """

    kind = "pca"

    def __init__(self, variance: float = 0.95, max_components: int | None = None) -> None:
        if not 0 < variance <= 1:
            raise ValueError(f"variance must be in (0, 1], got {variance}")
        if max_components is not None and max_components < 1:
            raise ValueError(f"max_components must be >= 1 or None, got {max_components}")
        self.variance = float(variance)
        self.max_components = None if max_components is None else int(max_components)
        self.window: int | None = None
        self.n_sensors: int | None = None
        self.seed: int | None = None
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None
        self.explained_variance_ratio_: np.ndarray | None = None

    @property
    def n_components_(self) -> int:
        return 0 if self.components_ is None else len(self.components_)

    def hparams(self) -> dict:
        return {"variance": self.variance, "max_components": self.max_components}

    def fit(self, windows: np.ndarray, seed: int = 0) -> "PcaModel":
        windows = _check_fit_windows(windows, min_windows=2)
        n, w, s = windows.shape
        flat = windows.reshape(n, w * s).astype(np.float64)
        from sklearn.decomposition import PCA

        pca = PCA(n_components=None, svd_solver="full", random_state=seed).fit(flat)
        ratio = np.asarray(pca.explained_variance_ratio_, dtype=np.float64)
        if np.isfinite(ratio).all() and ratio.sum() > 0:
            k = int(np.searchsorted(np.cumsum(ratio), self.variance - 1e-12, side="left")) + 1
        else:  # constant data: nothing to explain
            k = 1
        k = min(k, len(ratio), w * s - 1, self.max_components or k)
        self.window, self.n_sensors, self.seed = w, s, int(seed)
        self.mean_ = np.asarray(pca.mean_, dtype=np.float64)
        self.components_ = np.ascontiguousarray(pca.components_[: max(k, 1)], dtype=np.float64)
        self.explained_variance_ratio_ = ratio
        return self

    def score_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """score (n,) = mean squared residual of the flattened window after projecting on
        the components and back; errors (n, n_sensors) = per-sensor mean squared residual
        over the window. Both float64."""
        w, s = self._require_fitted()
        windows = _check_windows(windows, (w, s))
        n = len(windows)
        score, errors = np.empty(n), np.empty((n, s))
        flat = windows.reshape(n, w * s)
        c = self.components_
        # residual = centred (I − CᵀC): as one d×d product when that is cheaper than two k×d ones
        projector = np.eye(w * s) - c.T @ c if 2 * len(c) > w * s else None
        for i in range(0, n, _CHUNK):
            centred = flat[i : i + _CHUNK].astype(np.float64) - self.mean_
            residual = centred @ projector if projector is not None else centred - (centred @ c.T) @ c
            residual *= residual
            score[i : i + _CHUNK] = residual.mean(axis=1)
            errors[i : i + _CHUNK] = residual.reshape(-1, w, s).mean(axis=1)
        return score, errors

    def save(self, directory: Path) -> None:
        """``pca.json`` (hyper-parameters, shapes, seed) + ``pca.npz`` (mean, components)."""
        w, s = self._require_fitted()
        meta = {"hparams": self.hparams(), "window": w, "n_sensors": s, "seed": self.seed, "n_components": self.n_components_}
        _write(directory, self.kind, meta, {"mean": self.mean_, "components": self.components_, "explained_variance_ratio": self.explained_variance_ratio_})

    @classmethod
    def load(cls, directory: Path) -> "PcaModel":
        meta, arrays = _read(directory, cls.kind)
        detector = cls(**meta["hparams"])
        detector.window, detector.n_sensors, detector.seed = int(meta["window"]), int(meta["n_sensors"]), meta["seed"]
        detector.mean_ = arrays["mean"].astype(np.float64)
        detector.components_ = np.ascontiguousarray(arrays["components"], dtype=np.float64)
        detector.explained_variance_ratio_ = arrays["explained_variance_ratio"].astype(np.float64)
        n_features = detector.window * detector.n_sensors
        if detector.mean_.shape != (n_features,) or detector.components_.shape[1:] != (n_features,):
            raise ValueError(f"{directory}: saved PCA arrays do not match window {detector.window} x {detector.n_sensors} sensors")
        return detector


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """c(n), the average path length of an unsuccessful search in a binary search tree
    of n points (sklearn's ``_average_path_length``): 0 for n ≤ 1, 1 for n = 2, else
    2(ln(n − 1) + γ) − 2(n − 1)/n. Float64, same shape as ``n_samples``."""
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros(n.shape)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Depth of every node of one tree, root = 1 (sklearn's ``compute_node_depths``);
    children always come after their parent in sklearn's node order."""
    depths = np.empty(len(left), dtype=np.int64)
    depths[0] = 1
    for node in range(len(left)):
        if left[node] != -1:
            depths[left[node]] = depths[right[node]] = depths[node] + 1
    return depths


class IsolationForestModel(_WindowModel):
    """Isolation Forest (Liu, Ting & Zhou, ICDM 2008) on flattened windows.

    ``n_estimators`` trees, each grown on ``max_samples`` windows (at most the number
    fitted), from at most ``fit_sample`` training windows drawn with the seed. Scores
    are computed from the exported trees in numpy (see the module docstring); after
    :meth:`fit` (not after :meth:`load`) ``sklearn_model`` is the fitted estimator.
    """

    kind = "iforest"
    _TREE_ARRAYS = ("children_left", "children_right", "feature", "threshold", "n_node_samples")

    def __init__(self, n_estimators: int = 100, max_samples: int = 256, fit_sample: int = 4096) -> None:
        for name, value in (("n_estimators", n_estimators), ("max_samples", max_samples), ("fit_sample", fit_sample)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        self.n_estimators, self.max_samples, self.fit_sample = int(n_estimators), int(max_samples), int(fit_sample)
        self.window: int | None = None
        self.n_sensors: int | None = None
        self.seed: int | None = None
        self.max_samples_: int | None = None
        self.sensor_mean_: np.ndarray | None = None
        self.sklearn_model = None  # sklearn's IsolationForest after fit()
        self._trees: dict[str, np.ndarray] | None = None

    def hparams(self) -> dict:
        return {"n_estimators": self.n_estimators, "max_samples": self.max_samples, "fit_sample": self.fit_sample}

    def fit(self, windows: np.ndarray, seed: int = 0) -> "IsolationForestModel":
        windows = _check_fit_windows(windows, min_windows=1)
        n, w, s = windows.shape
        self.sensor_mean_ = windows.mean(axis=(0, 1), dtype=np.float64)
        if n > self.fit_sample:
            windows = windows[np.sort(np.random.default_rng(seed).choice(n, self.fit_sample, replace=False))]
        flat = windows.reshape(len(windows), w * s).astype(np.float32)
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=min(self.max_samples, len(flat)), random_state=seed).fit(flat)
        self.window, self.n_sensors, self.seed = w, s, int(seed)
        self.max_samples_ = int(forest.max_samples_)
        self.sklearn_model = forest
        trees = [est.tree_ for est in forest.estimators_]
        arrays = {name: np.concatenate([np.asarray(getattr(t, name)) for t in trees]) for name in self._TREE_ARRAYS}
        arrays["tree_offsets"] = np.cumsum([0] + [t.node_count for t in trees]).astype(np.int64)
        self._set_trees(arrays)
        return self

    def _set_trees(self, arrays: dict[str, np.ndarray]) -> None:
        """Prepare the concatenated trees for scoring: leaves loop onto themselves, node
        indices become global, and each node carries the path length a window ending
        there adds (depth + c(n_node_samples) − 1, as sklearn computes it per tree)."""
        offsets = arrays["tree_offsets"].astype(np.int64)
        left = arrays["children_left"].astype(np.intp)
        right = arrays["children_right"].astype(np.intp)
        n_nodes = int(offsets[-1])
        if len(offsets) != self.n_estimators + 1 or any(len(arrays[k]) != n_nodes for k in self._TREE_ARRAYS):
            raise ValueError("inconsistent isolation-forest arrays")
        path = np.empty(n_nodes)
        depth = np.empty(n_nodes, dtype=np.int64)
        for a, b in zip(offsets[:-1], offsets[1:]):
            depth[a:b] = _node_depths(left[a:b], right[a:b])
            path[a:b] = depth[a:b] + average_path_length(arrays["n_node_samples"][a:b]) - 1.0
        leaf = left == -1
        base = np.repeat(offsets[:-1], np.diff(offsets))
        nodes = np.arange(n_nodes, dtype=np.intp)
        feature = arrays["feature"].astype(np.intp)
        if feature[~leaf].size and (feature[~leaf].min() < 0 or feature[~leaf].max() >= self.window * self.n_sensors):
            raise ValueError("isolation-forest split features out of range")
        self._trees = arrays
        self._left = np.where(leaf, nodes, left + base)
        self._right = np.where(leaf, nodes, right + base)
        self._feature = np.where(leaf, 0, feature)
        self._threshold = np.where(leaf, np.inf, arrays["threshold"].astype(np.float64))
        self._path = path
        self._roots = offsets[:-1].astype(np.intp)
        self._max_depth = int(depth.max()) - 1  # splits on the longest root-to-leaf path

    def _depths(self, flat: np.ndarray) -> np.ndarray:
        """Σ over trees of the path length of every row of ``flat`` (float32, (b, f)), (b,)."""
        b, f = flat.shape
        values = flat.ravel()
        row_base = (np.arange(b, dtype=np.intp) * f)[None, :]
        node = np.repeat(self._roots[:, None], b, axis=1)  # (n_trees, b)
        for _ in range(self._max_depth):
            x = values[row_base + self._feature[node]]
            node = np.where(x <= self._threshold[node], self._left[node], self._right[node])
        return self._path[node].sum(axis=0)  # sequential over trees, like sklearn's `depths +=`

    def score_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """score (n,) = −sklearn ``score_samples`` (higher = more anomalous); errors
        (n, n_sensors) = squared deviation of the window's last row from the training
        mean of each sensor. Both float64; NaN for windows holding non-finite values."""
        w, s = self._require_fitted()
        windows = _check_windows(windows, (w, s))
        n = len(windows)
        flat = windows.reshape(n, w * s).astype(np.float32, copy=False)
        depths = np.empty(n)
        chunk = max(16, _FOREST_CHUNK // self.n_estimators)
        for i in range(0, n, chunk):
            depths[i : i + chunk] = self._depths(np.ascontiguousarray(flat[i : i + chunk]))
        denominator = self.n_estimators * float(average_path_length(np.array(self.max_samples_)))
        score = 2.0 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))
        errors = (windows[:, -1, :].astype(np.float64) - self.sensor_mean_) ** 2
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            score[bad] = np.nan
            errors[bad] = np.nan
        return score, errors

    def save(self, directory: Path) -> None:
        """``iforest.json`` (hyper-parameters, shapes, seed, max_samples_) + ``iforest.npz``
        (the trees' arrays, concatenated, with per-tree node offsets; the sensor means)."""
        w, s = self._require_fitted()
        meta = {"hparams": self.hparams(), "window": w, "n_sensors": s, "seed": self.seed, "max_samples_": self.max_samples_}
        _write(directory, self.kind, meta, {**self._trees, "sensor_mean": self.sensor_mean_})

    @classmethod
    def load(cls, directory: Path) -> "IsolationForestModel":
        meta, arrays = _read(directory, cls.kind)
        detector = cls(**meta["hparams"])
        detector.window, detector.n_sensors, detector.seed = int(meta["window"]), int(meta["n_sensors"]), meta["seed"]
        detector.max_samples_ = int(meta["max_samples_"])
        detector.sensor_mean_ = arrays.pop("sensor_mean").astype(np.float64)
        if detector.sensor_mean_.shape != (detector.n_sensors,):
            raise ValueError(f"{directory}: saved sensor means do not match {detector.n_sensors} sensors")
        detector._set_trees(arrays)
        return detector
