"""A labelled recording as every benchmark sees it, and how its training rows are split.

A :class:`Channel` is one series: an MSL channel, a SKAB experiment file, or a fleet's
recording. Its training rows are normal data; the last 20 % of them (at least one
window, :func:`validation_rows`) are validation, which sets early stopping and the alarm
threshold, and the rows before them (:func:`training_cut`) fit the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

VAL_FRACTION = 0.2

Progress = Callable[[str], None]
"""Receives one line of progress at a time."""


@dataclass(frozen=True)
class Channel:
    """One series: raw ``train`` (normal) and ``test`` arrays (rows, features) and 0/1 test ``labels`` (test rows,)."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray


def validation_rows(n_rows: int, window: int) -> int:
    """Rows at the end of a train array held out for validation: 20 %, at least one window."""
    return max(math.ceil(VAL_FRACTION * n_rows), window)


def training_cut(channel: Channel, window: int) -> int:
    """Index of the first validation row of ``channel.train``: the rows before it fit the
    model, those after it (:func:`validation_rows`) set early stopping and the threshold.
    Raises when fewer than one ``window`` of rows is left to fit on."""
    cut = len(channel.train) - validation_rows(len(channel.train), window)
    if cut < window:
        raise ValueError(
            f"channel {channel.name}: {len(channel.train)} train rows leave {cut} for training after "
            f"{len(channel.train) - cut} validation rows, fewer than one window of {window}"
        )
    return cut
