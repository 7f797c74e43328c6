"""The alert lifecycle (pending → firing → escalated → resolved, one alert per episode),
acknowledgements, the notification outbox (once per event, retried with backoff while a
receiver is down, never holding up scoring) and the HTTP endpoints."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import requests

from components.live.alerts import AssetAlerts, BatchAlerts, step
from components.live.metrics import WatchMetrics, serve_http
from components.live.notify import AlertmanagerReceiver, Deliverer, NotifyConfig, WebhookReceiver, backoff_s
from components.live.store import Store
from components.live.watcher import Watcher
from tests.live.helpers import insert, loaded, readings

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def _run(rows: list[tuple[str, str]]) -> tuple[BatchAlerts, AssetAlerts]:
    """Step one asset's tracker through (level, alarm) rows; scores rise with the level."""
    tracker, out = AssetAlerts(), BatchAlerts()
    for i, (level, alarm) in enumerate(rows):
        score = {"normal": 0.1, "warning": 1.0, "critical": 2.0}.get(level)
        step(tracker, 100 + i, "pump-1", T0 + pd.Timedelta(minutes=i), score, level, alarm, [f"s{i}"], "m/1", out)
    return out, tracker


def test_an_alert_goes_pending_firing_escalated_resolved_once_per_episode():
    out, tracker = _run([
        ("normal", "normal"), ("warning", "normal"), ("warning", "normal"), ("warning", "warning"),
        ("critical", "warning"), ("critical", "critical"), ("sensor_fault", "critical"), ("normal", "critical"),
        ("normal", "normal"), ("normal", "normal"),
    ])
    assert [e.event for e in out.events] == ["firing", "escalated", "resolved"]
    alert = out.written[101]
    assert alert["state"] == "resolved" and alert["level"] == "critical"
    assert alert["started_at"] == T0 + pd.Timedelta(minutes=1)
    assert alert["fired_at"] == T0 + pd.Timedelta(minutes=3)
    assert alert["ended_at"] == T0 + pd.Timedelta(minutes=8)
    assert alert["peak_score"] == 2.0 and alert["top_sensors"] == ["s4"]  # the first reading at the peak
    assert tracker.open is None and out.cancelled == []


def test_a_pending_alert_that_never_fires_is_dropped_without_a_notification():
    out, tracker = _run([("warning", "normal"), ("warning", "normal"), ("normal", "normal"), ("warning", "normal")])
    assert out.events == [] and out.cancelled == [100]
    assert list(out.written) == [103] and out.written[103]["state"] == "pending"
    assert tracker.open["id"] == 103


def test_a_tracker_survives_its_json_round_trip():
    out, tracker = _run([("warning", "warning")])
    again = AssetAlerts.from_json(json.loads(json.dumps(tracker.to_json())))
    assert again.open == tracker.open


def test_the_backoff_doubles_up_to_its_cap():
    assert [backoff_s(n, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


class _Receiver:
    """A local HTTP receiver that records JSON posts; ``down`` answers 503."""

    def __init__(self) -> None:
        self.posts: list = []
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 503 if outer.down else 200
                if not outer.down:
                    outer.posts.append((self.path, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    r = _Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path}/live.db") as live:
        live.init()
        yield live


def test_each_event_is_notified_once_retried_while_the_receiver_is_down(store, receiver):
    config = NotifyConfig(webhook_url=receiver.url + "/hook", alertmanager_url=receiver.url, max_backoff_s=0.01)
    targets = [AlertmanagerReceiver(config.alertmanager_url, config.resend_s), WebhookReceiver(config.webhook_url)]
    insert(store, readings())
    watcher = Watcher(store, loaded(), targets, batch_readings=40)
    watcher.restore()
    receiver.down = True
    while watcher.process_batch():  # scoring never waits for a receiver
        pass
    deliverer = Deliverer(store.url, config, threading.Event())
    assert deliverer.deliver_due(store) == 0
    failed = store.execute("SELECT attempts, last_error FROM notifications")
    assert failed and all(a == 1 and "503" in e for a, e in failed)
    receiver.down = False
    import time

    time.sleep(0.05)  # past the backoff
    events = store.execute("SELECT event FROM notifications WHERE receiver = 'webhook' ORDER BY id")
    assert deliverer.deliver_due(store) == len(failed)
    assert deliverer.deliver_due(store) == 0  # delivered once
    hooks = [body for path, body in receiver.posts if path == "/hook"]
    assert [h["event"] for h in hooks] == [e for (e,) in events] and {"firing", "resolved"} <= {e for (e,) in events}
    assert len({h["dedupe_key"] for h in hooks}) == len(hooks)
    manager = [body for path, body in receiver.posts if path == "/api/v2/alerts"]
    firing = manager[0][0]
    assert firing["labels"]["alertname"] == "AnomflowAnomaly" and firing["labels"]["asset"] == "pump-1"
    assert pd.Timestamp(firing["endsAt"]) > pd.Timestamp.now(tz="UTC")  # kept firing until re-posted or resolved
    # the batch scored again (as after a crash before its commit landed elsewhere) adds no outbox row
    before = store.execute("SELECT count(*) FROM notifications")
    again = Watcher(store, loaded(), targets, batch_readings=40)
    store.execute("DELETE FROM scores")
    store.execute("DELETE FROM watcher")
    again.restore()
    while again.process_batch():
        pass
    assert store.execute("SELECT count(*) FROM notifications") == before


def test_an_acknowledgement_is_kept_when_the_watcher_updates_the_alert(store):
    frame = readings()
    insert(store, frame.iloc[:160])
    watcher = Watcher(store, loaded(), batch_readings=1000)
    watcher.restore()
    watcher.process_batch()
    (alert,) = store.alerts(open_only=True)
    acked = store.acknowledge(alert["id"], "false_alarm", "ana")
    assert (acked["ack"], acked["ack_by"]) == ("false_alarm", "ana")
    insert(store, frame.iloc[160:])
    watcher.process_batch()
    final = store.alert(alert["id"])
    assert final["state"] == "resolved" and final["ack"] == "false_alarm" and final["ack_at"] is not None
    with pytest.raises(KeyError):
        store.acknowledge(999_999, "confirmed", "ana")


def test_the_http_endpoints_answer_metrics_health_and_open_alerts(store):
    frame = readings()
    insert(store, frame.iloc[:160])
    metrics = WatchMetrics()
    watcher = Watcher(store, loaded(), metrics=metrics)
    watcher.restore()
    watcher.process_batch()
    server = serve_http(0, metrics, lambda: {"status": "ok", "position": watcher.position}, lambda: [
        {k: str(v) for k, v in a.items()} for a in Store(store.url).alerts(open_only=True)
    ])
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        text = requests.get(base + "/metrics", timeout=5).text
        assert 'anomflow_level{asset="pump-1"}' in text and "anomflow_readings_scored_total 160.0" in text
        assert 'anomflow_model_info{version="anomflow-detector/1"} 1.0' in text
        assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok", "position": 160}
        assert [a["asset"] for a in requests.get(base + "/alerts", timeout=5).json()] == ["pump-1"]
        assert requests.get(base + "/nothing", timeout=5).status_code == 404
    finally:
        server.shutdown()
