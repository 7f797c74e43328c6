"""How much to smooth sensors before drift tracking, from the training rows' spectra
(no labels): ``prepare.drift_tracking.smoothing: auto``.

A sensor reads a slow process plus measurement noise. Its power spectrum (Welch's
estimate) is high at low frequencies, where the process varies, and falls to a flat
floor where only white noise is left. A trailing mean that keeps the slow band and cuts
the floor lets the drift tracker's tolerance (its largest training residual) be set by
the process rather than by noise spikes.

Per sensor: the spectrum of each asset's training rows (``scipy.signal.welch``, segments
of :data:`SEGMENT_ROWS` rows or fewer, linear detrend), its median over assets; the noise
floor is the median power above :data:`FLOOR_FROM` cycles per row; the knee ``f_c`` is
the lowest frequency whose power is below twice the floor. The trailing mean of ``w``
rows halves the power at about ``0.443 / w`` cycles per row, so the sensor's width is
``0.443 / f_c``. A sensor that is noise from the lowest resolved frequency on gets the
longest width the segments resolve; a constant one, or one without a floor, says nothing
and is left out. The tracker's smoothing is the median of the other sensors' widths,
rounded, within ``[1, max_rows]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import welch

SEGMENT_ROWS = 128
"""Rows per Welch segment: a frequency resolution of 1/128 cycles per row."""
FLOOR_FROM = 0.25
"""Cycles per row above which a spectrum is taken as its noise floor (half the band)."""
HALF_POWER = 0.443
"""A ``w``-row trailing mean halves the power at ``HALF_POWER / w`` cycles per row."""
_MIN_ROWS = 16


def sensor_widths(train_by_asset: dict[str, np.ndarray]) -> list[float]:
    """Each sensor's trailing-mean width (rows; module doc) from ``train_by_asset``
    (asset → (rows, sensors) in time order, NaN where missing, interpolated here); NaN
    for a sensor no asset has :data:`_MIN_ROWS` varying readings of."""
    arrays = [np.asarray(v, dtype=np.float64) for v in train_by_asset.values()]
    sensors = arrays[0].shape[1] if arrays else 0
    widths = []
    for j in range(sensors):
        columns = [pd.Series(values[:, j]).interpolate(limit_direction="both").to_numpy() for values in arrays]
        columns = [c for c in columns if len(c) >= _MIN_ROWS and not np.isnan(c).any() and np.ptp(c) > 0]
        if not columns:
            widths.append(float("nan"))
            continue
        rows = min(SEGMENT_ROWS, *(len(c) for c in columns))
        frequencies = welch(columns[0], nperseg=rows, detrend="linear")[0]
        power = np.median([welch(c, nperseg=rows, detrend="linear")[1] for c in columns], axis=0)
        floor = float(np.median(power[frequencies > FLOOR_FROM]))
        below = np.flatnonzero(power[1:] < 2 * floor)
        widths.append(HALF_POWER / frequencies[1 + below[0]] if floor > 0 and len(below) else float("nan"))
    return widths


def spectral_smoothing(train_by_asset: dict[str, np.ndarray], max_rows: int) -> int:
    """The drift tracker's smoothing (rows): the median of :func:`sensor_widths`,
    rounded, within ``[1, max_rows]``; 1 when no sensor has enough rows to judge."""
    widths = [w for w in sensor_widths(train_by_asset) if np.isfinite(w)]
    if not widths:
        return 1
    return int(np.clip(round(float(np.median(widths))), 1, max_rows))
