"""A small served model and readings for the live path's tests: a PCA detector stands in
for the student (the watcher only calls the served model), with an alarm rule, so alerts
open, fire, escalate and resolve within a few hundred readings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from components.checksums import record_checksums
from components.detectors.base import FitContext
from components.detectors.pca import PcaDetector
from components.live.champion import LoadedModel
from components.live.store import Store
from components.registry.served_detector import SERVING_FILE, THRESHOLDS_FILE, AnomflowDetector
from tests.detectors.conftest_data import SENSORS, plant_like, tiny_prepared

WINDOW = 8
START = pd.Timestamp("2026-03-01T00:00:00Z")


def served_model(raise_after: int = 3, clear_after: int = 2, variance: float = 0.9) -> AnomflowDetector:
    """The served model, its PCA keeping ``variance`` of the training windows' variance."""
    prepared = tiny_prepared()
    detector, _ = PcaDetector.fit(PcaDetector.Settings(window=WINDOW, variance=variance, train_stride=2), prepared, FitContext(seed=3))
    model = AnomflowDetector()
    model.detector, model.scaler = detector, prepared.scaler
    normal = detector.score(prepared.scaler.transform(pd.DataFrame(plant_like(400, 5), columns=SENSORS)), np.zeros(400)).score
    model.thresholds = {
        "warning": float(np.nanquantile(normal, 0.99)), "critical": float(np.nanmax(normal) * 3),
        "alarm": {"raise_after": raise_after, "clear_after": clear_after},
    }
    model.serving = {"interval_s": 60, "interval_tolerance": 0.5, "max_gap_s": 600, "impute_steps": 3, "top_k_sensors": 2}
    model.drift = None
    return model


def write_bundle(model: AnomflowDetector, out: Path) -> Path:
    """``model``'s files as the register stage bundles them (:func:`~components.registry.register.build_bundle`)."""
    out.mkdir(parents=True, exist_ok=True)
    model.detector.save(out)
    model.scaler.save(out / "scaler.json")
    (out / THRESHOLDS_FILE).write_text(json.dumps(model.thresholds))
    (out / SERVING_FILE).write_text(json.dumps(model.serving))
    record_checksums(out, [THRESHOLDS_FILE, "scaler.json", SERVING_FILE])
    return out


def loaded(version: str = "anomflow-detector/1", **rule) -> LoadedModel:
    return LoadedModel(version, served_model(**rule))


def readings(rows: int = 300, asset: str = "pump-1", seed: int = 9, faults: tuple[tuple[int, int, float], ...] = ((150, 175, 6.0),)) -> pd.DataFrame:
    """One asset's readings a minute apart with faults (start row, end row, shift of x1)."""
    values = plant_like(rows, seed)
    for start, end, shift in faults:
        values[start:end, 1] += shift
    frame = pd.DataFrame(values, columns=SENSORS)
    frame.insert(0, "asset", asset)
    frame.insert(0, "timestamp", pd.date_range(START, periods=rows, freq="60s"))
    return frame


def insert(store: Store, frame: pd.DataFrame) -> None:
    """Insert a readings frame (timestamp, asset, sensors) in row order."""
    store.insert_readings([(r["asset"], r["timestamp"], {s: r[s] for s in SENSORS}) for _, r in frame.iterrows()])


def interleave(*frames: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(frames).sort_values(["timestamp", "asset"], kind="stable").reset_index(drop=True)


def wait_until(condition, timeout_s: float, what: str = "the condition", *, tolerate: tuple[type[Exception], ...] = (), interval_s: float = 0.05):
    """Poll ``condition`` until it returns something true and return that; an exception
    of ``tolerate`` counts as not yet (e.g. a page element between two renders);
    AssertionError naming ``what`` after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = condition()
        except tolerate:
            value = None
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def scores(store: Store) -> pd.DataFrame:
    rows = store.execute("SELECT reading_id, asset, score, level, alarm, model_version FROM scores ORDER BY reading_id")
    return pd.DataFrame(rows, columns=["reading_id", "asset", "score", "level", "alarm", "model_version"])
