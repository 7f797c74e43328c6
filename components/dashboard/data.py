"""What the operator dashboard shows, read from the live store only (so it runs beside a
watcher anywhere): the fleet's latest levels, an asset's recent readings and scores, alerts,
the model scoring, and KPIs computed from an asset's sensors.

Every query reads through an index (``assets`` is one row an asset; readings and scores by
``(asset, ts)``; alerts by ``(asset, started_at)`` and ``state``), so a refresh costs the
same however long the store's history is (``benchmarks/dashboard_refresh.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from components.dashboard.config import KpiConfig
from components.live.store import Store

LEVEL_ORDER = {"critical": 0, "warning": 1, "sensor_fault": 2, "normal": 3, "insufficient_history": 4}


def fleet(store: Store, now: pd.Timestamp, stale_after_s: float) -> pd.DataFrame:
    """One row an asset: its latest ``ts``, ``score``, ``level``, ``alarm``, ``top_sensors``,
    ``stale`` (no score for ``stale_after_s``: a feed or watcher that stopped is not shown
    as normal), and its latest alert (``alert_id``, ``alert_state``, ``alert_level``,
    ``alert_started``); sorted alarms first, then by score."""
    rows = store.execute(
        "SELECT s.asset, s.ts, s.score, s.level, s.alarm, s.top_sensors, s.scored_at, a.id, a.state, a.level, a.started_at "
        "FROM assets s LEFT JOIN alerts a ON a.asset = s.asset AND a.started_at = "
        "(SELECT max(b.started_at) FROM alerts b WHERE b.asset = s.asset)"
    )
    columns = ["asset", "ts", "score", "level", "alarm", "top_sensors", "scored_at", "alert_id", "alert_state", "alert_level", "alert_started"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("ts", "scored_at", "alert_started"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["top_sensors"] = [json.loads(t) if isinstance(t, str) else t for t in frame["top_sensors"]]
    frame["stale"] = (now - frame["scored_at"]).dt.total_seconds() > stale_after_s
    frame["alert_id"] = frame["alert_id"].astype("Int64")
    order = frame["alarm"].map(LEVEL_ORDER).fillna(9) * 10 + frame["level"].map(LEVEL_ORDER).fillna(9)
    return frame.assign(_order=order).sort_values(["_order", "score"], ascending=[True, False], na_position="last").drop(columns="_order").reset_index(drop=True)


def asset_readings(store: Store, asset: str, since: pd.Timestamp) -> pd.DataFrame:
    """The asset's readings from ``since``: ``ts`` and one column per sensor."""
    rows = store.execute("SELECT ts, sensors FROM readings WHERE asset = ? AND ts >= ? ORDER BY ts", (asset, store.db_time(since)))
    values = pd.DataFrame([json.loads(s) if isinstance(s, str) else s for _, s in rows])
    values = values.apply(pd.to_numeric, errors="coerce") if len(values) else values
    values.insert(0, "ts", pd.to_datetime([t for t, _ in rows], utc=True, format="ISO8601"))
    return values


def asset_scores(store: Store, asset: str, since: pd.Timestamp) -> pd.DataFrame:
    """The asset's scores from ``since``: ``ts``, ``score``, ``level``, ``alarm``, ``top_sensors``."""
    rows = store.execute("SELECT ts, score, level, alarm, top_sensors FROM scores WHERE asset = ? AND ts >= ? ORDER BY ts",
                         (asset, store.db_time(since)))
    frame = pd.DataFrame(rows, columns=["ts", "score", "level", "alarm", "top_sensors"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    frame["score"] = frame["score"].astype(float)
    frame["top_sensors"] = [json.loads(t) if isinstance(t, str) else t for t in frame["top_sensors"]]
    return frame


def last_ts(store: Store, asset: str) -> pd.Timestamp | None:
    """The time of the asset's latest reading (its feed's clock, which a replay sets)."""
    rows = store.execute("SELECT max(ts) FROM readings WHERE asset = ?", (asset,))
    return pd.Timestamp(rows[0][0]).tz_convert("UTC") if rows and rows[0][0] is not None else None


def top_sensor_counts(scores: pd.DataFrame, sensors: list[str], bucket: str) -> pd.DataFrame:
    """(buckets, sensors): how often each sensor was among a scored reading's top sensors,
    per time bucket (a heat map of what drove the score over time)."""
    scored = scores[scores["score"].notna()]
    if scored.empty:
        return pd.DataFrame(columns=sensors)
    exploded = scored[["ts", "top_sensors"]].explode("top_sensors").dropna()
    counts = exploded.groupby([exploded["ts"].dt.floor(bucket), "top_sensors"]).size().unstack(fill_value=0)
    return counts.reindex(columns=[s for s in sensors if s in counts.columns] + [s for s in counts.columns if s not in sensors], fill_value=0)


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    help: str


def kpis(readings: pd.DataFrame, config: KpiConfig) -> list[Kpi]:
    """The KPIs the asset's sensors allow, over ``readings`` (its recent ones), each with its unit."""
    out: list[Kpi] = []
    latest = readings.ffill().iloc[-1] if len(readings) else pd.Series(dtype=float)
    if config.temperature in readings and pd.notna(latest.get(config.temperature)):
        out.append(Kpi("temperature", f"{latest[config.temperature]:.1f} °C", f"latest {config.temperature}"))
    if config.vibration in readings and pd.notna(latest.get(config.vibration)):
        out.append(Kpi("vibration", f"{latest[config.vibration]:.2f} mm/s", f"latest {config.vibration}"))
        frequency = dominant_frequency(readings["ts"], readings[config.vibration])
        if frequency is not None:
            out.append(Kpi("dominant vibration frequency", f"{frequency:.2f} /h",
                           f"peak of {config.vibration}'s periodogram over the window shown (cycles per hour)"))
    energy = cumulative_energy_kwh(readings, config)
    if energy is not None:
        out.append(Kpi("energy", f"{energy:,.1f} kWh", "∫ " + ("√3·" if config.three_phase else "") + "V·I·PF dt over the window shown"))
    return out


def dominant_frequency(times: pd.Series, values: pd.Series, min_points: int = 64) -> float | None:
    """The frequency (cycles per hour) of the highest peak of the readings' periodogram
    (mean removed, gaps interpolated), or None with fewer than ``min_points`` readings."""
    from scipy.signal import periodogram

    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(times)).interpolate(limit_direction="both")
    if series.notna().sum() < min_points:
        return None
    step_s = float(pd.Series(series.index).diff().dt.total_seconds().median())
    if step_s <= 0:
        return None
    frequencies, power = periodogram(series.to_numpy() - series.mean(), fs=3600.0 / step_s)
    return float(frequencies[1:][np.argmax(power[1:])]) if len(power) > 1 else None


def cumulative_energy_kwh(readings: pd.DataFrame, config: KpiConfig) -> float | None:
    """Energy over ``readings``: power V·I·PF (×√3 for three-phase line values) integrated
    over time (trapezoids; a gap longer than ten median steps adds nothing), in kWh; None
    without the three sensors."""
    columns = (config.current, config.voltage, config.power_factor)
    if len(readings) < 2 or any(c not in readings for c in columns):
        return None
    power_w = readings[config.current] * readings[config.voltage] * readings[config.power_factor] * (np.sqrt(3) if config.three_phase else 1.0)
    seconds = readings["ts"].diff().dt.total_seconds().to_numpy()[1:]
    step = np.median(seconds)
    pieces = 0.5 * (power_w.to_numpy()[1:] + power_w.to_numpy()[:-1]) * seconds
    return float(np.nansum(np.where(seconds <= 10 * step, pieces, 0.0)) / 3.6e6)


def levels_of(model: dict, asset: str) -> dict:
    """The alarm levels of ``asset``'s scores in the store's model record (the watcher's
    ``describe()``): its group model's under a fleet router, else the model's."""
    for group in (model.get("groups") or {}).values():
        if asset in group.get("assets", []):
            return group.get("thresholds", {})
    return model.get("thresholds", {})
