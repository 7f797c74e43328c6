"""Residuals of each sensor from a reference that follows slow drift and holds still
through an alarm, after DSPOT (Siffer et al., KDD 2017, "Anomaly Detection in Streams
with Extreme Value Theory", section 4.3: "drifting SPOT").

Per sensor (values smoothed by a trailing mean over ``smooth`` rows, causal):

* the reference of row t is the mean of the sensor's last ``depth`` *accepted* values;
* on the ``train_rows`` first rows every value is accepted, so the reference is the plain
  trailing mean of the previous ``depth`` rows (fewer at the start; row 0's residual is 0);
* the sensor's threshold is ``multiplier`` × its *tolerance*: by default its largest
  |residual| on the training rows that have a full ``depth``-row reference, or one given,
  such as :func:`fleet_tolerances` (the largest over several recordings' training rows);
* after training, a value joins the reference only while its |residual| is at most the
  threshold, so a slow drift moves the reference along while a fault (a jump larger than
  anything training saw) freezes it at the level before the fault for as long as the fault
  lasts.

Deviation from DSPOT: DSPOT's threshold is a generalised Pareto tail quantile of the
residuals, refitted as normal peaks arrive; here it is a fixed multiple of the training
maximum, so each sensor has one threshold that its training rows alone set. The tracking
itself is the pipeline's (``prepare.drift_tracking``, :mod:`components.features.drift`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.research_lib.fleet import sensor_count
from components.benchmarks.series import Channel
from components.features.drift import DriftTracker, DriftTrackingConfig

DEPTH, SMOOTH, MULTIPLIER = 100, 20, 2.0
"""SKAB's settings (``benchmarks/skab_tracked.py`` says how they were chosen)."""


def smoothing_arg(text: str) -> int | str:
    """A ``--smooth`` command-line value: rows, or ``auto`` (from the training rows' spectra)."""
    return "auto" if text == "auto" else int(text)


@dataclass(frozen=True)
class Tracked:
    """``residuals`` (rows, sensors): value − reference, in the sensor's units;
    ``thresholds`` (sensors,); ``rejected`` (sensors,): rows after training whose value was
    kept out of the reference (over the threshold)."""

    residuals: np.ndarray
    thresholds: np.ndarray
    rejected: np.ndarray


def track(
    values: np.ndarray, train_rows: int, depth: int, smooth: int, multiplier: float, tolerance: np.ndarray | None = None,
) -> Tracked:
    """Drift-tracking residuals of ``values`` (rows, sensors) whose first ``train_rows``
    rows are normal training data (module doc), by the pipeline's tracker
    (:class:`components.features.drift.DriftTracker`); ``tolerance`` (sensors,), in the
    sensors' units, replaces their largest training residuals as what ``multiplier`` scales."""
    if not 0 < depth < train_rows:
        raise ValueError(f"depth must be in (0, {train_rows}) training rows, got {depth}")
    if smooth < 1 or multiplier <= 0:
        raise ValueError(f"smooth must be at least 1 and multiplier positive, got {smooth} and {multiplier}")
    if tolerance is not None and np.shape(tolerance) != (values.shape[1],):
        raise ValueError(f"tolerance needs one value per sensor ({values.shape[1]}), got shape {np.shape(tolerance)}")
    cfg = DriftTrackingConfig(enabled=True, depth=depth, smoothing=smooth, multiplier=multiplier)
    sensors = [str(j) for j in range(values.shape[1])]
    tracker = DriftTracker.fit({"file": values[:train_rows]}, sensors, cfg)
    if tolerance is not None:
        limits = np.maximum(multiplier * np.asarray(tolerance, dtype=float), 1e-9)
        tracker = DriftTracker(tracker.sensors, tracker.depth, tracker.smoothing, tuple(map(float, limits)))
    residuals, _ = tracker.track(values, None, learn=np.arange(len(values)) < train_rows)
    thresholds = np.asarray(tracker.limits)
    return Tracked(residuals, thresholds, (np.abs(residuals[train_rows:]) > thresholds).sum(axis=0))


def fleet_tolerances(channels: list[Channel], depth: int = DEPTH, smooth: int = SMOOTH) -> np.ndarray:
    """(sensors,) each sensor's largest |residual| over the training rows of all
    ``channels`` (recordings of one machine with the same sensors in the same order): what
    every recording's normal operation has shown, for :func:`track`'s ``tolerance``."""
    sensor_count(channels)
    return np.max([track(np.asarray(c.train), len(c.train), depth, smooth, 1.0).thresholds for c in channels], axis=0)


def tracked_channel(
    channel: Channel, sensors: list[str], depth: int = DEPTH, smooth: int = SMOOTH, multiplier: float = MULTIPLIER,
    tolerance: np.ndarray | None = None,
) -> tuple[Channel, dict]:
    """``channel`` with every sensor replaced by its drift-tracking residual (its training
    rows are the ones :func:`track` trains on, ``tolerance`` as there), and a record of
    each sensor's threshold and how many test rows its reference rejected."""
    split = len(channel.train)
    tracked = track(np.concatenate([channel.train, channel.test]), split, depth, smooth, multiplier, tolerance)
    record = {
        "thresholds": {name: round(float(v), 6) for name, v in zip(sensors, tracked.thresholds)},
        "rejected_rows": {name: int(n) for name, n in zip(sensors, tracked.rejected)},
    }
    return Channel(channel.name, tracked.residuals[:split], tracked.residuals[split:], channel.labels), record
