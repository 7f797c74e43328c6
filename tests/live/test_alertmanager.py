"""Notifications reach a real Prometheus Alertmanager through its API v2: a firing alert
is active there with the asset, severity and top sensors; a resolved one ends."""

from __future__ import annotations

import threading
import time

import pandas as pd

from components.live.notify import AlertmanagerReceiver, Deliverer, NotifyConfig
from components.live.store import Store
from components.live.watcher import Watcher
from tests.live.helpers import insert, loaded, readings


def test_firing_and_resolved_alerts_reach_alertmanager(tmp_path, alertmanager):
    config = NotifyConfig(alertmanager_url=alertmanager.url)
    frame = readings()
    with Store(f"sqlite:///{tmp_path}/live.db") as live:
        live.init()
        watcher = Watcher(live, loaded(), [AlertmanagerReceiver(alertmanager.url, config.resend_s)], batch_readings=1000)
        watcher.restore()
        insert(live, frame.iloc[:160])  # into the fault: the alert fires
        watcher.process_batch()
        deliverer = Deliverer(live.url, config, threading.Event())
        assert deliverer.deliver_due(live) >= 1
        (active,) = [a for a in alertmanager.alerts() if a["labels"]["alertname"] == "AnomflowAnomaly"]
        (alert,) = live.alerts(open_only=True)
        assert active["labels"]["asset"] == "pump-1" and active["labels"]["alert_id"] == str(alert["id"])
        assert active["labels"]["severity"] == alert["level"] and active["status"]["state"] == "active"
        assert active["annotations"]["top_sensors"] == ", ".join(alert["top_sensors"])
        insert(live, frame.iloc[160:])  # past the fault: resolved
        watcher.process_batch()
        deliverer.deliver_due(live)
        deadline = time.monotonic() + 10
        while any(a["labels"]["alert_id"] == str(alert["id"]) for a in alertmanager.alerts()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [a for a in alertmanager.alerts() if a["labels"]["alert_id"] == str(alert["id"])]
        assert live.alert(alert["id"])["ended_at"] < pd.Timestamp.now(tz="UTC")
