"""Evaluation metrics for anomaly scores on labelled time series.

Conventions: ``labels`` and ``pred`` are 0/1 (or bool) arrays of shape ``(n,)``, one per
time step; ``scores`` are floats of shape ``(n,)`` (larger = more anomalous). A true
*event* is a maximal run of 1s in ``labels``. At a fixed threshold, ``pred = scores >
threshold`` (strict). Point-adjusted (PA) numbers inflate results and are only reported
next to the unadjusted ones, under names that say so.

Definitions follow ``shared/testdata/README.md`` and are checked there against TSB-AD 1.5
(``TSB_AD.evaluation``), vus 0.0.6 and tadpak 0.3.3. None of those is a dependency: TSB-AD
pins ``numpy<2`` and pulls in torch/transformers/tslearn, vus needs tensorflow/tsfresh; both
only to import modules we do not need. The few metrics we need are implemented here.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, fbeta_score, precision_score, recall_score, roc_auc_score

VUS_THRESHOLDS = 250
"""Number of thresholds of TSB-AD's ``RangeAUC_volume_opt`` (``thre``)."""

PA_GRID = 100
"""Number of thresholds of TSB-AD's ``metric_PointF1PA`` grid."""


def _binary(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x).ravel() > 0).astype(int)


def events(labels: np.ndarray) -> np.ndarray:
    """True events as an ``(k, 2)`` int array of inclusive ``[start, end]`` indices."""
    padded = np.concatenate([[0], _binary(labels), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return np.column_stack([edges[0::2], edges[1::2] - 1])


def point_metrics(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Point-wise ``precision``, ``recall``, ``f1`` and ``f2`` (sklearn, ``zero_division=0``)."""
    y, p = _binary(labels), _binary(pred)
    return {
        "precision": float(precision_score(y, p, zero_division=0)),
        "recall": float(recall_score(y, p, zero_division=0)),
        "f1": float(f1_score(y, p, zero_division=0)),
        "f2": float(fbeta_score(y, p, beta=2, zero_division=0)),
    }


def _one_class(labels: np.ndarray) -> bool:
    return np.unique(_binary(labels)).size < 2


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); NaN with one class only."""
    return float("nan") if _one_class(labels) else float(roc_auc_score(_binary(labels), scores))


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Step-wise average precision (``sklearn.metrics.average_precision_score``, not a
    trapezoid); NaN with one class only."""
    return float("nan") if _one_class(labels) else float(average_precision_score(_binary(labels), scores))


def point_adjust(labels: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Classic point adjustment: a true event is wholly predicted once any of its points is.

    Textbook rule (= ``tadpak.pak(k=0)``), shape ``(n,)`` 0/1. Unlike TSB-AD's
    ``_adjust_predicts`` it also back-fills index 0 of an event that starts the series.
    """
    adjusted = _binary(pred)
    for start, end in events(labels):
        if adjusted[start : end + 1].any():
            adjusted[start : end + 1] = 1
    return adjusted


def pa_f1_at(labels: np.ndarray, pred: np.ndarray) -> float:
    """F1 of the point-adjusted predictions (inflated; report beside the plain F1)."""
    return float(f1_score(_binary(labels), point_adjust(labels, pred), zero_division=0))


def best_pa_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    """Best point-adjusted F1 over TSB-AD's grid ``linspace(min, max, 100)``, ``pred = score > t``.

    The adjustment is the textbook rule of :func:`point_adjust`, so this reproduces the
    golden key ``tadpak_pak_on_tsbad_grid.PA-F1``; it equals TSB-AD's ``PA-F1`` except when
    an event starting at index 0 is first hit later (TSB-AD never back-fills index 0).

    Counted for all thresholds at once instead of adjusting 100 prediction arrays: at
    threshold ``t`` an event counts wholly as true positives when its largest score is above
    ``t`` (and adds nothing otherwise: none of its points is then above ``t``), and every
    normal point above ``t`` is a false positive.
    """
    y = _binary(labels)
    scores = np.asarray(scores, dtype=float).ravel()
    grid = np.linspace(scores.min(), scores.max(), PA_GRID)
    spans = events(y)
    if len(spans) == 0:
        return 0.0
    peaks = np.maximum.reduceat(np.where(y == 1, scores, -np.inf), spans[:, 0])  # each event's largest score (normal rows between events masked)
    order = np.argsort(peaks, kind="stable")
    peaks, lengths = peaks[order], (spans[:, 1] - spans[:, 0] + 1)[order]
    hit_lengths = np.concatenate([np.cumsum(lengths[::-1])[::-1], [0]])  # [i]: rows of the events from the i-th peak up
    tp = hit_lengths[np.searchsorted(peaks, grid, side="right")]  # events whose peak is above t
    normal = np.sort(scores[y == 0])
    fp = len(normal) - np.searchsorted(normal, grid, side="right")
    positives = int(y.sum())
    denominator = tp + fp + positives  # 2·TP + FP + FN with FN = positives − TP
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return float(f1.max())


def detection_delays(labels: np.ndarray, pred: np.ndarray) -> list[int | None]:
    """Per true event, steps from its start to the first predicted point inside it (None if missed)."""
    p = _binary(pred)
    delays: list[int | None] = []
    for start, end in events(labels):
        hits = np.flatnonzero(p[start : end + 1])
        delays.append(int(hits[0]) if hits.size else None)
    return delays


def delay_summary(labels: np.ndarray, pred: np.ndarray) -> dict:
    """Events, how many were detected, and the mean / median detection delay (steps from an
    event's start to its first alarm, over detected events; NaN when none was detected)."""
    delays = detection_delays(labels, pred)
    found = [d for d in delays if d is not None]
    return {
        "events": len(delays),
        "events_detected": len(found),
        "mean_delay_steps": float(np.mean(found)) if found else float("nan"),
        "median_delay_steps": float(np.median(found)) if found else float("nan"),
    }


def _merged_buffers(spans: np.ndarray, half: int, n: int) -> np.ndarray:
    """TSB-AD ``new_sequence``: events widened by ``half`` steps on each side, merged where
    the widened spans overlap; ``(m, 2)`` inclusive ``[start, end]`` clipped to ``[0, n-1]``."""
    lo, hi = spans[:, 0] - half, spans[:, 1] + half
    new = np.concatenate([[True], hi[:-1] < lo[1:]])
    starts = np.maximum(lo[new], 0)
    ends = np.minimum(np.append(hi[np.flatnonzero(new)[1:] - 1], hi[-1]), n - 1)
    return np.column_stack([starts, ends])


def _soft_labels(y: np.ndarray, spans: np.ndarray, window: int) -> np.ndarray:
    """TSB-AD ``sequencing``: 1 on events, ``sqrt(1 - dist/window)`` on the ``window // 2``
    steps either side of each event (summed where buffers meet), capped at 1."""
    soft = y.astype(float)
    half, n = window // 2, y.size
    for start, end in spans:
        after = np.arange(end + 1, min(end + half + 1, n))
        soft[after] += np.sqrt(1 - (after - end) / window)
        before = np.arange(max(start - half, 0), start)
        soft[before] += np.sqrt(1 - (start - before) / window)
    return np.minimum(soft, 1.0)


def _vus(labels: np.ndarray, scores: np.ndarray, window: int) -> tuple[float, float]:
    """(VUS-ROC, VUS-PR) as TSB-AD 1.5 ``basic_metricor.RangeAUC_volume_opt(labels, scores,
    window, thre=250)``, vectorised over its 250 thresholds.

    For each threshold ``k`` (scores sorted descending, indices ``linspace(0, n-1, 250)``,
    ``pred = score >= thr_k``, so the predicted sets are nested prefixes of the sorted
    order) and each window ``w = 0..window``, with soft labels ``s_w`` and ``P`` anomalous
    points: ``TP = sum(s_w * pred)``, ``P_new = P + (sum of s_w * pred off the events)/2``,
    ``TPR = min(TP / P_new, 1) * (merged buffered segments hit / all of them)``,
    ``FPR = (N_pred - TP) / (n - P_new)``, ``precision = TP / N_pred``. ROC area: trapezoid
    over (0, 0), the thresholds, (1, 1); PR area: sum of ``dTPR * precision`` from TPR = 0.
    Both are averaged over the ``window + 1`` windows. NaN with one class only.
    """
    y = _binary(labels)
    scores = np.asarray(scores, dtype=float).ravel()
    if _one_class(y):
        return float("nan"), float("nan")
    n, p = y.size, int(y.sum())
    spans = events(y)
    order = np.argsort(-scores, kind="stable")
    cuts = scores[order][np.linspace(0, n - 1, VUS_THRESHOLDS).astype(int)]
    n_pred = np.searchsorted(-scores[order], -cuts, side="right")  # count of score >= cut
    anomalous_predicted = np.cumsum(y[order])[n_pred - 1]
    padded = np.append(scores, -np.inf)  # so that reduceat can end a segment at index n

    roc, pr = np.empty(window + 1), np.empty(window + 1)
    for w in range(window + 1):
        soft = _soft_labels(y, spans, w)
        buffer_credit = np.cumsum(np.where(y == 1, 0.0, soft)[order])[n_pred - 1]
        tp = anomalous_predicted + buffer_credit
        p_new = p + buffer_credit / 2
        segments = _merged_buffers(spans, w // 2, n)
        seg_max = np.maximum.reduceat(padded, (segments + [0, 1]).ravel())[0::2]
        existence = (seg_max[:, None] >= cuts[None, :]).sum(axis=0) / len(segments)
        tpr = np.minimum(tp / p_new, 1.0) * existence
        fpr = (n_pred - tp) / (n - p_new)
        precision = tp / n_pred
        tpr_curve = np.concatenate([[0.0], tpr, [1.0]])
        fpr_curve = np.concatenate([[0.0], fpr, [1.0]])
        roc[w] = np.dot(np.diff(fpr_curve), (tpr_curve[1:] + tpr_curve[:-1]) / 2)
        pr[w] = np.dot(np.diff(tpr_curve[:-1]), precision)
    return float(roc.mean()), float(pr.mean())


def vus_roc(labels: np.ndarray, scores: np.ndarray, window: int = 100) -> float:
    """Volume under the range-ROC surface (TSB-AD ``VUS-ROC``), windows ``0..window`` steps."""
    return _vus(labels, scores, window)[0]


def vus_pr(labels: np.ndarray, scores: np.ndarray, window: int = 100) -> float:
    """Volume under the range-PR surface (TSB-AD ``VUS-PR``), windows ``0..window`` steps."""
    return _vus(labels, scores, window)[1]


def evaluate_scores(labels: np.ndarray, scores: np.ndarray, threshold: float, *, window: int = 100) -> dict:
    """Test-set metrics at an alarm ``threshold`` (``pred = score > threshold``) plus the
    threshold-free ``roc_auc``, ``pr_auc``, ``vus_roc``, ``vus_pr`` (``window`` in steps).

    Rows with a NaN score (not enough history) are dropped first and counted as
    ``n_unscored``; ``n`` is the number of rows given, ``n_anomalous`` / ``n_predicted``
    count the scored rows; ``events`` … ``median_delay_steps`` come from
    :func:`delay_summary` on the scored rows. ``pa_f1_point_adjusted`` is the point-adjusted F1 (inflated,
    only meaningful beside ``f1``). Undefined values (one class only) are NaN.
    """
    y_all = _binary(labels)
    s_all = np.asarray(scores, dtype=float).ravel()
    scored = ~np.isnan(s_all)
    y, s = y_all[scored], s_all[scored]
    pred = (s > threshold).astype(int)
    volume_roc, volume_pr = _vus(y, s, window)
    return {
        **point_metrics(y, pred),
        "roc_auc": roc_auc(y, s),
        "pr_auc": pr_auc(y, s),
        "vus_roc": volume_roc,
        "vus_pr": volume_pr,
        "pa_f1_point_adjusted": pa_f1_at(y, pred),
        **delay_summary(y, pred),
        "n": int(y_all.size),
        "n_unscored": int((~scored).sum()),
        "n_anomalous": int(y.sum()),
        "n_predicted": int(pred.sum()),
    }
