"""A local fake of Grafana's ``POST /api/ds/query`` for tests.

It speaks the documented wire format (``shared/datasets/grafana/GRAFANA_CSV_FORMAT.md``):
bearer-token auth (401 ``{"message": "invalid API key"}`` on a wrong one), DataFrameJSON
frames with column-major ``values``, epoch-ms time, NaN/±Inf moved out of ``values`` into
``entities``, and per-refId errors answered with HTTP 400.

Usage::

    responses = {"up": {"frames": [series_frame("A", [t0, t1], [1.0, nan], labels={"job": "x"})]},
                 "bad(": error_result("parse error")}
    with FakeGrafana(token="t", responses=responses) as grafana:
        query_grafana(grafana.url, [{"refId": "A", "expr": "up"}], ...)
        grafana.requests  # the JSON bodies received

Each query's ``expr`` selects its result in ``responses``; an unknown ``expr`` is a 400
per-refId error, as a real data source would answer a bad query. A result may be fixed
frames, or a :class:`ScrapedSeries`, answered as Grafana's Prometheus data source answers
a range query: at the step the request's range and resolution give.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def series_frame(
    ref_id: str,
    times_ms: Sequence[int],
    values: Sequence[float | None],
    *,
    labels: Mapping[str, str] | None = None,
    name: str = "Value",
    display_name: str | None = None,
) -> dict[str, Any]:
    """One Prometheus-style DataFrameJSON: a time field and one labelled value field."""
    entities: dict[str, list[int]] = {"NaN": [], "Inf": [], "NegInf": []}
    encoded: list[float | None] = []
    for i, v in enumerate(values):
        if v is not None and math.isnan(v):
            entities["NaN"].append(i)
        elif v is not None and math.isinf(v):
            entities["Inf" if v > 0 else "NegInf"].append(i)
        else:
            encoded.append(v)
            continue
        encoded.append(None)
    config: dict[str, Any] = {"displayNameFromDS": display_name} if display_name else {}
    return {
        "schema": {
            "refId": ref_id,
            "meta": {"type": "timeseries-multi", "typeVersion": [0, 1]},
            "fields": [
                {"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}, "config": {"interval": 15000}},
                {"name": name, "type": "number", "typeInfo": {"frame": "float64", "nullable": True},
                 "labels": dict(labels or {}), "config": config},
            ],
        },
        "data": {
            "values": [list(times_ms), encoded],
            "entities": [None, entities if any(entities.values()) else None],
        },
    }


def error_result(message: str, status: int = 400) -> dict[str, Any]:
    """A per-refId error as Grafana reports it."""
    return {"status": status, "error": message, "errorSource": "downstream", "frames": []}


class ScrapedSeries:
    """A series scraped every ``scrape_ms`` from ``start_ms`` to ``end_ms`` (value: the
    sample's index), answered like Grafana's Prometheus data source: step = the largest of
    the scrape interval, the query's ``intervalMs`` (Grafana's default 1000) and its range
    over ``maxDataPoints`` (default 100); points at multiples of the step within the range,
    each the last sample at or before it; more than 11,000 points is Prometheus's error."""

    def __init__(self, ref_id: str, start_ms: int, end_ms: int, scrape_ms: int, labels: Mapping[str, str]):
        self.ref_id, self.start_ms, self.end_ms, self.scrape_ms, self.labels = ref_id, start_ms, end_ms, scrape_ms, labels

    def result(self, query: Mapping[str, Any], from_ms: int, to_ms: int) -> dict[str, Any]:
        step = max(self.scrape_ms, int(query.get("intervalMs", 1000)), math.ceil((to_ms - from_ms) / int(query.get("maxDataPoints", 100))))
        points = range(math.ceil(from_ms / step) * step, to_ms + 1, step)
        if len(points) > 11_000:
            return error_result("bad_data: exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
        times = [t for t in points if self.start_ms <= t <= self.end_ms]
        return {"frames": [series_frame(self.ref_id, times, [float((t - self.start_ms) // self.scrape_ms) for t in times], labels=self.labels)]}


_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _epoch_ms(text: str) -> int:
    """The request's ``from``/``to``: epoch ms, ``now`` or ``now-<n><s|m|h|d>``."""
    if text.isdigit():
        return int(text)
    now = int(time.time() * 1000)
    return now if text == "now" else now - int(text[4:-1]) * _UNIT_MS[text[-1]]


class FakeGrafana:
    """``ThreadingHTTPServer`` on 127.0.0.1 (free port) in a daemon thread; a context manager."""

    def __init__(self, *, token: str, responses: Mapping[str, Mapping[str, Any] | ScrapedSeries]):
        self.token = token
        self.responses = dict(responses)
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON response for one request body."""
        results = {}
        for query in body.get("queries", []):
            ref = query.get("refId", "A")
            result = self.responses.get(query.get("expr"), error_result(f"unknown expr {query.get('expr')!r}"))
            if isinstance(result, ScrapedSeries):
                result = result.result(query, _epoch_ms(body["from"]), _epoch_ms(body["to"]))
            results[ref] = {"status": 200, **result}
        failed = any("error" in r for r in results.values())
        return (400 if failed else 200), {"results": results}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, payload: Mapping[str, Any]) -> None:
                data = json.dumps(payload, allow_nan=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path != "/api/ds/query":
                    self._send(404, {"message": "Not found"})
                elif self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"message": "invalid API key", "traceID": ""})
                else:
                    fake.requests.append(body)
                    self._send(*fake.answer(body))

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr
                pass

        return Handler
