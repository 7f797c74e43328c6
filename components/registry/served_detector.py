"""The served model ``anomflow-detector``: an MLflow pyfunc built from plain files.

Artifacts (one ``bundle`` directory, no pickled objects): the detector's files
(``model.json`` + ``weights.pt``, :mod:`components.detectors`), ``scaler.json``, ``thresholds.json`` and ``serving.json`` (sampling interval
and its tolerance, gap and top-k settings). Logged as *models from code*
(``pyfunc_entry.py``) with the ``components`` package as a code path, so it loads from
any directory.

Input: raw readings as exported — ``timestamp``, optional ``asset``, one column per
sensor in the readings frame's units. Output per row: ``timestamp``, ``asset``,
``score`` (null without history), ``level`` (``normal`` / ``warning`` / ``critical`` /
``insufficient_history``) and ``top_sensors`` (the sensors contributing most).

MLflow's own schema enforcement silently drops unexpected columns and echoes the whole
request in its errors, so the model declares only its output schema and checks its
input itself (:mod:`components.registry.request`), answering 400 with a precise message.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from components.features.scaling import StandardScaler
from components.frames import ASSET, SESSION, TIMESTAMP
from components.quality.config import ValidationConfig
from components.detectors.registry import load_detector
from components.registry.request import InvalidRequest, check_sampling_interval, parse_request
from components.scoring.thresholds import classify_levels, load_thresholds

SERVING_FILE = "serving.json"
THRESHOLDS_FILE = "thresholds.json"


def sessionise(readings: pd.DataFrame, max_gap_s: float, impute_steps: int) -> pd.DataFrame:
    """Group rows by asset (keeping the index) and add a ``session`` column: a new
    session after a gap > ``max_gap_s`` or a row whose missing values could not be
    filled by a forward fill of up to ``impute_steps`` rows (that row's id ends in ``!``)."""
    pieces = []
    for asset, part in readings.groupby(ASSET, sort=False):
        part = part.copy()
        sensors = [c for c in part.columns if c not in (TIMESTAMP, ASSET)]
        gaps = part[TIMESTAMP].diff().dt.total_seconds().fillna(0).to_numpy() > max_gap_s
        part[sensors] = part[sensors].ffill(limit=impute_steps) if impute_steps else part[sensors]
        incomplete = part[sensors].isna().any(axis=1).to_numpy()
        part[SESSION] = [f"{asset}#{k}" for k in np.cumsum(gaps | incomplete)]
        part.loc[incomplete, SESSION] = part.loc[incomplete, SESSION] + "!"
        pieces.append(part)
    return pd.concat(pieces)


def _none_where_not_finite(values: np.ndarray) -> np.ndarray:
    """``values`` as objects with None for NaN: MLflow's server writes NaN floats as the
    bare token ``NaN``, which is not JSON (JavaScript's ``JSON.parse`` rejects the whole
    answer), and None as ``null``."""
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out


class AnomflowDetector(mlflow.pyfunc.PythonModel):
    """Scores raw readings with the trained network, scaler and alarm levels."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        bundle = Path(context.artifacts["bundle"])
        self.detector = load_detector(bundle)
        self.scaler = StandardScaler.load(bundle / "scaler.json")
        self.thresholds = load_thresholds(bundle / THRESHOLDS_FILE)
        self.serving = json.loads((bundle / SERVING_FILE).read_text())

    def _interval_tolerance(self) -> float:
        # a bundle registered before the tolerance was recorded has validate's default; batch
        # scoring loads a champion with the installed package, which may be newer than it
        return float(self.serving.get("interval_tolerance", ValidationConfig().interval_tolerance))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        try:
            readings = parse_request(pd.DataFrame(model_input), self.detector.sensors)
            check_sampling_interval(readings, self.serving["interval_s"], self.serving["max_gap_s"], self._interval_tolerance())
        except InvalidRequest as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None
        frame = sessionise(readings, self.serving["max_gap_s"], self.serving["impute_steps"])
        complete = ~frame[SESSION].str.endswith("!").to_numpy()
        sensors = self.detector.sensors
        frame[sensors] = frame[sensors].fillna(0.0)
        result = self.detector.score_frame(self.scaler, frame)
        score = np.where(complete, result.score, np.nan)
        top_k = int(self.serving["top_k_sensors"])
        order = np.argsort(-np.nan_to_num(result.contributions, nan=-1.0), axis=1)[:, :top_k]
        names = np.asarray(sensors, dtype=object)
        scored = pd.DataFrame(
            {
                TIMESTAMP: frame[TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                ASSET: frame[ASSET].to_numpy(dtype=object),
                "score": _none_where_not_finite(score),
                "level": classify_levels(score, self.thresholds),
                "top_sensors": [list(names[row]) if np.isfinite(s) else [] for row, s in zip(order, score)],
            },
            index=frame.index,
        )
        return scored.sort_index().reset_index(drop=True)
