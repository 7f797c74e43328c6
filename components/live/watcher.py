"""``anomflow watch``: scores each new reading of the live store once, as it arrives.

Per asset the watcher keeps in memory the last ``history_rows`` readings it accepted (the
window less one, plus the imputation reach) and the served model's carried state (alarm
counts, drift and score references: :class:`~components.registry.served_detector.AssetState`),
so a batch of new readings is scored together with those rows as context, exactly as batch
scoring carries them from one chunk to the next: streamed scores equal ``anomflow score``'s
on the same readings, and no reading is read from the store twice (the history is read back
only when the watcher starts, reconnects or changes model).

A batch (the readings after the position, in id order, up to ``batch_readings``) commits in
one transaction with the position after it and each asset's state
(:meth:`~components.live.store.Store.commit_batch`): a watcher killed at any moment scores
each reading exactly once after its restart, and writes no alert or notification twice.

A reading is quarantined, with the reason, when its sensors are not a JSON object, it
lacks one of the model's sensors (a null value is a missing reading, imputed or a
``sensor_fault`` as the served model documents), a value is not a number, or its time is
not after its asset's last accepted reading; and when the served model refuses it
(e.g. readings at another sampling interval).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from components.features.drift import StreamState
from components.frames import ASSET, TIMESTAMP
from components.live.alerts import AssetAlerts, BatchAlerts, step
from components.live.champion import ChampionFollower, LoadedModel
from components.live.collectors import Collector
from components.live.metrics import WatchMetrics
from components.live.notify import Receiver, outbox_rows
from components.live.store import Reading, Store
from components.registry.served_detector import AssetState
from components.scoring.alarms import AlarmState

log = logging.getLogger("anomflow.watch")


class Quarantined(ValueError):
    """A reading that cannot be scored as sent; the message is the reason."""


def _state_to_json(state: AssetState) -> dict:
    return dataclasses.asdict(state)


def _state_from_json(value: dict | None) -> AssetState:
    if not value:
        return AssetState()
    return AssetState(
        alarm=AlarmState(**value["alarm"]) if value.get("alarm") else None,
        drift=StreamState(**value["drift"]) if value.get("drift") else None,
        score_reference=value.get("score_reference"),
    )


@dataclass
class AssetRuntime:
    """What the watcher keeps per asset: its accepted recent readings (``history``), the
    served model's carried state, its alert tracker and its last accepted time."""

    history: deque
    state: AssetState = field(default_factory=AssetState)
    alerts: AssetAlerts = field(default_factory=AssetAlerts)
    last_ts: pd.Timestamp | None = None


def sensor_values(reading: Reading, sensors: list[str]) -> list[float]:
    """The reading's values of ``sensors`` (NaN for null); :class:`Quarantined` if they cannot be."""
    values = reading.sensors
    if not isinstance(values, dict):
        raise Quarantined(f"sensors is not a JSON object of sensor values: {str(values)[:80]!r}")
    missing = [s for s in sensors if s not in values]
    if missing:
        raise Quarantined(f"missing sensor(s) {missing} (send null for a missing value)")
    out = []
    for sensor in sensors:
        value = values[sensor]
        if value is None:
            out.append(math.nan)
            continue
        if isinstance(value, bool):
            raise Quarantined(f"sensor {sensor!r}: {value!r} is a boolean, not a number")
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            raise Quarantined(f"sensor {sensor!r}: {str(value)[:40]!r} is not a number") from None
    return out


class Watcher:
    """Scores the store's new readings with ``model`` (module doc)."""

    def __init__(self, store: Store, model: LoadedModel, receivers: list[Receiver] | None = None,
                 metrics: WatchMetrics | None = None, batch_readings: int = 10_000) -> None:
        self.store, self.model = store, model
        self.receivers = receivers or []
        self.metrics = metrics or WatchMetrics()
        self.batch_readings = batch_readings
        self.assets: dict[str, AssetRuntime] = {}
        self.position = 0
        self._saved_states: dict[str, Any] = {}
        self.lock = threading.Lock()  # held while a batch runs; the HTTP thread reads under it

    # ------------------------------------------------------------------ state
    @property
    def sensors(self) -> list[str]:
        return list(self.model.served.sensors)

    def restore(self) -> None:
        """Take the position and each asset's state from the store (at start, and after a
        lost connection, whose last commit may or may not have landed)."""
        self.position, self._saved_states = self.store.watcher_state()
        self.assets = {}
        self._announce_model()

    def _announce_model(self) -> None:
        """Record the model in the store (for dashboards) and the metrics."""
        self.store.set_model({"version": self.model.version, **self.model.served.describe()})
        self.metrics.model(self.model.version)

    def _runtime(self, asset: str) -> AssetRuntime:
        """The asset's runtime, built from the store the first time it is needed."""
        runtime = self.assets.get(asset)
        if runtime is not None:
            return runtime
        saved = self._saved_states.pop(asset, None) or {}
        history_rows = self.model.served.history_rows
        runtime = AssetRuntime(deque(maxlen=history_rows), alerts=AssetAlerts.from_json(saved.get("alerts")))
        same_model = saved.get("model_version") == self.model.version_of(asset)
        runtime.state = _state_from_json(saved.get("state")) if same_model else AssetState(alarm=_state_from_json(saved.get("state")).alarm)
        for reading in self.store.recent_readings(asset, self.position, history_rows):
            try:
                runtime.history.append((reading.ts, sensor_values(reading, self.sensors)))
            except Quarantined:
                runtime.history.clear()  # a reading the new model's sensors lack: its history starts after it
        if saved.get("last_ts"):
            runtime.last_ts = pd.Timestamp(saved["last_ts"])
        elif runtime.history:
            runtime.last_ts = runtime.history[-1][0]
        self.assets[asset] = runtime
        return runtime

    def swap_model(self, model: LoadedModel) -> None:
        """Score the next batch with ``model``: each asset keeps its alarm counts and open
        alert; its history is read again for the new window, its drift and score
        references restart from the new model's."""
        self.model = model
        saved = {a: {"state": {"alarm": dataclasses.asdict(r.state.alarm) if r.state.alarm else None}, "alerts": r.alerts.to_json(),
                     "last_ts": r.last_ts.isoformat() if r.last_ts is not None else None, "model_version": None}
                 for a, r in self.assets.items()}
        self._saved_states.update(saved)
        self.assets = {}
        self._announce_model()
        log.info("now scoring with %s", model.version)

    # ------------------------------------------------------------------ one batch
    def process_batch(self) -> int:
        """Score the readings after the position (up to ``batch_readings``) and commit;
        returns how many readings the batch held (0: none were waiting)."""
        readings = self.store.readings_after(self.position, self.batch_readings)
        if not readings:
            self.metrics.caught_up()
            return 0
        with self.lock:
            accepted, quarantined = self._check(readings)
            scored = self._score(accepted, quarantined)
            alerts = BatchAlerts()
            score_rows = []
            for reading, row in scored:
                score = None if row["score"] is None else float(row["score"])
                score_rows.append({"reading_id": reading.id, "asset": reading.asset, "ts": reading.ts, "score": score,
                                   "level": row["level"], "alarm": row["alarm"], "top_sensors": list(row["top_sensors"]),
                                   "model_version": self.model.version_of(reading.asset)})
                step(self.assets[reading.asset].alerts, reading.id, reading.asset, reading.ts, score, row["level"], row["alarm"],
                     list(row["top_sensors"]), self.model.version_of(reading.asset), alerts)
            touched = {r.asset for r, _ in accepted} | {q["asset"] for q in quarantined if q["asset"] in self.assets}
            states = {a: self._asset_json(a) for a in touched}
            self.store.commit_batch(
                readings[-1].id, score_rows, quarantined, states, list(alerts.written.values()), alerts.cancelled,
                outbox_rows(alerts.events, self.receivers),
            )
            self.position = readings[-1].id
            self.metrics.batch(score_rows, len(quarantined), readings[-1].inserted_at, self.open_alerts())
        return len(readings)

    def open_alerts(self) -> dict[str, dict]:
        return {a: r.alerts.open for a, r in self.assets.items() if r.alerts.open is not None}

    def _asset_json(self, asset: str) -> dict:
        runtime = self.assets[asset]
        return {"state": _state_to_json(runtime.state), "alerts": runtime.alerts.to_json(), "model_version": self.model.version_of(asset),
                "last_ts": runtime.last_ts.isoformat() if runtime.last_ts is not None else None}

    def _check(self, readings: list[Reading]) -> tuple[list[tuple[Reading, list[float]]], list[dict]]:
        """The readings that can be offered to the model, with their values, and the
        quarantined ones (module doc)."""
        accepted, quarantined = [], []
        last: dict[str, pd.Timestamp | None] = {}
        for reading in readings:
            runtime = self._runtime(reading.asset)
            previous = last.get(reading.asset, runtime.last_ts)
            try:
                if previous is not None and reading.ts <= previous:
                    raise Quarantined(f"time {reading.ts.isoformat()} is not after the asset's last reading ({previous.isoformat()})")
                values = sensor_values(reading, self.sensors)
            except Quarantined as err:
                quarantined.append({"reading_id": reading.id, "asset": reading.asset, "ts": reading.ts.isoformat(), "reason": str(err)})
                continue
            last[reading.asset] = reading.ts
            accepted.append((reading, values))
        return accepted, quarantined

    def _frame(self, rows: list[tuple[str, pd.Timestamp, list[float]]]) -> pd.DataFrame:
        frame = pd.DataFrame(np.asarray([v for _, _, v in rows], dtype=np.float64).reshape(len(rows), -1), columns=self.sensors)
        frame.insert(0, ASSET, [a for a, _, _ in rows])
        frame.insert(0, TIMESTAMP, pd.DatetimeIndex([t for _, t, _ in rows]))
        return frame

    def _score(self, accepted: list[tuple[Reading, list[float]]], quarantined: list[dict]) -> list[tuple[Reading, dict]]:
        """Score ``accepted`` with each asset's history as context, all assets in one call;
        if the model refuses the batch, reading by reading, quarantining those it refuses."""
        if not accepted:
            return []
        assets = list(dict.fromkeys(r.asset for r, _ in accepted))
        context = [(a, ts, v) for a in assets for ts, v in self.assets[a].history]
        try:
            rows = self._score_rows(context, [(r.asset, r.ts, v) for r, v in accepted], assets)
        except MlflowException:
            return self._score_one_by_one(accepted, quarantined)
        for reading, values in accepted:
            self._accept(reading, values)
        return list(zip((r for r, _ in accepted), rows))

    def _score_rows(self, context: list, new: list, assets: list[str]) -> list[dict]:
        states = {a: self.assets[a].state for a in assets}
        answer, states = self.model.served.score_rows(self._frame(context + new), states, len(context))
        for asset in assets:
            self.assets[asset].state = states.get(asset, self.assets[asset].state)
        return answer.iloc[len(context):].to_dict("records")

    def _score_one_by_one(self, accepted: list[tuple[Reading, list[float]]], quarantined: list[dict]) -> list[tuple[Reading, dict]]:
        out = []
        for reading, values in accepted:
            runtime = self.assets[reading.asset]
            context = [(reading.asset, ts, v) for ts, v in runtime.history]
            try:
                row = self._score_rows(context, [(reading.asset, reading.ts, values)], [reading.asset])[0]
            except MlflowException as err:
                quarantined.append({"reading_id": reading.id, "asset": reading.asset, "ts": reading.ts.isoformat(),
                                    "reason": f"the model refused it: {err.message}"})
                continue
            self._accept(reading, values)
            out.append((reading, row))
        return out

    def _accept(self, reading: Reading, values: list[float]) -> None:
        runtime = self.assets[reading.asset]
        runtime.history.append((reading.ts, values))
        runtime.last_ts = reading.ts


def run_watcher(watcher: Watcher, *, once: bool, poll_s: float, stop: threading.Event, follower: ChampionFollower | None = None,
                collector: Collector | None = None, max_backoff_s: float = 30.0) -> None:
    """Process batches until ``stop`` is set (``once``: until none is waiting), each after
    the ``collector`` (if any) took what is new. A lost store connection is retried with
    backoff (one line when it is lost, one when it is back); the state is then restored
    from the store. A model the ``follower`` loaded is swapped in between batches."""
    watcher.restore()
    watcher.store.listen()
    lost_at, attempts = None, 0
    while not stop.is_set():
        try:
            if lost_at is not None:
                watcher.store = Store(watcher.store.url)
                watcher.store.listen()
                watcher.restore()
                log.warning("store back after %.1f s (%d attempt(s)): resuming after reading %d", time.monotonic() - lost_at, attempts, watcher.position)
                lost_at, attempts = None, 0
            ready = follower.take() if follower is not None else None
            if ready is not None:
                watcher.swap_model(ready)
            if collector is not None:
                collector.collect(watcher.store)
            if watcher.process_batch():
                continue
            if once:
                return
            watcher.store.wait_for_readings(poll_s)
        except Exception as err:
            if not _connection_error(err):
                raise
            if lost_at is None:
                lost_at = time.monotonic()
                log.warning("store unreachable (%s): reconnecting with backoff", str(err).strip().splitlines()[0])
            attempts += 1
            stop.wait(min(2.0 ** (attempts - 1) * 0.5, max_backoff_s))


def _connection_error(err: Exception) -> bool:
    """The store went away (PostgreSQL restarting, a network drop), as opposed to a bug."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(err, (psycopg.OperationalError, psycopg.InterfaceError))
