"""Drift tracking after DSPOT (Siffer et al., KDD 2017, "Anomaly Detection in Streams with
Extreme Value Theory", section 4.3): each channel is replaced by its residual from a
reference that follows the values accepted as normal and freezes while the channel is
out of bounds, so a slow drift (a temperature after a load change, a season) moves the
reference along while a fault (a jump larger than anything normal operation showed)
keeps its distance from the level before it, for as long as it lasts.

Per channel, values first smoothed by a trailing mean over ``smoothing`` rows (1: none;
``auto``: chosen from the training rows' spectra, :mod:`components.features.smoothing`):

* the reference of a row is the mean of the channel's last ``depth`` accepted values; a
  row's residual is its value minus that reference (0 for a stream's very first value);
* while fewer than ``depth`` values were accepted, and on rows being *learned* (the
  training rows), every value is accepted;
* after that a value is accepted only while its |residual| is at most the channel's
  *limit*: ``multiplier`` × the largest |residual| the training rows showed with a full
  reference (:meth:`DriftTracker.fit`, over every asset: the fleet's tolerance);
* a missing value (NaN) has no residual and changes nothing.

The state of a stream (:class:`StreamState`: the accepted values and the last
``smoothing − 1`` raw values, per channel) is plain JSON: the prepare stage saves each
asset's state at the end of its prepared rows, the served model starts a request from it,
and batch scoring carries it from chunk to chunk, so a series tracked in pieces gets the
residuals of the series tracked whole (to float rounding of the running sums).

:mod:`components.scoring.thresholds` uses the same reference on a detector's scores for
the ``dspot`` threshold method (one channel, limit = the warning level).

Deviation from DSPOT: DSPOT's acceptance bound is its streaming POT threshold, refitted as
peaks arrive; for sensor inputs it is a fixed multiple of the training maximum here, one
bound per sensor that the training rows alone set.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components.features.smoothing import spectral_smoothing

DRIFT_FILE = "drift.json"
_MIN_LIMIT = 1e-9


class DriftTrackingConfig(BaseModel):
    """``prepare.drift_tracking``: replace every sensor by its residual from a reference
    that follows slow drift (module doc)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    depth: int = Field(100, ge=2, description="accepted values the reference averages, rows")
    smoothing: int | Literal["auto"] = Field(
        1, description="trailing mean over this many rows before tracking (1: none; auto: from the training rows' spectra, "
                       "components.features.smoothing)",
    )
    multiplier: float = Field(2.0, gt=0, description="a value joins the reference while |residual| <= multiplier x the training maximum")

    @field_validator("smoothing")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if value != "auto" and value < 1:
            raise ValueError(f"smoothing must be at least 1 row or 'auto', got {value}")
        return value


@dataclass
class StreamState:
    """One stream's state, per channel: ``accepted`` (its last ``depth`` accepted values,
    oldest first) and ``recent`` (its last ``smoothing − 1`` raw values, None where
    missing, for the smoothing)."""

    accepted: list[list[float]]
    recent: list[list[float | None]] = field(default_factory=list)

    @classmethod
    def empty(cls, channels: int) -> "StreamState":
        return cls([[] for _ in range(channels)], [[] for _ in range(channels)])


def smooth(values: np.ndarray, smoothing: int, recent: list[list[float | None]]) -> tuple[np.ndarray, list[list[float | None]]]:
    """Trailing mean over ``smoothing`` rows of ``values`` (rows, channels), the ``recent``
    raw values before them included (missing ones ignored; a missing row stays NaN); and
    the raw values to carry."""
    if smoothing == 1:
        return values, [[] for _ in range(values.shape[1])]
    width = max((len(r) for r in recent), default=0)
    before = np.full((width, values.shape[1]), np.nan)
    for j, r in enumerate(recent):
        if r:
            before[width - len(r) :, j] = [np.nan if v is None else v for v in r]
    joined = np.vstack([before, values])
    smoothed = pd.DataFrame(joined).rolling(smoothing, min_periods=1).mean().to_numpy(copy=True)[width:]
    smoothed[np.isnan(values)] = np.nan  # a missing reading stays missing
    tail = joined[-(smoothing - 1) :]
    return smoothed, [[None if np.isnan(v) else float(v) for v in tail[:, j]] for j in range(values.shape[1])]


def follow(
    values: np.ndarray, depth: int, limits: np.ndarray | None, state: StreamState, learn: np.ndarray | None = None,
) -> tuple[np.ndarray, StreamState]:
    """Residuals (rows, channels) of already smoothed ``values`` from the reference of
    ``state``, and the state after the last row. ``limits`` (channels,): the acceptance
    bounds (None: accept every value); ``learn`` (rows,) bool: rows accepted whatever
    their residual (training rows)."""
    residuals = np.full(values.shape, np.nan)
    learned = np.zeros(len(values), dtype=bool) if learn is None else np.asarray(learn, dtype=bool)
    accepted_out = []
    for j in range(values.shape[1]):
        accepted = deque(state.accepted[j], maxlen=depth)
        total = float(sum(accepted))
        limit = np.inf if limits is None else float(limits[j])
        out = residuals[:, j]
        for t, (value, learning) in enumerate(zip(values[:, j].tolist(), learned.tolist())):
            if value != value:  # NaN: no reading
                continue
            n = len(accepted)
            residual = value - total / n if n else 0.0
            out[t] = residual
            if learning or n < depth or abs(residual) <= limit:
                if n == depth:
                    total -= accepted[0]
                accepted.append(value)
                total += value
        accepted_out.append(list(accepted))
    return residuals, StreamState(accepted_out, state.recent)


@dataclass(frozen=True)
class DriftTracker:
    """Fitted drift tracking of the ``sensors``: settings, each sensor's acceptance
    ``limits`` (in its units) and each asset's state at the end of the rows it saw."""

    sensors: tuple[str, ...]
    depth: int
    smoothing: int
    limits: tuple[float, ...]
    states: dict[str, StreamState] = field(default_factory=dict)

    @classmethod
    def fit(cls, train_by_asset: dict[str, np.ndarray], sensors: list[str], cfg: DriftTrackingConfig) -> "DriftTracker":
        """Limits from the training rows of every asset ((rows, sensors) in time order, NaN
        for rows not to learn from, such as labelled anomalies): ``multiplier`` × the
        largest |residual| any asset's training rows show once their reference holds
        ``depth`` values; with ``smoothing: auto`` the smoothing their spectra call for
        (:func:`~components.features.smoothing.spectral_smoothing`, at most ``depth``)."""
        smoothing = spectral_smoothing(train_by_asset, cfg.depth) if cfg.smoothing == "auto" else cfg.smoothing
        largest = np.zeros(len(sensors))
        for values in train_by_asset.values():
            smoothed, _ = smooth(values, smoothing, [[] for _ in sensors])
            residuals, _ = follow(smoothed, cfg.depth, None, StreamState.empty(len(sensors)))
            full = residuals[cfg.depth :]
            if len(full):
                largest = np.fmax(largest, np.nanmax(np.abs(full), axis=0, initial=0.0))
        limits = np.maximum(cfg.multiplier * largest, _MIN_LIMIT)
        return cls(tuple(sensors), cfg.depth, smoothing, tuple(map(float, limits)))

    def track(self, values: np.ndarray, state: StreamState | None, learn: np.ndarray | None = None) -> tuple[np.ndarray, StreamState]:
        """Residuals (rows, sensors) of one asset's raw ``values`` (rows, sensors), in time
        order, from ``state`` (None: a new stream); and the state after them. ``learn``
        (rows,) bool: rows accepted whatever their residual (training rows)."""
        state = state or StreamState.empty(len(self.sensors))
        smoothed, recent = smooth(np.asarray(values, dtype=np.float64), self.smoothing, state.recent)
        residuals, after = follow(smoothed, self.depth, np.asarray(self.limits), state, learn)
        return residuals, StreamState(after.accepted, recent)

    def with_states(self, states: dict[str, StreamState]) -> "DriftTracker":
        return DriftTracker(self.sensors, self.depth, self.smoothing, self.limits, dict(states))

    def save(self, path: str | Path) -> None:
        payload = {
            "sensors": list(self.sensors), "depth": self.depth, "smoothing": self.smoothing, "limits": list(self.limits),
            "states": {asset: {"accepted": s.accepted, "recent": s.recent} for asset, s in self.states.items()},
        }
        Path(path).write_text(json.dumps(payload))

    @classmethod
    def load(cls, path: str | Path) -> "DriftTracker":
        payload = json.loads(Path(path).read_text())
        states = {asset: StreamState(s["accepted"], s["recent"]) for asset, s in payload["states"].items()}
        return cls(tuple(payload["sensors"]), int(payload["depth"]), int(payload["smoothing"]), tuple(payload["limits"]), states)
