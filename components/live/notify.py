"""Notifications of alert events: Prometheus Alertmanager (API v2) and a plain JSON webhook.

Delivery is *at least once* through the store's outbox: the watcher writes one row per
event and receiver in the same transaction as the scores that caused it (unique by its
``dedupe_key``, so a batch scored again after a restart adds none), and a
:class:`Deliverer` thread posts due rows, retrying a failed one with exponential backoff
(:func:`backoff_s`) without ever holding up scoring. A row is marked delivered only after
its receiver answered 2xx; a receiver may see a row again only if the watcher was killed
between that answer and the mark, and then with the same ``dedupe_key`` (webhook) or the
same labels (Alertmanager, which merges it).

Alertmanager: a firing alert is posted with ``endsAt`` ``resend_s × 4`` ahead and posted
again every ``resend_s`` while it fires (as Prometheus does), so an alert whose watcher
stopped resolves by itself; a resolved one with ``endsAt`` its end. Labels: ``alertname``
``AnomflowAnomaly``, ``asset``, ``severity`` (the level), ``alert_id``; on escalation the
warning alert is posted resolved and the critical one firing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import pandas as pd
import requests
from pydantic import BaseModel, ConfigDict, Field

from components.live.alerts import AlertEvent
from components.live.store import Store

log = logging.getLogger("anomflow.watch")
ALERTNAME = "AnomflowAnomaly"
TIMEOUT_S = 5.0


class NotifyConfig(BaseModel):
    """``watch.notify``: where alert events go (none by default)."""

    model_config = ConfigDict(extra="forbid")

    alertmanager_url: str | None = Field(None, description="Alertmanager base URL, e.g. http://localhost:9093")
    webhook_url: str | None = Field(None, description="URL that receives each event as a JSON POST")
    resend_s: float = Field(60.0, gt=0, description="Alertmanager: seconds between re-posts of a firing alert")
    max_backoff_s: float = Field(300.0, gt=0, description="longest wait between two attempts of a failed delivery")


def backoff_s(attempts: int, max_backoff_s: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: 1, 2, 4, … capped."""
    return min(2.0 ** max(attempts - 1, 0), max_backoff_s)


def _time(value: object) -> str | None:
    return None if value is None else pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Receiver(Protocol):
    name: str

    def payload(self, event: AlertEvent) -> object:
        """What to post for ``event`` (stored in the outbox, so a retry posts the same)."""

    def post(self, payload: object) -> None:
        """Deliver ``payload``; raise on anything but a 2xx answer."""


def _post_json(url: str, payload: object) -> None:
    answer = requests.post(url, json=payload, timeout=TIMEOUT_S)
    if answer.status_code // 100 != 2:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")


class WebhookReceiver:
    """POSTs ``{"dedupe_key", "event", "alert"}`` per event to ``url``."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self.url = url

    def payload(self, event: AlertEvent) -> object:
        alert = {k: (_time(v) if k.endswith("_at") else v) for k, v in event.alert.items()}
        return {"dedupe_key": dedupe_key(event, self.name), "event": event.event, "alert": alert}

    def post(self, payload: object) -> None:
        _post_json(self.url, payload)


class AlertmanagerReceiver:
    """POSTs to Alertmanager's ``/api/v2/alerts`` (module doc)."""

    name = "alertmanager"

    def __init__(self, url: str, resend_s: float) -> None:
        self.url, self.resend_s = url.rstrip("/") + "/api/v2/alerts", resend_s

    def alert(self, alert: dict, level: str, ends_at: object | None) -> dict:
        """One Alertmanager alert for ``alert`` at ``level``; ``ends_at`` None: firing."""
        return {
            "labels": {"alertname": ALERTNAME, "asset": alert["asset"], "severity": level, "alert_id": str(alert["id"])},
            "annotations": {
                "summary": f"{alert['asset']}: anomaly ({level})",
                "top_sensors": ", ".join(alert["top_sensors"]),
                "peak_score": f"{alert['peak_score']:.4g}" if alert["peak_score"] is not None else "",
                "model_version": str(alert["model_version"]),
            },
            "startsAt": _time(alert["fired_at"] or alert["started_at"]),
            "endsAt": _time(ends_at) if ends_at is not None else None,
        }

    def payload(self, event: AlertEvent) -> object:
        alert = event.alert
        if event.event == "resolved":
            return [self.alert(alert, alert["level"], alert["ended_at"])] + (
                [self.alert(alert, "warning", alert["ended_at"])] if alert["level"] == "critical" else []
            )
        firing = [self.alert(alert, alert["level"], None)]
        if event.event == "escalated":
            firing.append(self.alert(alert, "warning", pd.Timestamp.now(tz="UTC")))
        return firing

    def post(self, payload: object) -> None:
        until = _time(pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=4 * self.resend_s))
        _post_json(self.url, [a if a["endsAt"] else {**a, "endsAt": until} for a in payload])  # type: ignore[union-attr]


def receivers(config: NotifyConfig) -> list[Receiver]:
    out: list[Receiver] = []
    if config.alertmanager_url:
        out.append(AlertmanagerReceiver(config.alertmanager_url, config.resend_s))
    if config.webhook_url:
        out.append(WebhookReceiver(config.webhook_url))
    return out


def dedupe_key(event: AlertEvent, receiver: str) -> str:
    """One per alert, event, level and receiver: the same event written twice is one row."""
    return f"{event.alert['id']}:{event.event}:{event.alert['level']}:{receiver}"


def outbox_rows(events: list[AlertEvent], targets: list[Receiver]) -> list[dict]:
    """The outbox rows for ``events``, one per receiver."""
    return [
        {"dedupe_key": dedupe_key(e, r.name), "alert_id": e.alert["id"], "receiver": r.name, "event": e.event, "payload": r.payload(e)}
        for e in events for r in targets
    ]


class Deliverer(threading.Thread):
    """Posts due outbox rows (own store connection), retrying with backoff; re-posts firing
    alerts to Alertmanager every ``resend_s``. Stops when ``stop`` is set."""

    def __init__(self, store_url: str, config: NotifyConfig, stop: threading.Event, poll_s: float = 0.5) -> None:
        super().__init__(name="anomflow-notify", daemon=True)
        self.store_url, self.config, self.stop, self.poll_s = store_url, config, stop, poll_s
        self.targets = {r.name: r for r in receivers(config)}
        self.delivered = 0
        self.failures: dict[str, int] = {name: 0 for name in self.targets}

    def run(self) -> None:
        store, last_resend = None, 0.0
        while not self.stop.is_set():
            try:
                store = store or Store(self.store_url)
                self.deliver_due(store)
                manager = self.targets.get("alertmanager")
                if manager is not None and time.monotonic() - last_resend >= self.config.resend_s:
                    self.resend_firing(store, manager)  # type: ignore[arg-type]
                    last_resend = time.monotonic()
            except Exception as err:  # the store restarting: reconnect on the next round
                log.warning("notifications: %s; retrying", err)
                store = None
            self.stop.wait(self.poll_s)

    def deliver_due(self, store: Store) -> int:
        """Post every due outbox row once; returns how many were delivered."""
        delivered = 0
        for row in store.due_notifications():
            receiver = self.targets.get(row["receiver"])
            if receiver is None:  # a receiver removed from the config since: nothing to send it to
                store.mark_failed(row["id"], f"receiver {row['receiver']} is not configured", self.config.max_backoff_s)
                continue
            try:
                receiver.post(row["payload"])
            except Exception as err:
                self.failures[receiver.name] += 1
                wait = backoff_s(row["attempts"] + 1, self.config.max_backoff_s)
                log.warning("notification %s to %s failed (attempt %d, next in %.0f s): %s",
                            row["dedupe_key"], receiver.name, row["attempts"] + 1, wait, err)
                store.mark_failed(row["id"], str(err), wait)
                continue
            store.mark_delivered(row["id"])
            delivered += 1
        self.delivered += delivered
        return delivered

    def resend_firing(self, store: Store, manager: AlertmanagerReceiver) -> None:
        """Post every firing alert again, so Alertmanager keeps it active."""
        firing = [a for a in store.alerts(open_only=True, limit=10_000) if a["state"] == "firing"]
        if firing:
            try:
                manager.post([manager.alert(a, a["level"], None) for a in firing])
            except Exception as err:
                log.warning("re-posting %d firing alert(s) to Alertmanager failed: %s", len(firing), err)

