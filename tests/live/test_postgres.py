"""The watcher on a real PostgreSQL: the insert trigger's NOTIFY wakes it (no polling),
streamed scores equal batch scores, and a PostgreSQL restart under it costs nothing: it
reconnects with backoff, catches up, scores every reading once and says so in one line."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.live.store import Store
from components.live.watcher import Watcher, run_watcher
from tests.live.helpers import insert, loaded, readings, scores, wait_until


def _scored(url: str) -> int:
    with Store(url) as live:
        return live.execute("SELECT count(*) FROM scores")[0][0]


@pytest.fixture
def watching(postgres_url):
    """A watcher thread on a fresh database that only a NOTIFY wakes before 60 s."""
    with Store(postgres_url) as live:
        live.init()
    model = loaded()
    watcher = Watcher(Store(postgres_url), model, batch_readings=50)
    stop = threading.Event()
    thread = threading.Thread(target=run_watcher, args=(watcher,), kwargs={"once": False, "poll_s": 60.0, "stop": stop})
    thread.start()
    yield postgres_url, model
    stop.set()
    with Store(postgres_url) as live:
        live.execute("SELECT pg_notify('anomflow_readings', '')")
    thread.join(65)


def test_a_notify_wakes_the_watcher_and_streamed_scores_equal_batch_scores(watching):
    url, model = watching
    frame = readings()
    with Store(url) as writer:
        for start in range(0, len(frame), 100):
            insert(writer, frame.iloc[start : start + 100])
            began = time.monotonic()
            wait_until(lambda: _scored(url) == min(start + 100, len(frame)), 20, "the inserted readings scored")
            waited = time.monotonic() - began
            assert waited < 10  # woken by the trigger, not by the 60 s poll
        got = scores(writer)
    expected = model.served.predict(None, frame)
    np.testing.assert_allclose(got["score"].to_numpy(float), expected["score"].to_numpy(float), rtol=1e-6, equal_nan=True)
    assert got["alarm"].tolist() == expected["alarm"].tolist()


def test_a_postgres_restart_under_the_watcher_loses_and_repeats_nothing(watching, postgres, caplog):
    url, model = watching
    frame = readings()
    caplog.set_level(logging.WARNING, logger="anomflow.watch")
    with Store(url) as writer:
        insert(writer, frame.iloc[:120])
    wait_until(lambda: _scored(url) == 120, 30, "the first 120 readings scored")
    postgres.restart(down_s=2.0)
    with Store(url) as writer:
        insert(writer, frame.iloc[120:])
        writer.execute("SELECT pg_notify('anomflow_readings', '')")
    wait_until(lambda: _scored(url) == len(frame), 60, "every reading scored after the restart")
    with Store(url) as live:
        got = scores(live)
    assert got["reading_id"].tolist() == list(range(1, len(frame) + 1))
    np.testing.assert_allclose(got["score"].to_numpy(float), model.served.predict(None, frame)["score"].to_numpy(float), rtol=1e-6, equal_nan=True)
    lost = [r.getMessage() for r in caplog.records if "store unreachable" in r.getMessage()]
    back = [r.getMessage() for r in caplog.records if "store back after" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1, caplog.text
    assert "resuming after reading 120" in back[0]


DASHBOARD = Path(__file__).resolve().parents[2] / "conf" / "grafana" / "anomflow-live.json"


def _as_grafana_sends(sql: str, asset: str, start: str, end: str) -> str:
    """The panel SQL with Grafana's substitutions: the ``$asset`` variable and the
    PostgreSQL data source's ``$__timeFilter(column)`` macro."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m.group(1)} BETWEEN '{start}' AND '{end}'", sql)
    return sql.replace("$asset", asset)


def test_the_grafana_dashboard_s_queries_run_on_the_real_tables(postgres_url):
    frame = readings()
    with Store(postgres_url) as live:
        live.init()
        insert(live, frame)
        live.insert_readings([("pump-1", frame["timestamp"].iloc[-1] + pd.Timedelta(minutes=1), {"x0": "bad", "x1": 1.0, "x2": 1.0})])
        watcher = Watcher(live, loaded())
        run_watcher(watcher, once=True, poll_s=0.1, stop=threading.Event())
        dashboard = json.loads(DASHBOARD.read_text())
        (variable,) = dashboard["templating"]["list"]
        assert live.execute(variable["query"]) == [("pump-1",)]
        start = frame["timestamp"].iloc[0].isoformat()
        answers = {}
        for panel in dashboard["panels"]:
            (target,) = panel["targets"]
            sql = _as_grafana_sends(target["rawSql"], "pump-1", start, "2100-01-01T00:00:00Z")
            cursor = live.conn.execute(sql)
            answers[panel["id"]] = ([d.name for d in cursor.description], cursor.fetchall())
    fleet_columns, fleet = answers[1]
    assert len(fleet) == 1 and fleet[0][fleet_columns.index("asset")] == "pump-1"
    sensor_columns, sensor_rows = answers[2]
    assert sensor_columns == ["time", "metric", "value"] and len(sensor_rows) == 3 * len(frame) + 2  # the bad reading's text left out
    assert sorted({m for _, m, _ in sensor_rows}) == ["x0", "x1", "x2"]
    score_columns, score_rows = answers[3]
    assert score_columns == ["time", "score", "alarm"] and len(score_rows) == len(frame) and {r[2] for r in score_rows} >= {0, 1}
    alert_columns, alert_rows = answers[4]
    assert alert_rows and alert_columns[:3] == ["id", "state", "level"]
    quarantine_columns, quarantined = answers[5]
    assert len(quarantined) == 1 and "not a number" in quarantined[0][quarantine_columns.index("reason")]
