"""The prepare stage: validated readings → regular sessions → splits + scaler (JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import PrepareConfig
from components.features.drift import DRIFT_FILE, DriftTracker, DriftTrackingConfig
from components.features.scaling import StandardScaler
from components.features.sessions import resample_sessions
from components.features.split import SPLITS, chronological_split
from components.features.windows import fit_window_starts, no_fit_window_reason
from components.frames import ASSET, LABEL, SESSION, sensor_columns


@dataclass(frozen=True)
class PreparedData:
    """Unscaled splits (original units; with drift tracking, each sensor's residual from its
    reference, in its units) and the scaler fitted on ``train`` only."""

    splits: dict[str, pd.DataFrame]
    scaler: StandardScaler
    sensors: list[str]

    @classmethod
    def load(cls, directory: str | Path) -> "PreparedData":
        directory = Path(directory)
        splits = {name: pd.read_parquet(directory / f"{name}.parquet") for name in SPLITS}
        scaler = StandardScaler.load(directory / "scaler.json")
        return cls(splits, scaler, list(scaler.sensors))


def prepare(validated: pd.DataFrame, cfg: PrepareConfig, out_dir: str | Path, window: int) -> PreparedData:
    """Resample, sessionise, split and fit the scaler; write everything to ``out_dir``.

    Files: ``train|val|test.parquet`` (timestamp, asset, session, sensors[, label], in
    original units, or with ``drift_tracking`` enabled their residuals, and
    ``drift.json``: :func:`track_drift`), ``scaler.json`` and ``summary.json`` (rows, sessions and labelled
    rows per split; for train and val also ``fit_windows``, the ``window``-row windows
    the models can fit on; ``window``: the longest of the models'). Raises ValueError, after writing them, when train or val has
    no such window, saying why and what to change.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    series = resample_sessions(validated, *cfg.times())
    splits = chronological_split(series, cfg.train_fraction, cfg.val_fraction)
    sensors = sensor_columns(series)
    (out_dir / DRIFT_FILE).unlink(missing_ok=True)
    summary = {"sensors": sensors, "interval_s": cfg.interval_s, "window": window}
    if cfg.drift_tracking.enabled:
        splits, tracker = track_drift(splits, sensors, cfg.drift_tracking)
        tracker.save(out_dir / DRIFT_FILE)
        summary["drift_limits"] = dict(zip(sensors, tracker.limits))
    scaler = StandardScaler.fit(splits["train"], sensors)
    for name, frame in splits.items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
        summary[name] = {
            "rows": int(len(frame)),
            "sessions": int(frame[SESSION].nunique()),
            "anomalous_rows": int(frame[LABEL].sum()) if LABEL in frame else None,
        }
        if name != "test":
            summary[name]["fit_windows"] = int(len(fit_window_starts(frame, window, 1, cfg.exclude_labelled_from_fit)))
    scaler.save(out_dir / "scaler.json")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    empty = [name for name in ("train", "val") if summary[name]["fit_windows"] == 0]
    if empty:
        raise ValueError("; ".join(no_fit_window_reason(splits[n], n, window, cfg.exclude_labelled_from_fit) for n in empty))
    return PreparedData(splits, scaler, sensors)


def track_drift(splits: dict[str, pd.DataFrame], sensors: list[str], cfg: DriftTrackingConfig) -> tuple[dict[str, pd.DataFrame], DriftTracker]:
    """Every sensor of every split replaced by its drift-tracking residual
    (:mod:`components.features.drift`): per asset, its training rows (labelled ones
    excluded) set the limits and are learned, then its validation and test rows are
    tracked in time order; the tracker holds each asset's state after its last row."""
    def labelled(frame: pd.DataFrame) -> np.ndarray:
        return frame[LABEL].to_numpy().astype(bool) if LABEL in frame else np.zeros(len(frame), dtype=bool)

    train = splits["train"]
    learnable = {
        asset: np.where(labelled(part)[:, None], np.nan, part[sensors].to_numpy(dtype=np.float64))
        for asset, part in train.groupby(ASSET, sort=False)
    }
    tracker = DriftTracker.fit(learnable, sensors, cfg)
    tracked = {name: frame.copy() for name, frame in splits.items()}
    states = {}
    for asset in train[ASSET].unique():
        state = None
        for name in SPLITS:
            rows = np.flatnonzero(splits[name][ASSET].to_numpy() == asset)
            part = splits[name].iloc[rows]
            learn = ~labelled(part) if name == "train" else None
            residuals, state = tracker.track(part[sensors].to_numpy(dtype=np.float64), state, learn)
            tracked[name].iloc[rows, [tracked[name].columns.get_loc(c) for c in sensors]] = residuals
        states[str(asset)] = state
    return tracked, tracker.with_states(states)
