"""The dashboard's logic with Streamlit's app testing: the fleet shows every asset's alarm
(a stale feed as stale), the asset view its score, sensors and top sensors, and an
acknowledgement made in the alerts view lands in the store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.dashboard.config import APP, STORE_ENV
from components.live.store import Store
from components.live.watcher import Watcher
from tests.live.helpers import insert, interleave, loaded, readings



@pytest.fixture
def store_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path}/live.db"
    with Store(url) as store:
        store.init()
        insert(store, interleave(readings(200, asset="pump-1"), readings(200, asset="pump-2", seed=4, faults=())))
        watcher = Watcher(store, loaded())
        watcher.restore()
        watcher.process_batch()
    monkeypatch.setenv(STORE_ENV, url)
    return url


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()


def test_the_fleet_view_lists_every_asset_with_its_alarm(store_url):
    at = _app()
    assert not at.exception
    (table,) = at.dataframe
    shown = table.value
    assert sorted(shown["asset"]) == ["pump-1", "pump-2"]
    assert {m.label: m.value for m in at.metric} == {"critical": "0", "warning": "0", "normal": "2", "stale": "0"}
    assert "anomflow-detector/1" in " ".join(m.value for m in at.sidebar.markdown)


def test_a_feed_that_stopped_is_shown_stale_not_normal(store_url, monkeypatch):
    with Store(store_url) as store:
        store.execute("UPDATE assets SET scored_at = '2026-01-01T00:00:00.000000Z' WHERE asset = 'pump-2'")
    at = _app()
    shown = at.dataframe[0].value.set_index("asset")
    assert shown.loc["pump-2", "alarm"] == "stale" and shown.loc["pump-1", "alarm"] != "stale"
    assert {m.label: m.value for m in at.metric}["stale"] == "1"


def test_the_asset_view_keeps_the_chosen_asset_and_shows_its_charts(store_url):
    at = _app()
    at.sidebar.radio(key="view").set_value("Asset").run()
    at.selectbox(key="asset").select("pump-1").run()
    assert not at.exception
    assert at.selectbox(key="asset").value == "pump-1"
    assert set(at.multiselect(key="sensors").value) <= {"x0", "x1", "x2"} and at.multiselect(key="sensors").value  # its top sensors
    at.multiselect(key="sensors").set_value(["x1"]).run()
    assert at.selectbox(key="asset").value == "pump-1" and at.multiselect(key="sensors").value == ["x1"]
    assert "pump-1" in " ".join(m.value for m in at.markdown)


def test_an_acknowledgement_in_the_alerts_view_lands_in_the_store(store_url):
    with Store(store_url) as store:
        (alert, *_) = store.alerts()
    at = _app()
    at.sidebar.radio(key="view").set_value("Alerts").run()
    at.selectbox(key="ack_alert").select(alert["id"]).run()
    at.button(key="ack_confirmed").click().run()
    assert "enter your name first" in " ".join(w.value for w in at.warning)
    at.text_input(key="ack_by").input("ana").run()
    at.button(key="ack_confirmed").click().run()
    assert not at.exception
    with Store(store_url) as store:
        acked = store.alert(alert["id"])
    assert (acked["ack"], acked["ack_by"]) == ("confirmed", "ana") and acked["ack_at"] <= pd.Timestamp.now(tz="UTC")
    assert f"alert #{alert['id']} acknowledged as confirmed by ana" in " ".join(s.value for s in at.success)


def test_kpis_carry_their_units_and_follow_the_sensors_physics():
    from components.dashboard.config import KpiConfig
    from components.dashboard.data import kpis

    import numpy as np

    times = pd.date_range("2026-01-01", periods=240, freq="60s", tz="UTC")
    minutes = np.arange(240)
    frame = pd.DataFrame({
        "ts": times, "motor_temperature": 40.0 + minutes / 100, "vibration_rms": 3.0 + np.sin(2 * np.pi * minutes / 30),  # a 30-minute cycle
        "current": 20.0, "voltage": 400.0, "power_factor": 0.9,
    })
    shown = {k.label: k.value for k in kpis(frame, KpiConfig())}
    assert shown["temperature"] == "42.4 °C"
    assert shown["vibration"].endswith(" mm/s")
    assert shown["dominant vibration frequency"] == "2.00 /h"
    assert shown["energy"] == f"{20 * 400 * 0.9 * 239 / 60 / 1000:,.1f} kWh"  # 7.2 kW for 239 minutes
    assert {k.label for k in kpis(frame.drop(columns=["current"]), KpiConfig())} == {"temperature", "vibration", "dominant vibration frequency"}
    three = {k.label: k.value for k in kpis(frame, KpiConfig(three_phase=True))}
    assert three["energy"] == f"{np.sqrt(3) * 20 * 400 * 0.9 * 239 / 60 / 1000:,.1f} kWh"


def test_every_dashboard_query_reads_through_an_index(tmp_path):
    """EXPLAIN QUERY PLAN of each read: no full scan of readings, scores or alerts, so a
    refresh costs the same however long the store's history is."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.dashboard_refresh import fill, query_plans

    with Store(f"sqlite:///{tmp_path}/live.db") as store:
        store.init()
        fill(store, assets=3, days=0.1)
        plans = query_plans(store)
    assert set(plans) == {"fleet", "asset readings", "asset scores", "asset last time", "alerts"}
    for name, plan in plans.items():  # the fleet scans `assets` (alias s): one row an asset; alerts walk an index to LIMIT 100
        scans = [part for part in plan.split("; ") if part.startswith("SCAN ") and part.split()[1] != "s" and "USING" not in part]
        assert not scans and "TEMP B-TREE" not in plan, (name, plan)


def test_a_store_scored_by_a_fleet_router_shows_the_fleet_and_each_assets_own_levels(tmp_path, monkeypatch):
    import json

    from components.live.champion import LoadedModel
    from components.registry.fleet_router import FleetRouter, fleet_map
    from tests.live.helpers import served_model

    groups = {"line-a": ["pump-1"], "line-b": ["pump-3"]}
    router = FleetRouter()
    router.setup(fleet_map("anomflow-detector", "line", groups, {g: f"anomflow-detector-{g}" for g in groups}),
                 {"line-a": ("anomflow-detector-line-a/1", served_model(variance=0.9)), "line-b": ("anomflow-detector-line-b/1", served_model(variance=0.5))})
    url = f"sqlite:///{tmp_path}/live.db"
    with Store(url) as store:
        store.init()
        insert(store, interleave(readings(200, asset="pump-1"), readings(200, asset="pump-3", seed=4, faults=())))
        watcher = Watcher(store, LoadedModel("anomflow-detector/2[anomflow-detector-line-a/1,anomflow-detector-line-b/1]", router))
        watcher.restore()
        watcher.process_batch()
    monkeypatch.setenv(STORE_ENV, url)
    at = _app()
    assert not at.exception and "fleet of 2 group models" in " ".join(m.value for m in at.sidebar.markdown)
    at.sidebar.radio(key="view").set_value("Asset").run()
    at.selectbox(key="asset").select("pump-3").run()
    assert not at.exception
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    drawn = {round(s["y0"], 9) for s in figure["layout"]["shapes"] if s.get("y0") == s.get("y1")}  # the level lines
    own, other = (router.members[g][1].levels_of("") for g in ("line-b", "line-a"))
    assert {round(own["warning"], 9), round(own["critical"], 9)} <= drawn and round(other["warning"], 9) not in drawn
