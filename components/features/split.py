"""Chronological train / validation / test split per asset."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.frames import ASSET, NORMAL_FEEDBACK, SESSION, TIMESTAMP

SPLITS = ("train", "val", "test")


def chronological_split(series: pd.DataFrame, train_fraction: float, val_fraction: float) -> dict[str, pd.DataFrame]:
    """Cut each asset's time range at ``train_fraction`` and ``train+val`` of its span.

    A session crossing a cut is split there and its parts get the split name appended
    (``pump-1#3/val``), so no window can span two splits. Rows an operator acknowledged
    as a false alarm (``normal_feedback``) go to ``train`` wherever they fall, as parts of
    sessions of their own; the column is not kept.
    """
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in SPLITS}
    for _, frame in series.groupby(ASSET, sort=True):
        t0, t1 = frame[TIMESTAMP].min(), frame[TIMESTAMP].max()
        cut1 = t0 + (t1 - t0) * train_fraction
        cut2 = t0 + (t1 - t0) * (train_fraction + val_fraction)
        normal = frame[NORMAL_FEEDBACK].to_numpy(dtype=bool) if NORMAL_FEEDBACK in frame else np.zeros(len(frame), dtype=bool)
        masks = {
            "train": (frame[TIMESTAMP] < cut1) | normal,
            "val": (frame[TIMESTAMP] >= cut1) & (frame[TIMESTAMP] < cut2) & ~normal,
            "test": (frame[TIMESTAMP] >= cut2) & ~normal,
        }
        for name, mask in masks.items():
            part = frame[mask].drop(columns=[NORMAL_FEEDBACK], errors="ignore")
            part[SESSION] = part[SESSION] + "/" + name
            if name == "train" and normal.any():  # each run of acknowledged rows is a session of its own
                episode = np.cumsum(normal & ~np.r_[False, normal[:-1]])[mask.to_numpy()]
                from_feedback = normal[mask.to_numpy()]
                part.loc[from_feedback, SESSION] = part.loc[from_feedback, SESSION] + "~normal" + episode[from_feedback].astype(str)
            parts[name].append(part)
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
