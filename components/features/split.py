"""Chronological train / validation / test split per asset."""

from __future__ import annotations

import pandas as pd

from components.frames import ASSET, SESSION, TIMESTAMP

SPLITS = ("train", "val", "test")


def chronological_split(series: pd.DataFrame, train_fraction: float, val_fraction: float) -> dict[str, pd.DataFrame]:
    """Cut each asset's time range at ``train_fraction`` and ``train+val`` of its span.

    A session crossing a cut is split there and its parts get the split name appended
    (``pump-1#3/val``), so no window can span two splits.
    """
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in SPLITS}
    for _, frame in series.groupby(ASSET, sort=True):
        t0, t1 = frame[TIMESTAMP].min(), frame[TIMESTAMP].max()
        cut1 = t0 + (t1 - t0) * train_fraction
        cut2 = t0 + (t1 - t0) * (train_fraction + val_fraction)
        masks = {
            "train": frame[TIMESTAMP] < cut1,
            "val": (frame[TIMESTAMP] >= cut1) & (frame[TIMESTAMP] < cut2),
            "test": frame[TIMESTAMP] >= cut2,
        }
        for name, mask in masks.items():
            part = frame[mask].copy()
            part[SESSION] = part[SESSION] + "/" + name
            parts[name].append(part)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
