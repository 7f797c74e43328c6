"""The watcher's own sources: a folder where exports appear (each file read once, after it
settled; a bad one logged and left in place) and Grafana's HTTP API polled from where the
last poll ended (no reading twice, none missed)."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pandas as pd
import pytest

from components.live.collectors import FolderCollector, GrafanaCollector
from components.live.config import FolderSource, GrafanaPollSource
from components.live.store import Store
from components.scoring.score_settings import ScoreSettings
from components.sources.export_format import ExportFormat
from tests.fake_grafana import FakeGrafana, ScrapedSeries

TOKEN = "glsa_collector_test"


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path}/live.db") as live:
        live.init()
        yield live


def _export(path, start: str, rows: int) -> None:
    times = pd.date_range(start, periods=rows, freq="60s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"timestamp": times, "Current": np.arange(rows, dtype=float), "flow": 2.0}).to_csv(path, index=False)


def _aged(path, seconds: float = 60.0) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_a_folder_s_new_exports_are_each_read_once_after_they_settled(store, tmp_path, caplog):
    folder = tmp_path / "incoming"
    folder.mkdir()
    settings = ScoreSettings(model_uri="", tracking_uri="", export_format=ExportFormat(delimiter=","), duplicate_rule="mean",
                             asset_pattern=r"^(?P<asset>[^_]+)__")
    source = FolderSource(glob=str(folder / "*.csv"), settle_s=5.0)
    _export(folder / "pump-1__a.csv", "2026-03-01", 30)
    collector = FolderCollector(source, settings)
    assert collector.collect(store) == 0  # just written: perhaps still being written
    _aged(folder / "pump-1__a.csv")
    assert collector.collect(store) == 30
    assert collector.collect(store) == 0
    (folder / "pump-2__b.csv").write_text("timestamp,Current\nnot a time,1\n")
    _export(folder / "pump-2__c.csv", "2026-03-01", 10)
    for name in ("pump-2__b.csv", "pump-2__c.csv"):
        _aged(folder / name)
    caplog.set_level(logging.ERROR, logger="anomflow.watch")
    assert FolderCollector(source, settings).collect(store) == 10  # a restarted watcher: a is not read again
    assert "pump-2__b.csv: not read" in caplog.text and (folder / "pump-2__b.csv").exists()
    assert FolderCollector(source, settings).collect(store) == 0  # the bad file is not retried every poll
    rows = store.readings_after(0, 100)
    assert [r.asset for r in rows] == ["pump-1"] * 30 + ["pump-2"] * 10
    assert rows[3].sensors == {"current": 3.0, "flow": 2.0} and rows[0].ts == pd.Timestamp("2026-03-01T00:00:00Z")


def test_grafana_is_polled_from_where_the_last_poll_ended(store, monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    now_ms = int(time.time() * 1000)
    series = {expr: ScrapedSeries("A", now_ms - 86_400_000, now_ms + 86_400_000, 15_000, labels={"__name__": expr})
              for expr in ("current", "flow")}
    queries = [{"refId": "A", "datasource": {"uid": "prom"}, "expr": "current"}, {"refId": "B", "datasource": {"uid": "prom"}, "expr": "flow"}]
    with FakeGrafana(token=TOKEN, responses=series) as grafana:
        source = GrafanaPollSource(url=grafana.url, asset="pump-7", queries=queries, interval_s=60, every_s=0.01, start="now-30m")
        first = GrafanaCollector(source).collect(store)
        assert 29 <= first <= 31
        time.sleep(0.05)
        again = GrafanaCollector(source).collect(store)  # a new process: from the stored last time on
        assert again <= 1
        last_from = int(grafana.requests[-1]["from"])
    rows = store.readings_after(0, 1000)
    times = [r.ts for r in rows]
    assert times == sorted(set(times)) and all(b - a == pd.Timedelta(minutes=1) for a, b in zip(times, times[1:]))
    assert set(rows[0].sensors) == {"current", "flow"} and {r.asset for r in rows} == {"pump-7"}
    assert last_from == int(times[first - 1].value // 1_000_000) + 1
