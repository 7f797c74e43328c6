"""How long a dashboard refresh takes with a plant's worth of history in the live store.

Usage (from the project root): .venv/bin/python benchmarks/dashboard_refresh.py [--assets 100 --days 1]

A SQLite store is filled with ``--assets`` assets × ``--days`` days of 1-minute readings
(seven sensors, the demo plant's names), their scores (each asset's latest in ``assets``)
and an alert every few hours an asset, as the watcher writes them. Each view of the app
(fleet, asset, alerts) is then run by Streamlit's app testing ``--repeats`` times: the
wall time of one run is what a refresh costs on the server (queries, KPIs, figures; the
browser's drawing is not included). The query plans (SQLite's EXPLAIN QUERY PLAN) are
recorded: every read uses an index. Writes reports/benchmarks/dashboard_refresh.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.benchmarks.environment import environment  # noqa: E402
from components.benchmarks.report_io import write_report  # noqa: E402
from components.dashboard.config import APP, STORE_ENV  # noqa: E402
from components.live.store import Store  # noqa: E402

SENSORS = ("current", "voltage", "power_factor", "motor_temperature", "vibration_rms", "discharge_pressure", "flow")


def fill(store: Store, assets: int, days: float, seed: int = 7) -> int:
    """Readings, scores, latest rows and alerts as a watcher leaves them; returns readings written."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-03-01", periods=int(days * 1440), freq="60s", tz="UTC")
    reading_id = 0
    for a in range(assets):
        asset = f"pump-{a + 1:03d}"
        values = 10 + rng.standard_normal((len(times), len(SENSORS)))
        store.insert_readings([(asset, t, dict(zip(SENSORS, v.tolist()))) for t, v in zip(times, values)])
        scores = rng.gamma(2.0, 0.2, len(times))
        rows = [{"reading_id": reading_id + i + 1, "asset": asset, "ts": t, "score": float(s), "level": "warning" if s > 1.2 else "normal",
                 "alarm": "warning" if s > 1.2 else "normal", "top_sensors": list(rng.choice(SENSORS, 3, replace=False)), "model_version": "anomflow-detector/1"}
                for i, (t, s) in enumerate(zip(times, scores))]
        alerts = [{"id": r["reading_id"], "asset": asset, "state": "resolved", "level": "warning", "started_at": r["ts"], "fired_at": r["ts"],
                   "ended_at": r["ts"] + pd.Timedelta(minutes=10), "peak_score": r["score"], "top_sensors": r["top_sensors"], "model_version": r["model_version"]}
                  for r in rows[::240]]
        store.commit_batch(reading_id + len(times), rows, [], {}, alerts, [], [])
        reading_id += len(times)
    store.set_model({"version": "anomflow-detector/1", "sensors": list(SENSORS), "window": 30, "thresholds": {"warning": 1.2, "critical": 2.0}})
    return reading_id


def query_plans(store: Store) -> dict[str, str]:
    """SQLite's plan of each dashboard query (the asset view's for the first asset)."""
    since = store.db_time(pd.Timestamp("2026-03-01", tz="UTC"))
    queries = {
        "fleet": ("SELECT s.asset, s.ts, a.id FROM assets s LEFT JOIN alerts a ON a.asset = s.asset AND a.started_at = "
                  "(SELECT max(b.started_at) FROM alerts b WHERE b.asset = s.asset)", ()),
        "asset readings": ("SELECT ts, sensors FROM readings WHERE asset = ? AND ts >= ? ORDER BY ts", ("pump-001", since)),
        "asset scores": ("SELECT ts, score, level, alarm, top_sensors FROM scores WHERE asset = ? AND ts >= ? ORDER BY ts", ("pump-001", since)),
        "asset last time": ("SELECT max(ts) FROM readings WHERE asset = ?", ("pump-001",)),
        "alerts": ("SELECT id FROM alerts ORDER BY started_at DESC, id DESC LIMIT 100", ()),
    }
    return {name: "; ".join(row[-1] for row in store.execute("EXPLAIN QUERY PLAN " + sql, params)) for name, (sql, params) in queries.items()}


def time_views(repeats: int) -> dict[str, dict]:
    """Seconds per run of each view, by Streamlit's app testing (the first run warms caches)."""
    from streamlit.testing.v1 import AppTest

    out = {}
    for view in ("Fleet", "Asset", "Alerts"):
        app = AppTest.from_file(str(APP), default_timeout=120)
        app.run()
        if view != "Fleet":
            app.sidebar.radio(key="view").set_value(view).run()
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            app.run()
            runs.append(time.perf_counter() - start)
            if app.exception:
                raise RuntimeError(f"{view}: {app.exception}")
        out[view.lower()] = {"median_s": float(np.median(runs)), "max_s": float(np.max(runs)), "runs": repeats}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/dashboard_refresh.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/live.db"
        with Store(url) as store:
            store.init()
            started = time.perf_counter()
            readings = fill(store, args.assets, args.days)
            fill_s = time.perf_counter() - started
            plans = query_plans(store)
        os.environ[STORE_ENV] = url
        views = time_views(args.repeats)
    report = {**environment(), "assets": args.assets, "days": args.days, "readings": readings, "fill_s": fill_s, "views": views, "query_plans": plans}
    write_report(report, args.out)
    for view, timing in views.items():
        print(f"{view}: median {timing['median_s'] * 1000:.0f} ms, max {timing['max_s'] * 1000:.0f} ms a refresh ({readings:,} readings stored)")
    for name, plan in plans.items():
        print(f"{name}: {plan}")


if __name__ == "__main__":
    main()
