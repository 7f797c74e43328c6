"""The served model ``anomflow-detector``: an MLflow pyfunc built from plain files.

Artifacts (one ``bundle`` directory, no pickled objects): the detector's files
(``model.json`` + ``weights.pt``, :mod:`components.detectors`), ``scaler.json``, ``thresholds.json``, ``serving.json`` (sampling interval
and its tolerance, gap and top-k settings) and, for a model trained on drift-tracked
inputs, ``drift.json`` (:mod:`components.features.drift`). Logged as *models from code*
(``pyfunc_entry.py``) with the ``components`` package as a code path, so it loads from
any directory.

Input: raw readings as exported — ``timestamp``, optional ``asset``, one column per
sensor in the readings frame's units. Output per row: ``timestamp``, ``asset``,
``score`` (null without one), ``level``, ``alarm``, ``top_sensors`` (the sensors
contributing most) and ``missing_sensors`` (the sensors the row has no reading for). Levels:

- ``normal`` / ``warning`` / ``critical``: the score against the thresholds;
- ``critical`` also for a row with an *out-of-range* reading: infinite (``Infinity``, a
  number beyond float range) or more than :data:`OUT_OF_RANGE_SIGMAS` training standard
  deviations from the training mean. The network scores such a reading as if it were at
  that bound (an unbounded one would overflow it into no score at all, hiding the
  alarm); its sensor comes first in ``top_sensors``;
- ``sensor_fault``: a sensor has had no reading for longer than the imputation reach
  (``impute_steps`` rows carry the last reading forward), e.g. a dead sensor: the row
  cannot be scored, and ``missing_sensors`` names the sensors;
- ``insufficient_history``: the row's session (readings without gaps or faults) is
  shorter than the window so far.

With drift tracking, each asset's readings are replaced by their residuals from its
reference before scaling, starting from the reference the bundle saved for that asset (at
the end of the data the model was prepared from; a new asset's reference starts with its
first rows).

With ``dspot`` thresholds, ``score`` is the detector's score minus its asset's score
reference (:func:`~components.scoring.thresholds.score_residuals`), which the levels
apply to.

``alarm`` (``normal`` / ``warning`` / ``critical``) is the event-level alarm: each asset's
levels from the request's first row on, through the model's alarm rule (a level raised
once it held for ``raise_after`` rows, cleared after ``clear_after`` rows below it, an
out-of-range reading raising critical at once; :mod:`components.scoring.alarms`). A
client that sends a request's preceding rows with it gets the alarms of the whole series.

The signature names the input columns (:func:`~components.registry.register.served_signature`):
MLflow answers 400 naming a missing one and ignores, with a warning in its log, a column
the model does not score. The model checks the values itself
(:mod:`components.registry.request`), answering 400 with a message naming column and row.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from components.features.drift import DRIFT_FILE, DriftTracker, StreamState
from components.features.scaling import StandardScaler
from components.frames import ASSET, SESSION, TIMESTAMP
from components.quality.config import ValidationConfig
from components.detectors.registry import load_detector
from components.registry.request import InvalidRequest, check_sampling_interval, parse_request
from components.scoring.alarms import AlarmRule, AlarmState, alarm_levels, alarm_names, index_of_levels
from components.scoring.thresholds import SENSOR_FAULT, classify_levels, load_thresholds, tracked_scores

SERVING_FILE = "serving.json"
THRESHOLDS_FILE = "thresholds.json"
OUT_OF_RANGE_SIGMAS = 1000.0
CRITICAL = "critical"
_NONE: list[str] = []


@dataclass
class AssetState:
    """What one asset's later rows need from its earlier ones: its alarm state after its
    last row, and its drift reference and (``dspot`` thresholds) score reference before
    the rows the next request repeats as history (None: nothing carried)."""

    alarm: AlarmState | None = None
    drift: StreamState | None = None
    score_reference: list[float] | None = None


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


def asset_rows(assets: np.ndarray) -> dict:
    """{asset: its row positions (ascending)} in order of first appearance, found in one
    pass (each per-asset step of :meth:`ServedDetector.score_rows` walks these)."""
    indices = pd.Series(assets).groupby(assets, sort=False).indices
    return {asset: indices[asset] for asset in pd.unique(assets)}


def _none_where_not_finite(values: np.ndarray) -> np.ndarray:
    """``values`` as objects with None for NaN: MLflow's server writes NaN floats as the
    bare token ``NaN``, which is not JSON (JavaScript's ``JSON.parse`` rejects the whole
    answer), and None as ``null``."""
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out


def _names_where(mask: np.ndarray, names: np.ndarray) -> list[list[str]]:
    """Per row of ``mask`` (rows, sensors), the names of the sensors where it is True."""
    out: list[list[str]] = [_NONE] * len(mask)  # one shared empty list: the rows are only read
    for i in np.flatnonzero(mask.any(axis=1)):
        out[i] = list(names[mask[i]])
    return out


def _top_sensors(contributions: np.ndarray, out_of_range: np.ndarray, scored: np.ndarray, names: np.ndarray, k: int) -> list[list[str]]:
    """Per row: the ``k`` sensors contributing most to its score (none without one), its
    out-of-range sensors first (all of them, then the rest up to ``k`` in all)."""
    order = np.argsort(-np.nan_to_num(contributions, nan=-1.0), axis=1)[:, :k]
    top = [list(names[row]) if has_score else [] for row, has_score in zip(order, scored)]
    for i in np.flatnonzero(out_of_range.any(axis=1)):
        first = list(names[out_of_range[i]])
        top[i] = first + [n for n in top[i] if n not in first][: max(k - len(first), 0)]
    return top


class AnomflowDetector(mlflow.pyfunc.PythonModel):
    """Scores raw readings with the trained network, scaler and alarm levels."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        # a dataframe_split row shorter than the columns is padded with nulls by pandas (with this
        # warning; pandas 4 refuses it): refused here, so a short row is a 400, not an imputed reading
        warnings.filterwarnings("error", message="Constructing a DataFrame from a list of sequences with mismatched lengths")
        bundle = Path(context.artifacts["bundle"])
        self.detector = load_detector(bundle)
        self.scaler = StandardScaler.load(bundle / "scaler.json")
        self.thresholds = load_thresholds(bundle / THRESHOLDS_FILE)
        self.serving = json.loads((bundle / SERVING_FILE).read_text())
        self.drift = DriftTracker.load(bundle / DRIFT_FILE) if (bundle / DRIFT_FILE).exists() else None

    @property
    def sensors(self) -> list[str]:
        """The sensor columns a request carries."""
        return list(self.detector.sensors)

    @property
    def window(self) -> int:
        """Rows of history behind each score."""
        return int(self.detector.window)

    def levels_of(self, asset: str) -> dict:
        """The alarm levels that apply to ``asset``'s scores: ``warning`` and ``critical``."""
        return {k: self.thresholds.get(k) for k in ("warning", "critical")}

    def describe(self) -> dict:
        """What a dashboard shows of the model: sensors, window, levels, threshold method and alarm rule."""
        return {"sensors": self.sensors, "window": self.window, "thresholds": self.levels_of(""),
                "method": self.thresholds.get("method", "pot"), "alarm": self.thresholds.get("alarm")}

    @property
    def history_rows(self) -> int:
        """Rows of history a row's score needs (the window, plus the imputation reach)."""
        return int(self.detector.window) - 1 + int(self.serving["impute_steps"])

    def _interval_tolerance(self) -> float:
        # a bundle registered before the tolerance was recorded has validate's default; batch
        # scoring loads a champion with the installed package, which may be newer than it
        return float(self.serving.get("interval_tolerance", ValidationConfig().interval_tolerance))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return self.score_rows(model_input)[0]

    def score_rows(
        self, model_input: pd.DataFrame, states: dict[str, AssetState] | None = None, context_rows: int = 0,
    ) -> tuple[pd.DataFrame, dict[str, AssetState]]:
        """The answer to ``model_input`` (rows in request order) and each asset's state for
        the next piece of its rows, as batch scoring carries them: the next piece repeats
        this one's last :attr:`history_rows` rows of each asset as its ``context_rows``.
        ``states``: each asset's state from the piece before (an asset without one: none
        raised, the bundle's drift reference). The ``context_rows`` first rows only give
        the later rows their history (their ``alarm`` is ``normal``)."""
        try:
            readings = parse_request(pd.DataFrame(model_input).reset_index(drop=True), self.detector.sensors)
            check_sampling_interval(readings, self.serving["interval_s"], self.serving["max_gap_s"], self._interval_tolerance())
        except InvalidRequest as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None
        sensors = self.detector.sensors
        names = np.asarray(sensors, dtype=object)
        frame = sessionise(readings, self.serving["max_gap_s"], self.serving["impute_steps"])
        missing = readings.loc[frame.index, sensors].isna().to_numpy()
        faulty = frame[sensors].isna().to_numpy()  # missing beyond the imputation reach
        states = {asset: AssetState(s.alarm, s.drift, s.score_reference) for asset, s in (states or {}).items()}
        groups = asset_rows(frame[ASSET].to_numpy())
        if self.drift is not None:
            frame[sensors] = self._drift_residuals(frame, groups, states)
        frame[sensors] = frame[sensors].fillna(0.0)
        with np.errstate(over="ignore", invalid="ignore"):  # a reading beyond float32 scales to ±inf: out of range below
            scaled = self.scaler.transform(frame)
        out_of_range = ~(np.abs(scaled) <= OUT_OF_RANGE_SIGMAS) & ~faulty  # a fault's filled-in 0 is no reading
        result = self.detector.score(np.clip(scaled, -OUT_OF_RANGE_SIGMAS, OUT_OF_RANGE_SIGMAS), frame[SESSION].to_numpy())
        score = self._tracked(np.where(faulty.any(axis=1), np.nan, result.score), groups, states)
        level = classify_levels(score, self.thresholds)
        level[faulty.any(axis=1)] = SENSOR_FAULT
        level[out_of_range.any(axis=1)] = CRITICAL
        alarm = self._alarms(level, out_of_range.any(axis=1), frame.index.to_numpy() >= context_rows, groups, states)
        scored = pd.DataFrame(
            {
                TIMESTAMP: frame[TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
                ASSET: frame[ASSET].to_numpy(dtype=object),
                "score": _none_where_not_finite(score),
                "level": level,
                "alarm": alarm_names(alarm),
                "top_sensors": _top_sensors(
                    result.contributions, out_of_range, np.isfinite(score), names, int(self.serving["top_k_sensors"])
                ),
                "missing_sensors": _names_where(missing, names),
            },
            index=frame.index,
        )
        return scored.sort_index().reset_index(drop=True), states

    def _drift_residuals(self, frame: pd.DataFrame, groups: dict, states: dict[str, AssetState]) -> np.ndarray:
        """(rows, sensors) each asset's readings as residuals from its drift reference
        (``groups``: :func:`asset_rows`); each asset's ``drift`` state set to its reference
        before its last :attr:`history_rows` rows."""
        values = frame[self.detector.sensors].to_numpy(dtype=np.float64)
        residuals = np.empty_like(values)
        for asset, rows in groups.items():
            state = states.setdefault(asset, AssetState())
            start = state.drift if state.drift is not None else self.drift.states.get(str(asset))
            cut = max(len(rows) - self.history_rows, 0)
            residuals[rows[:cut]], state.drift = self.drift.track(values[rows[:cut]], start)
            residuals[rows[cut:]], _ = self.drift.track(values[rows[cut:]], state.drift)
        return residuals

    def _tracked(self, score: np.ndarray, groups: dict, states: dict[str, AssetState]) -> np.ndarray:
        """The scores the levels apply to: with ``dspot`` thresholds, each score's residual
        from its asset's score reference (from the carried one, else the bundle's), whose
        state before the rows the next request scores again is carried (the last
        :attr:`history_rows` less the ``window − 1`` its first rows need); else ``score``."""
        if self.thresholds.get("method") != "dspot":
            return score
        out = np.empty_like(score)
        for asset, rows in groups.items():
            key = str(asset)
            state = states.setdefault(asset, AssetState())
            start = state.score_reference if state.score_reference is not None else self.thresholds["reference"]["states"].get(key, [])
            cut = max(len(rows) - self.history_rows + self.detector.window - 1, 0)  # the next request scores its rows from here
            out[rows[:cut]], before_history = tracked_scores(score[rows[:cut]], np.full(cut, key), self.thresholds, {key: start})
            state.score_reference = before_history.get(key, start)
            out[rows[cut:]], _ = tracked_scores(score[rows[cut:]], np.full(len(rows) - cut, key), self.thresholds, {key: state.score_reference})
        return out

    def _alarms(
        self, level: np.ndarray, out_of_range: np.ndarray, counted: np.ndarray, groups: dict, states: dict[str, AssetState],
    ) -> np.ndarray:
        """Alarm level index per row (``groups``: :func:`asset_rows`; ``counted``: rows that
        are not context); each asset's ``alarm`` state set to the state after its last row
        (module doc)."""
        rule, index = AlarmRule.of(self.thresholds), index_of_levels(level)
        alarm = np.zeros(len(level), dtype=np.int8)
        for asset, rows in groups.items():
            rows = rows[counted[rows]]
            state = states.setdefault(asset, AssetState())
            alarm[rows], state.alarm = alarm_levels(index[rows], rule, state.alarm, out_of_range[rows])
        return alarm
