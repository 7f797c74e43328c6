"""The watcher's Prometheus metrics and its HTTP endpoints: ``/metrics`` (Prometheus text
format), ``/healthz`` (JSON: model version, position, lag, last reading) and ``/alerts``
(JSON: the open alerts, read from the store)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

LEVEL_VALUE = {"normal": 0, "warning": 1, "critical": 2}


class WatchMetrics:
    """Per asset: latest score, level and alarm (0 normal, 1 warning, 2 critical, -1 no
    score); readings scored and quarantined; lag (seconds from the newest processed
    reading's insertion to its scoring); the model version."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.score = Gauge("anomflow_score", "latest anomaly score per asset", ["asset"], registry=self.registry)
        self.level = Gauge("anomflow_level", "latest level per asset: 0 normal, 1 warning, 2 critical, -1 unscored", ["asset"], registry=self.registry)
        self.alarm = Gauge("anomflow_alarm", "latest alarm per asset: 0 normal, 1 warning, 2 critical", ["asset"], registry=self.registry)
        self.scored = Counter("anomflow_readings_scored", "readings scored", registry=self.registry)
        self.quarantined = Counter("anomflow_readings_quarantined", "readings quarantined", registry=self.registry)
        self.lag = Gauge("anomflow_lag_seconds", "seconds from the newest processed reading's insertion to its scoring", registry=self.registry)
        self.open_alerts = Gauge("anomflow_open_alerts", "alerts pending or firing", registry=self.registry)
        self.version = Gauge("anomflow_model_info", "the model scoring (value 1)", ["version"], registry=self.registry)
        self.readings_scored = 0
        self.readings_quarantined = 0
        self.last_reading: pd.Timestamp | None = None
        self.model_version: str | None = None
        self.lag_s = 0.0

    def model(self, version: str) -> None:
        self.version.clear()
        self.version.labels(version=version).set(1)
        self.model_version = version

    def caught_up(self) -> None:
        self.lag.set(0.0)
        self.lag_s = 0.0

    def batch(self, scores: list[dict], quarantined: int, inserted_at: pd.Timestamp, open_alerts: dict) -> None:
        for row in scores:  # the last row of an asset sets its gauges
            self.score.labels(asset=row["asset"]).set(row["score"] if row["score"] is not None else float("nan"))
            self.level.labels(asset=row["asset"]).set(LEVEL_VALUE.get(row["level"], -1))
            self.alarm.labels(asset=row["asset"]).set(LEVEL_VALUE[row["alarm"]])
        self.scored.inc(len(scores))
        self.quarantined.inc(quarantined)
        self.readings_scored += len(scores)
        self.readings_quarantined += quarantined
        self.lag_s = max((pd.Timestamp.now(tz="UTC") - inserted_at).total_seconds(), 0.0)
        self.lag.set(self.lag_s)
        self.open_alerts.set(len(open_alerts))
        if scores:
            self.last_reading = scores[-1]["ts"]


def serve_http(port: int, metrics: WatchMetrics, health: Callable[[], dict], alerts: Callable[[], list[dict]]) -> ThreadingHTTPServer:
    """Start the endpoints on ``port`` (0: any free one) in a daemon thread; returns the
    server (``server_address[1]`` is the port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, json.dumps(health()).encode(), "application/json")
            elif path == "/alerts":
                self._send(200, json.dumps(alerts(), default=str).encode(), "application/json")
            else:
                self._send(404, b'{"error": "not found: try /metrics, /healthz or /alerts"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet: Prometheus scrapes often
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="anomflow-http", daemon=True).start()
    return server
