"""Each asset's alert lifecycle, from its scored readings in time order:
pending → firing (warning, then critical on escalation) → resolved, one alert per episode.

A reading's ``level`` is its score against the thresholds; its ``alarm`` is the level
after the model's alarm rule (raised once a level held for ``raise_after`` readings,
cleared after ``clear_after`` below it: :mod:`components.scoring.alarms`, Prometheus'
``for`` and ``keep_firing_for``). So:

- no open alert, a reading at warning or above: an alert opens, *pending* (its id is the
  reading's id);
- pending, the level back to normal before the alarm is raised: the pending alert is
  dropped (as Prometheus drops a pending alert; no notification was sent);
- the alarm raised: *firing* at the alarm's level (a ``firing`` event);
- firing at warning, the alarm at critical: the alert's level becomes critical (an
  ``escalated`` event); it never falls back within the episode;
- firing, the alarm cleared: *resolved* (a ``resolved`` event), ``ended_at`` that reading.

Readings without a score (insufficient history, sensor fault) neither open nor end an
alert. The alert's ``peak_score`` is the highest score of the episode and ``top_sensors``
those of the reading that set it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from components.live.store import alert_as_json

LEVEL_RANK = {"normal": 0, "warning": 1, "critical": 2}


@dataclass
class AlertEvent:
    """A change to notify: ``event`` is ``firing``, ``escalated`` or ``resolved``; ``alert`` the alert after it."""

    event: str
    alert: dict


@dataclass
class AssetAlerts:
    """One asset's open alert (None: none), as carried between batches and restarts."""

    open: dict | None = None

    def to_json(self) -> Any:
        return None if self.open is None else alert_as_json(self.open)

    @classmethod
    def from_json(cls, value: Any) -> "AssetAlerts":
        if not value:
            return cls()
        alert = dict(value)
        for key in ("started_at", "fired_at", "ended_at"):
            alert[key] = pd.Timestamp(alert[key]) if alert.get(key) else None
        return cls(alert)


@dataclass
class BatchAlerts:
    """What a batch did to the alerts: the alerts to write (last state of each), the pending
    ones dropped, and the events to notify, in order."""

    written: dict[int, dict] = field(default_factory=dict)
    cancelled: list[int] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)


def step(tracker: AssetAlerts, reading_id: int, asset: str, ts: pd.Timestamp, score: float | None, level: str, alarm: str,
         top_sensors: list[str], model_version: str, out: BatchAlerts) -> None:
    """Advance ``tracker`` by one scored reading (module doc), recording changes in ``out``."""
    alert = tracker.open
    if alert is None:
        if LEVEL_RANK.get(level, 0) == 0 and LEVEL_RANK[alarm] == 0:
            return
        alert = tracker.open = {
            "id": reading_id, "asset": asset, "state": "pending", "level": level if level in LEVEL_RANK else alarm,
            "started_at": ts, "fired_at": None, "ended_at": None, "peak_score": score, "top_sensors": list(top_sensors),
            "model_version": model_version,
        }
    if score is not None and (alert["peak_score"] is None or score > alert["peak_score"]):
        alert["peak_score"], alert["top_sensors"] = score, list(top_sensors)
    if alert["state"] == "pending":
        if LEVEL_RANK[alarm] > 0:
            alert.update(state="firing", level=alarm, fired_at=ts, model_version=model_version)
            out.events.append(AlertEvent("firing", dict(alert)))
        elif level == "normal":
            out.written.pop(alert["id"], None)
            out.cancelled.append(alert["id"])
            tracker.open = None
            return
    elif LEVEL_RANK[alarm] > LEVEL_RANK[alert["level"]]:
        alert.update(level=alarm)
        out.events.append(AlertEvent("escalated", dict(alert)))
    elif LEVEL_RANK[alarm] == 0:
        alert.update(state="resolved", ended_at=ts)
        out.events.append(AlertEvent("resolved", dict(alert)))
        tracker.open = None
    out.written[alert["id"]] = dict(alert)
